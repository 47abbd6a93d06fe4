//! The values that flow between nodes: float tensors of any rank up to six, or small integer
//! vectors (shapes, axes) computed from the graph.

use burn::tensor::{Device, Tensor, TensorData};

/// The highest tensor rank the importer handles.
pub const MAX_RANK: usize = 6;

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
    /// A small integer vector (a shape, axes, indices), kept on the host.
    Ints(Vec<i64>),
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

    /// The logical shape of a float value (the length of an integer vector for `Ints`).
    pub fn shape(&self) -> Vec<usize> {
        match self {
            Value::Float { tensor, rank } => tensor.dims()[MAX_RANK - rank..].to_vec(),
            Value::Ints(v) => vec![v.len()],
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
