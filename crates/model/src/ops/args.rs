//! What an operator reads: its operands at run time ([`Args`] of values), at load time
//! ([`Args`] of metas), and its constant inputs while it is parsed ([`Ctx`]).

use std::collections::HashMap;

use burn::tensor::{Device, Tensor};
use onnx_ir::NodeProto;

use crate::onnx_file::Attributes;
use crate::value::{Ints, MAX_RANK, Meta, Value};

/// What every operand kind tells: its shape, and its integers when it holds some.
pub trait Operand {
    /// The logical shape.
    fn dims(&self) -> Vec<usize>;
    /// The integer tensor, when the operand is one.
    fn as_ints(&self) -> Option<&Ints>;
}

impl Operand for Value {
    fn dims(&self) -> Vec<usize> {
        self.shape()
    }
    fn as_ints(&self) -> Option<&Ints> {
        match self {
            Value::Ints(v) => Some(v),
            Value::Float { .. } => None,
        }
    }
}

impl Operand for Meta {
    fn dims(&self) -> Vec<usize> {
        self.shape()
    }
    fn as_ints(&self) -> Option<&Ints> {
        match self {
            Meta::Ints(v) => Some(v),
            Meta::Float(_) => None,
        }
    }
}

/// The operands of one node (`None` for an omitted optional input).
#[derive(Clone, Copy)]
pub struct Args<'a, T> {
    items: &'a [Option<&'a T>],
}

impl<'a, T: Operand> Args<'a, T> {
    /// Wraps a node's operands.
    pub fn new(items: &'a [Option<&'a T>]) -> Self {
        Self { items }
    }

    /// The number of operand slots (given or omitted).
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Operand `i`, or the error that it is missing.
    pub fn get(&self, i: usize) -> Result<&'a T, String> {
        self.opt(i).ok_or_else(|| format!("input {i} is missing"))
    }

    /// Operand `i` when given.
    pub fn opt(&self, i: usize) -> Option<&'a T> {
        self.items.get(i).copied().flatten()
    }

    /// The given operands, in order.
    pub fn present(&self) -> impl Iterator<Item = &'a T> + 'a {
        self.items.iter().copied().flatten()
    }

    /// Whether every given operand is an integer tensor (and at least one is given).
    pub fn all_ints(&self) -> bool {
        self.present().next().is_some() && self.present().all(|v| v.as_ints().is_some())
    }

    /// Integer operand `i`.
    pub fn ints(&self, i: usize) -> Result<&'a Ints, String> {
        self.get(i)?
            .as_ints()
            .ok_or_else(|| format!("input {i} must be an integer tensor"))
    }

    /// Integer operand `i` when given.
    pub fn opt_ints(&self, i: usize) -> Result<Option<&'a Ints>, String> {
        match self.opt(i) {
            None => Ok(None),
            Some(_) => self.ints(i).map(Some),
        }
    }
}

impl<'a> Args<'a, Meta> {
    /// The shape of float operand `i`, which must not be empty.
    pub fn float(&self, i: usize) -> Result<Vec<usize>, String> {
        match self.get(i)? {
            Meta::Float(s) if s.contains(&0) => Err(format!("input {i} is an empty tensor")),
            Meta::Float(s) => Ok(s.clone()),
            Meta::Ints(_) => Err(format!("input {i} must be a float tensor")),
        }
    }

    /// The shape of float operand `i`, which must be an image batch.
    pub fn nchw(&self, i: usize) -> Result<[usize; 4], String> {
        let s = self.float(i)?;
        <[usize; 4]>::try_from(s.as_slice())
            .map_err(|_| format!("expected an NCHW tensor, got shape {s:?}"))
    }
}

impl<'a> Args<'a, Value> {
    /// The device of the first float operand.
    pub fn float_device(&self) -> Option<Device> {
        self.present().find_map(|v| match v {
            Value::Float { tensor, .. } => Some(tensor.device()),
            Value::Ints(_) => None,
        })
    }

