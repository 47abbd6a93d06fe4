//! Reading the ONNX protobuf: the model file, its tensors and node attributes.
//!
//! Decoding uses the ONNX bindings of `onnx-ir`; the graph is then interpreted by this crate
//! so that layer names stay exactly as the ONNX file spells them.

use std::path::Path;

use onnx_ir::{AttributeProto, Message, ModelProto, NodeProto, TensorProto};

use crate::error::{ModelError, Result};

/// The largest tensor (in elements) a model file may declare: 1 G elements (4 GiB of f32).
pub const MAX_TENSOR_ELEMENTS: usize = 1 << 30;

/// ONNX `TensorProto.DataType` codes this crate reads.
const FLOAT: i32 = 1;
const INT32: i32 = 6;
const INT64: i32 = 7;
const DOUBLE: i32 = 11;
/// ONNX `TensorProto.DataLocation.EXTERNAL`.
const DATA_LOCATION_EXTERNAL: i32 = 1;

/// Reads and decodes an ONNX file.
pub fn read_model(path: &Path) -> Result<ModelProto> {
    let bytes = std::fs::read(path).map_err(|source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    decode_model(&bytes).map_err(|reason| ModelError::Parse {
        path: path.to_path_buf(),
        reason,
    })
}

/// Decodes ONNX bytes; the error is the decoder's reason.
pub fn decode_model(bytes: &[u8]) -> std::result::Result<ModelProto, String> {
    if bytes.is_empty() {
        return Err("the file is empty".into());
    }
    ModelProto::parse_from_bytes(bytes).map_err(|e| e.to_string())
}

/// A tensor read from the file: its shape and values, as floats or integers.
#[derive(Debug, Clone, PartialEq)]
pub enum RawTensor {
    /// Floating-point values (f32 or f64 in the file).
    Float(Vec<usize>, Vec<f32>),
    /// Integer values (int32 or int64 in the file).
    Int(Vec<usize>, Vec<i64>),
}

impl RawTensor {
    /// The integer values, when the tensor holds integers.
    pub fn ints(&self) -> Option<&[i64]> {
        match self {
            RawTensor::Int(_, v) => Some(v),
            RawTensor::Float(..) => None,
        }
    }
}

/// Decodes a `TensorProto` (inline data; `base_dir` resolves external data).
pub fn read_tensor(
    t: &TensorProto,
    base_dir: Option<&Path>,
) -> std::result::Result<RawTensor, String> {
    let mut shape = Vec::with_capacity(t.dims.len());
    let mut count: usize = 1;
    for &d in &t.dims {
        let d = usize::try_from(d)
            .map_err(|_| format!("tensor `{}` has a negative dimension {d}", t.name))?;
        count = count
            .checked_mul(d)
            .filter(|&c| c <= MAX_TENSOR_ELEMENTS)
            .ok_or_else(|| format!("tensor `{}` is too large ({:?})", t.name, t.dims))?;
        shape.push(d);
    }
    let external;
    let raw: &[u8] = if t.data_location.value() == DATA_LOCATION_EXTERNAL {
        external = read_external(t, base_dir)?;
        &external
    } else {
        &t.raw_data[..]
    };
    let check = |n: usize| {
        if n == count {
            Ok(())
        } else {
            Err(format!(
                "tensor `{}` holds {n} values for shape {shape:?}",
                t.name
            ))
        }
    };
    match t.data_type {
        FLOAT => {
            let values: Vec<f32> = if raw.is_empty() {
                t.float_data.clone()
            } else {
                raw.chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect()
            };
            check(values.len())?;
            Ok(RawTensor::Float(shape, values))
        }
        DOUBLE => {
            let values: Vec<f32> = if raw.is_empty() {
                t.double_data.iter().map(|&v| v as f32).collect()
            } else {
                raw.chunks_exact(8)
                    .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")) as f32)
                    .collect()
            };
            check(values.len())?;
            Ok(RawTensor::Float(shape, values))
        }
        INT64 => {
            let values: Vec<i64> = if raw.is_empty() {
                t.int64_data.clone()
            } else {
                raw.chunks_exact(8)
                    .map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")))
                    .collect()
            };
            check(values.len())?;
            Ok(RawTensor::Int(shape, values))
        }
        INT32 => {
            let values: Vec<i64> = if raw.is_empty() {
                t.int32_data.iter().map(|&v| i64::from(v)).collect()
            } else {
                raw.chunks_exact(4)
                    .map(|b| i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])))
                    .collect()
            };
            check(values.len())?;
            Ok(RawTensor::Int(shape, values))
        }
        other => Err(format!(
            "tensor `{}` has ONNX data type {other}; only float, double, int32 and int64 are supported",
            t.name
        )),
    }
}

fn read_external(t: &TensorProto, base_dir: Option<&Path>) -> std::result::Result<Vec<u8>, String> {
    let mut location = None;
    let mut offset = 0u64;
    let mut length = None;
    for entry in &t.external_data {
        match entry.key.as_str() {
            "location" => location = Some(entry.value.to_string()),
            "offset" => {
                offset = entry
                    .value
                    .parse()
                    .map_err(|_| "bad external-data offset".to_string())?
            }
            "length" => {
                length = Some(
                    entry
                        .value
                        .parse::<u64>()
                        .map_err(|_| "bad external-data length".to_string())?,
                )
            }
            _ => {}
        }
    }
    let location = location
        .ok_or_else(|| format!("tensor `{}` has external data without a location", t.name))?;
    let path = base_dir
        .map(|d| d.join(&location))
        .unwrap_or_else(|| location.clone().into());
    let bytes = std::fs::read(&path).map_err(|e| {
        format!(
            "tensor `{}` keeps its data in the external file {}, which cannot be read: {e}",
            t.name,
            path.display()
        )
    })?;
    let start =
        usize::try_from(offset).map_err(|_| "external-data offset too large".to_string())?;
    let end = match length {
        Some(len) => start.saturating_add(usize::try_from(len).unwrap_or(usize::MAX)),
        None => bytes.len(),
    };
    bytes.get(start..end).map(<[u8]>::to_vec).ok_or_else(|| {
        format!(
            "external file {} is shorter than tensor `{}` needs",
            path.display(),
            t.name
        )
    })
}

/// Typed access to a node's attributes.
pub struct Attributes<'a> {
    node: &'a NodeProto,
}

impl<'a> Attributes<'a> {
    /// Wraps a node.
    pub fn of(node: &'a NodeProto) -> Self {
        Self { node }
    }

    fn find(&self, name: &str) -> Option<&'a AttributeProto> {
        self.node.attribute.iter().find(|a| a.name == name)
    }

    /// An integer attribute, or `default`.
    pub fn int(&self, name: &str, default: i64) -> i64 {
        self.find(name).map_or(default, |a| a.i)
    }

    /// A float attribute, or `default`.
    pub fn float(&self, name: &str, default: f32) -> f32 {
        self.find(name).map_or(default, |a| a.f)
    }

    /// An integer-list attribute, if present.
    pub fn ints(&self, name: &str) -> Option<Vec<i64>> {
        self.find(name).map(|a| a.ints.clone())
    }

    /// A string attribute, or `default`.
    pub fn string(&self, name: &str, default: &str) -> String {
        self.find(name)
            .map(|a| String::from_utf8_lossy(&a.s).into_owned())
            .unwrap_or_else(|| default.to_string())
    }

    /// A tensor attribute, if present.
    pub fn tensor(&self, name: &str) -> Option<&'a TensorProto> {
        self.find(name).and_then(|a| a.t.as_ref())
    }
}
