//! The values that flow between nodes: float tensors of any rank up to six on the device, or
//! small integer tensors (shapes, axes, indices) computed on the host.

use burn::tensor::{Device, Tensor, TensorData};

/// The highest tensor rank the importer handles.
pub const MAX_RANK: usize = 6;

/// A small integer tensor kept on the host: a shape, axes, indices, a mask.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ints {
    /// Its shape (`[]` for a scalar).
    pub shape: Vec<usize>,
    /// Its values, row-major.
    pub data: Vec<i64>,
}

impl Ints {
    /// A vector.
    pub fn vector(data: Vec<i64>) -> Self {
        Self {
            shape: vec![data.len()],
            data,
        }
    }

    /// A tensor of `shape`, checked to hold as many values as the shape says.
    pub fn new(shape: Vec<usize>, data: Vec<i64>) -> Result<Self, String> {
        if shape.iter().product::<usize>() != data.len() {
            return Err(format!(
                "{} integers do not fill the shape {shape:?}",
                data.len()
            ));
        }
        Ok(Self { shape, data })
    }
}

/// A value on a graph edge.
// Almost every value is a float tensor; boxing it would add an allocation per node.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Value {
    /// A float tensor of logical rank `rank`, stored left-padded with ones to rank six, so that
    /// ONNX's right-aligned broadcasting is Burn's same-rank broadcasting.
    Float {
        /// The tensor, `[1, .., 1, d0, .., d(rank-1)]`.
        tensor: Tensor<MAX_RANK>,
        /// The logical rank.
        rank: usize,
    },
    /// An integer (or boolean) tensor, kept on the host.
    Ints(Ints),
}

impl Value {
    /// A float value from a tensor of any rank up to six.
    ///
    /// # Shapes
    /// - tensor: `[d0, .., d(D-1)]`, D at most six
    pub fn from_tensor<const D: usize>(tensor: Tensor<D>) -> Self {
        let dims = tensor.dims();
        Value::Float {
            tensor: tensor.reshape(pad_dims(&dims)),
            rank: D,
        }
    }

    /// A float value from host data.
    pub fn from_floats(shape: &[usize], values: Vec<f32>, device: &Device) -> Self {
        let padded = pad_dims(shape);
        Value::Float {
            tensor: Tensor::from_data(TensorData::new(values, padded.to_vec()), device),
            rank: shape.len(),
        }
    }

    /// Reshapes a six-dimensional tensor to the given logical shape.
    ///
    /// # Shapes
    /// - tensor: `[any; 6]`, as many elements as `shape`
    pub fn reshaped(tensor: Tensor<MAX_RANK>, shape: &[usize]) -> Self {
        Value::Float {
            tensor: tensor.reshape(pad_dims(shape)),
            rank: shape.len(),
        }
    }

    /// The logical shape.
    pub fn shape(&self) -> Vec<usize> {
        match self {
            Value::Float { tensor, rank } => tensor.dims()[MAX_RANK - rank..].to_vec(),
            Value::Ints(v) => v.shape.clone(),
        }
    }

    /// The values of a float tensor, read back to the host (a device synchronisation: for
    /// load-time constants and rare run-time parameters only).
    pub fn host_floats(&self) -> Result<Vec<f32>, String> {
        match self {
            Value::Float { tensor, .. } => tensor
                .clone()
                .into_data()
                .convert::<f32>()
                .try_to_vec::<f32>()
                .map_err(|e| format!("cannot read a tensor back: {e:?}")),
            Value::Ints(v) => Ok(v.data.iter().map(|&x| x as f32).collect()),
        }
    }
}

/// Left-pads a shape with ones to rank six.
pub fn pad_dims(shape: &[usize]) -> [usize; MAX_RANK] {
    assert!(
        shape.len() <= MAX_RANK,
        "rank {} is above {MAX_RANK}",
        shape.len()
    );
    let mut out = [1; MAX_RANK];
    out[MAX_RANK - shape.len()..].copy_from_slice(shape);
    out
}

/// What is known of a value before the model runs: a float tensor's shape, or an integer
/// tensor with its values (integers come from weights and shapes, so they are always known).
#[derive(Clone, Debug, PartialEq)]
pub enum Meta {
    /// A float tensor of this shape.
    Float(Vec<usize>),
    /// An integer tensor, whose values are known.
    Ints(Ints),
}

impl Meta {
    /// What is known of a value that exists (a weight, a constant, an activation).
    pub fn of(value: &Value) -> Self {
        match value {
            Value::Float { .. } => Meta::Float(value.shape()),
            Value::Ints(v) => Meta::Ints(v.clone()),
        }
    }

    /// The shape.
    pub fn shape(&self) -> Vec<usize> {
        match self {
            Meta::Float(s) => s.clone(),
            Meta::Ints(v) => v.shape.clone(),
        }
    }
}