    /// Float operand `i` (stored at rank six) and its logical rank.
    pub fn float(&self, i: usize) -> Result<(Tensor<MAX_RANK>, usize), String> {
        match self.get(i)? {
            Value::Float { tensor, rank } => Ok((tensor.clone(), *rank)),
            Value::Ints(_) => Err(format!("input {i} must be a float tensor")),
        }
    }

    /// Float operand `i` as an NCHW tensor.
    ///
    /// # Shapes
    /// - output: `[N, C, H, W]`
    pub fn nchw(&self, i: usize) -> Result<Tensor<4>, String> {
        self.fixed::<4>(i)
    }

    /// Float operand `i` as a tensor of rank `D`, which must be its logical rank.
    pub fn fixed<const D: usize>(&self, i: usize) -> Result<Tensor<D>, String> {
        let v = self.get(i)?;
        match v {
            Value::Float { tensor, rank } if *rank == D => {
                let s = v.shape();
                Ok(tensor
                    .clone()
                    .reshape::<D, [usize; D]>(std::array::from_fn(|j| s[j])))
            }
            _ => Err(format!(
                "input {i} must be a float tensor of rank {D}, got shape {:?}",
                v.shape()
            )),
        }
    }
}

/// A float tensor (stored at rank six) of `v` and its logical rank; integers are converted
/// on `device`.
pub fn float_of(v: &Value, device: &Device) -> (Tensor<MAX_RANK>, usize) {
    match v {
        Value::Float { tensor, rank } => (tensor.clone(), *rank),
        Value::Ints(i) => {
            let data: Vec<f32> = i.data.iter().map(|&x| x as f32).collect();
            (
                Tensor::from_data(
                    burn::tensor::TensorData::new(data, crate::value::pad_dims(&i.shape).to_vec()),
                    device,
                ),
                i.shape.len(),
            )
        }
    }
}

/// One node while it is parsed: its attributes, opset, and the constant values of the
/// inputs known at load (weights and folded constants).
pub struct Ctx<'a> {
    /// The node.
    pub node: &'a NodeProto,
    /// Its attributes.
    pub attrs: Attributes<'a>,
    /// The model's default-domain opset.
    pub opset: i64,
    /// Constant values by tensor name.
    pub constants: &'a HashMap<String, Value>,
    /// Where new tensors are made.
    pub device: &'a Device,
}

impl<'a> Ctx<'a> {
    /// The constant value of input `i`, when it is known at load.
    pub fn constant(&self, i: usize) -> Option<&'a Value> {
        self.node
            .input
            .get(i)
            .filter(|n| !n.is_empty())
            .and_then(|n| self.constants.get(n))
    }

    /// Whether input `i` is given.
    pub fn has_input(&self, i: usize) -> bool {
        self.node.input.get(i).is_some_and(|n| !n.is_empty())
    }

    /// The values of constant input `i` as floats (`None` when not given or not constant).
    pub fn const_floats(&self, i: usize) -> Result<Option<Vec<f32>>, String> {
        self.constant(i).map(Value::host_floats).transpose()
    }

    /// A scalar input: `default` when omitted, an error when given but not constant.
    pub fn const_scalar(&self, i: usize, default: f32) -> Result<f32, String> {
        if !self.has_input(i) {
            return Ok(default);
        }
        match self.const_floats(i)? {
            Some(v) if v.len() == 1 => Ok(v[0]),
            _ => Err(format!("input {i} must be a constant scalar")),
        }
    }
}

/// Resolves a possibly negative axis against `rank`.
pub fn normalize_axis(axis: i64, rank: usize) -> Result<usize, String> {
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    if (0..r).contains(&a) {
        Ok(a as usize)
    } else {
        Err(format!("axis {axis} is out of range for rank {rank}"))
    }
}

/// Resolves a list of axes against `rank`: sorted, each once.
pub fn normalize_axes(axes: &[i64], rank: usize) -> Result<Vec<usize>, String> {
    let mut out: Vec<usize> = axes
        .iter()
        .map(|&a| normalize_axis(a, rank))
        .collect::<Result<_, _>>()?;
    out.sort_unstable();
    if out.windows(2).any(|w| w[0] == w[1]) {
        return Err(format!("the axes {axes:?} repeat"));
    }
    Ok(out)
}
