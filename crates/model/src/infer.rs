//! Static shape inference: every node's output shapes (and, for shape arithmetic, its integer
//! values) and the layout of 4-D activations, from the declared input shape and the weights,
//! with each op's operands checked — before any activation exists. Loading runs it, so a
//! malformed model is refused at load with an error naming the node, and `layers` lists
//! shapes without running the model.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use excite_core::error::panic_text;

use crate::error::ModelError;
use crate::graph::Node;
use crate::layout::Layout;
use crate::onnx_file::MAX_TENSOR_ELEMENTS;
use crate::ops::{Args, Kernel, Outputs};
use crate::value::{MAX_RANK, Meta, Value};

/// What is known of one tensor after inference.
#[derive(Clone, Debug, PartialEq)]
pub struct Known {
    /// Its shape and integer values.
    pub meta: Meta,
    /// Where the channels are, for a 4-D float tensor that flows from the input.
    pub layout: Option<Layout>,
    /// Whether its values depend on the input's values (not only on its shape).
    pub from_input: bool,
}

/// What inference found: every computable tensor, and for each tensor that cannot be
/// computed, the unsupported node it depends on.
#[derive(Debug, Default)]
pub struct Inferred {
    /// Known tensors by name.
    pub known: HashMap<String, Known>,
    /// Tensors that depend on an unsupported op, with that op's node name.
    pub blocked: HashMap<String, String>,
}

/// Infers every node in order, given the graph input (name, shape, layout) and the weights.
/// An unsupported node blocks its outputs and everything computed from them; any other node
/// whose operands do not fit is the error.
pub fn infer_graph(
    nodes: &[Node],
    weights: &HashMap<String, Value>,
    input: (&str, Meta, Layout),
) -> Result<Inferred, ModelError> {
    let mut known: HashMap<String, Known> = weights
        .iter()
        .map(|(name, value)| {
            (
                name.clone(),
                Known {
                    meta: Meta::of(value),
                    layout: None,
                    from_input: false,
                },
            )
        })
        .collect();
    known.insert(
        input.0.to_string(),
        Known {
            meta: input.1,
            layout: Some(input.2),
            from_input: true,
        },
    );
    let mut blocked: HashMap<String, String> = HashMap::new();
    // The float values computed from the input's shape alone (position-embedding sizes,
    // interpolation scales), by name: known exactly, as integers are.
    let mut floats: HashMap<String, Value> = HashMap::new();
    for node in nodes {
        let cause = node
            .inputs
            .iter()
            .find_map(|i| blocked.get(i).cloned())
            .or_else(|| node.kernel.is_none().then(|| node.name.clone()));
        if let Some(cause) = cause {
            for output in &node.outputs {
                blocked.insert(output.clone(), cause.clone());
            }
            continue;
        }
        let kernel = node.kernel.as_deref().expect("supported");
        let inputs: Vec<Option<&Known>> = node
            .inputs
            .iter()
            .map(|name| known.get(name.as_str()))
            .collect();
        if let Some(missing) = node
            .inputs
            .iter()
            .zip(&inputs)
            .find(|(name, k)| !name.is_empty() && k.is_none())
        {
            return Err(node.error(format!("input `{}` is not computed", missing.0)));
        }
        // Shape, Size and ConstantOfShape read the input's shape only.
        let reads_input = inputs.iter().flatten().any(|k| k.from_input);
        let from_input =
            reads_input && !matches!(node.op_type.as_str(), "Shape" | "Size" | "ConstantOfShape");
        let metas: Vec<Option<&Meta>> = inputs.iter().map(|k| k.map(|k| &k.meta)).collect();
        let outputs = if reads_input {
            infer_node(kernel, &metas).map_err(|reason| node.error(reason))?
        } else {
            let values: Vec<Option<Value>> = node
                .inputs
                .iter()
                .zip(&metas)
                .map(
                    |(name, meta)| match (weights.get(name).or(floats.get(name)), meta) {
                        (Some(value), _) => Some(value.clone()),
                        (None, Some(Meta::Ints(v))) => Some(Value::Ints(v.clone())),
                        (None, _) => None,
                    },
                )
                .collect();
            shape_values(node, kernel, &values, &mut floats)?
        };
        let layouts: Vec<Option<Layout>> =
            inputs.iter().map(|k| k.and_then(|k| k.layout)).collect();
        let flows = layouts.iter().any(Option::is_some);
        let layout = kernel.layout(&layouts);
        for (name, meta) in node.outputs.iter().zip(outputs) {
            let four_d = matches!(&meta, Meta::Float(s) if s.len() == 4);
            known.insert(
                name.clone(),
                Known {
                    meta,
                    layout: (flows && four_d).then_some(layout),
                    from_input,
                },
            );
        }
    }
    Ok(Inferred { known, blocked })
}

