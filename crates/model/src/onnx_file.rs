//! Reading the ONNX protobuf: the model file, its tensors and node attributes.
//!
//! Decoding uses the ONNX bindings of `onnx-ir`; the graph is then interpreted by this crate
//! so that layer names stay exactly as the ONNX file spells them.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use excite_core::files::{read_limited, resolve_inside};
use onnx_ir::{AttributeProto, Message, ModelProto, NodeProto, TensorProto};

use crate::error::{ModelError, Result};
use crate::value::MAX_RANK;

/// The largest tensor (in elements) a model file may declare: 1 G elements (4 GiB of f32).
pub const MAX_TENSOR_ELEMENTS: usize = 1 << 30;

/// ONNX `TensorProto.DataType` codes this crate reads.
const FLOAT: i32 = 1;
const INT32: i32 = 6;
const INT64: i32 = 7;
const DOUBLE: i32 = 11;
const UINT8: i32 = 2;
const INT8: i32 = 3;
const BOOL: i32 = 9;
/// ONNX `TensorProto.DataLocation.EXTERNAL`.
const DATA_LOCATION_EXTERNAL: i32 = 1;

/// The largest model file read: 4 GiB (protobuf's own limit is 2 GiB).
const MAX_MODEL_BYTES: u64 = 4 << 30;

/// Reads an ONNX file (a regular file of at most 4 GiB) and decodes it; returns the decoded
/// model and the file's bytes.
pub fn read_model(path: &Path) -> Result<(ModelProto, Vec<u8>)> {
    let bytes = read_limited(path, MAX_MODEL_BYTES).map_err(|e| match e {
        excite_core::Error::Io { source, .. } => ModelError::Io {
            path: path.to_path_buf(),
            source,
        },
        other => ModelError::Parse {
            path: path.to_path_buf(),
            reason: other.to_string(),
        },
    })?;
    let proto = decode_model(&bytes).map_err(|reason| ModelError::Parse {
        path: path.to_path_buf(),
        reason,
    })?;
    Ok((proto, bytes))
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

/// Decodes a `TensorProto` (inline data; `base_dir` resolves external data).
pub fn read_tensor(
    t: &TensorProto,
    base_dir: Option<&Path>,
) -> std::result::Result<RawTensor, String> {
    if t.dims.len() > MAX_RANK {
        return Err(format!(
            "tensor `{}` has rank {}; at most {MAX_RANK} is supported",
            t.name,
            t.dims.len()
        ));
    }
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
        let width = match t.data_type {
            UINT8 | INT8 | BOOL => 1,
            FLOAT | INT32 => 4,
            DOUBLE | INT64 => 8,
            _ => 0,
        };
        external = read_external(t, base_dir, count * width)?;
        &external
    } else {
        &t.raw_data[..]
    };
    let tensor = decode(t, raw, shape, count)?;
    match &tensor {
        // A scalar may be infinite (an open Clip bound); weights never are, nor NaN.
        RawTensor::Float(_, values)
            if values.len() > 1 && values.iter().any(|v| !v.is_finite()) =>
        {
            Err(format!("tensor `{}` holds NaN or infinite values", t.name))
        }
        RawTensor::Float(_, values) if values.iter().any(|v| v.is_nan()) => {
            Err(format!("tensor `{}` holds NaN", t.name))
        }
        _ => Ok(tensor),
    }
}

/// The values of `t` from its raw bytes (or its typed fields when there are none), checked
/// against the element count of its shape.
fn decode(
    t: &TensorProto,
    raw: &[u8],
    shape: Vec<usize>,
    count: usize,
) -> std::result::Result<RawTensor, String> {
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
        UINT8 | BOOL | INT8 => {
            // Bytes in raw data; int32_data otherwise (the ONNX rule for small integer types).
            let values: Vec<i64> = if raw.is_empty() {
                t.int32_data.iter().map(|&v| i64::from(v)).collect()
            } else if t.data_type == INT8 {
                raw.iter().map(|&b| i64::from(b as i8)).collect()
            } else {
                raw.iter().map(|&b| i64::from(b)).collect()
            };
            check(values.len())?;
            Ok(RawTensor::Int(shape, values))
        }
        other => Err(format!(
            "tensor `{}` has ONNX data type {other}; only float, double and integer types are supported",
            t.name
        )),
    }
}

/// The bytes of a tensor kept in an external file: `expected` bytes at the entry's offset of a
/// regular file inside `base_dir` (see [`resolve_inside`]).
fn read_external(
    t: &TensorProto,
    base_dir: Option<&Path>,
    expected: usize,
) -> std::result::Result<Vec<u8>, String> {
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
    let name = &t.name;
    let location =
        location.ok_or_else(|| format!("tensor `{name}` has external data without a location"))?;
    let refused = |why: String| format!("tensor `{name}` keeps its data in `{location}`: {why}");
    let base_dir = base_dir.ok_or_else(|| refused("no model folder to find it in".into()))?;
    let path = resolve_inside(base_dir, &location).map_err(|e| refused(e.to_string()))?;
    if length.is_some_and(|l| l != expected as u64) {
        return Err(refused(format!(
            "its length {length:?} is not the {expected} bytes of the tensor's shape"
        )));
    }
    let mut file = std::fs::File::open(&path).map_err(|e| refused(e.to_string()))?;
    let size = file.metadata().map_err(|e| refused(e.to_string()))?.len();
    if offset.saturating_add(expected as u64) > size {
        return Err(refused(format!(
            "the file has {size} bytes, the tensor needs {expected} from offset {offset}"
        )));
    }
    file.seek(SeekFrom::Start(offset))
        .map_err(|e| refused(e.to_string()))?;
    let mut bytes = vec![0; expected];
    file.read_exact(&mut bytes)
        .map_err(|e| refused(e.to_string()))?;
    Ok(bytes)
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

    /// A float attribute, or `default`; NaN is an error.
    pub fn float(&self, name: &str, default: f32) -> std::result::Result<f32, String> {
        match self.find(name).map_or(default, |a| a.f) {
            v if v.is_nan() => Err(format!("attribute `{name}` is NaN")),
            v => Ok(v),
        }
    }

    /// An integer-list attribute, if present.
    pub fn ints(&self, name: &str) -> Option<Vec<i64>> {
        self.find(name).map(|a| a.ints.clone())
    }

    /// A float-list attribute, if present.
    pub fn floats(&self, name: &str) -> Option<Vec<f32>> {
        self.find(name).map(|a| a.floats.clone())
    }

    /// Whether the attribute is present.
    pub fn has(&self, name: &str) -> bool {
        self.find(name).is_some()
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