/// The outputs of a node that reads no input values, only weights and values computed from
/// the input's shape (`inputs`, given the shape inferred with): evaluated, so that float shape
/// arithmetic (`Cast(Div(Cast(Shape)), ..)`, computed resize scales) is known exactly, as its
/// integer kind is. Float outputs join `floats`.
fn shape_values(
    node: &Node,
    kernel: &dyn Kernel,
    inputs: &[Option<Value>],
    floats: &mut HashMap<String, Value>,
) -> Result<Vec<Meta>, ModelError> {
    let refs: Vec<Option<&Value>> = inputs.iter().map(Option::as_ref).collect();
    let outputs = evaluate(node, kernel, &refs)?;
    let metas = outputs.iter().map(Meta::of).collect();
    for (name, value) in node.outputs.iter().zip(outputs) {
        if matches!(value, Value::Float { .. }) {
            floats.insert(name.clone(), value);
        }
    }
    Ok(metas)
}

/// The outputs of `kernel` on operands described by `inputs`: integer operations run as they
/// will at run time (on the host), float ones by the kernel's shape rule; every float output
/// is checked to be non-empty, of rank six at most and of a size that can be allocated.
pub fn infer_node(kernel: &dyn Kernel, inputs: &[Option<&Meta>]) -> Outputs<Meta> {
    let args = Args::new(inputs);
    let outputs = if args.all_ints() {
        let values: Vec<Option<Value>> = inputs
            .iter()
            .map(|m| {
                m.map(|m| match m {
                    Meta::Ints(v) => Value::Ints(v.clone()),
                    Meta::Float(_) => unreachable!("all integers"),
                })
            })
            .collect();
        let refs: Vec<Option<&Value>> = values.iter().map(Option::as_ref).collect();
        kernel
            .eval(&Args::new(&refs))?
            .iter()
            .map(Meta::of)
            .collect()
    } else {
        kernel.infer(&args)?
    };
    for meta in &outputs {
        let Meta::Float(shape) = meta else { continue };
        if shape.len() > MAX_RANK {
            return Err(format!("its output {shape:?} has a rank above {MAX_RANK}"));
        }
        match shape.iter().try_fold(1usize, |p, &d| p.checked_mul(d)) {
            Some(0) => return Err(format!("its output {shape:?} is empty")),
            Some(n) if n <= MAX_TENSOR_ELEMENTS => {}
            _ => {
                return Err(format!(
                    "its output {shape:?} would hold more than {MAX_TENSOR_ELEMENTS} values"
                ));
            }
        }
    }
    Ok(outputs)
}

/// Runs a kernel after its shape rule has checked the operands; a panic in the backend
/// becomes an error naming the node.
pub(crate) fn evaluate(
    node: &Node,
    kernel: &dyn Kernel,
    inputs: &[Option<&Value>],
) -> Result<Vec<Value>, ModelError> {
    let metas: Vec<Option<Meta>> = inputs.iter().map(|v| v.map(Meta::of)).collect();
    let metas: Vec<Option<&Meta>> = metas.iter().map(Option::as_ref).collect();
    let checked = if kernel.reads_values() {
        Ok(Vec::new()) // its eval checks the values it reads
    } else {
        infer_node(kernel, &metas)
    };
    let outcome = match checked {
        Err(reason) => Ok(Err(reason)),
        Ok(_) => catch_unwind(AssertUnwindSafe(|| kernel.eval(&Args::new(inputs)))),
    };
    match outcome {
        Ok(Ok(values)) => Ok(values),
        Ok(Err(reason)) => Err(node.error(reason)),
        Err(panic) => Err(node.error(format!("the backend failed: {}", panic_text(&*panic)))),
    }
}
