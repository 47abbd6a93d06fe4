//! Building a model from decoded ONNX: parse each node through the op table in graph order,
//! fold every node whose operands are all constant (as onnxruntime's graph optimizer does),
//! and infer the shapes and layouts of what is left.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use burn::tensor::Device;
use onnx_ir::{ModelProto, NodeProto, ValueInfoProto};

use crate::error::{ModelError, Result};
use crate::graph::{Node, display_name, topological};
use crate::infer::{Inferred, evaluate, infer_graph};
use crate::layout::{Layout, probe_shape};
use crate::manifest::Normalization;
use crate::model::{LayerInfo, OnnxModel};
use crate::onnx_file::{Attributes, read_tensor};
use crate::ops::to_value;
use crate::ops::{Ctx, parse};
use crate::tokens::{Tokens, find_tokens};
use crate::unsupported::UnsupportedReport;
use crate::value::{Meta, Value};

/// The largest image side a model may declare (far above any CNN's input).
const MAX_INPUT_SIDE: usize = 4096;

impl OnnxModel {
    /// Builds a model from decoded ONNX; `base_dir` resolves external-data files. No manifest
    /// is read: the normalisation is the identity until [`OnnxModel::with_normalization`], the
    /// layout is guessed from the declared input shape.
    pub fn from_proto(
        proto: &ModelProto,
        base_dir: Option<&Path>,
        device: &Device,
    ) -> Result<Self> {
        Self::build(proto, base_dir, device, None)
    }

    /// [`OnnxModel::from_proto`] with the input layout given (by a manifest).
    pub(crate) fn build(
        proto: &ModelProto,
        base_dir: Option<&Path>,
        device: &Device,
        layout: Option<Layout>,
    ) -> Result<Self> {
        let graph = proto
            .graph
            .as_ref()
            .ok_or_else(|| ModelError::Invalid("the file holds no graph".into()))?;
        if graph.node.is_empty() {
            return Err(ModelError::Invalid("the graph has no nodes".into()));
        }
        let opset = proto
            .opset_import
            .iter()
            .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
            .map_or(1, |o| o.version);
        let mut constants: HashMap<String, Value> = HashMap::new();
        for init in &graph.initializer {
            let raw = read_tensor(init, base_dir).map_err(ModelError::Invalid)?;
            constants.insert(init.name.clone(), to_value(raw, device));
        }
        let input = graph
            .input
            .iter()
            .find(|i| !constants.contains_key(&i.name))
            .ok_or_else(|| ModelError::Invalid("the graph has no (non-constant) input".into()))?;
        let initializers: HashSet<&str> =
            graph.initializer.iter().map(|i| i.name.as_str()).collect();
        let order = topological(&graph.node, &input.name, &initializers)?;
        let (nodes, unsupported, folded) =
            parse_and_fold(&graph.node, &order, opset, &mut constants, device)?;
        let used: HashSet<&str> = nodes
            .iter()
            .flat_map(|n| n.inputs.iter().map(String::as_str))
            .collect();
        let output_names: Vec<String> = graph.output.iter().map(|o| o.name.clone()).collect();
        let weights: HashMap<String, Value> = constants
            .into_iter()
            .filter(|(name, _)| used.contains(name.as_str()) || output_names.contains(name))
            .collect();
        let input_shape = declared_input(input)?;
        let input_layout = layout.unwrap_or_else(|| Layout::guess(&input_shape));
        let probe = probe_shape(&input_shape, input_layout, None);
        let inferred = infer_graph(
            &nodes,
            &weights,
            (input.name.as_str(), Meta::Float(probe), input_layout),
        )?;
        let tokens = find_tokens(&nodes, &inferred);
        let layers = layer_list(&nodes, &inferred, &tokens);
        let (fixed_size, single_image) =
            baked_shapes(&nodes, &weights, (&input.name, &input_shape, input_layout));
        let mut model = Self {
            producer: producers(&nodes),
            nodes,
            weights,
            input_name: input.name.clone(),
            input_shape,
            input_layout,
            output_names,
            device: device.clone(),
            normalization: Normalization::identity(),
            manifest: None,
            fingerprint: String::new(),
            layers,
            layouts: inferred
                .known
                .iter()
                .filter_map(|(name, k)| k.layout.map(|l| (name.clone(), l)))
                .collect(),
            blocked: inferred.blocked,
            unsupported,
            folded,
            fixed_size,
            single_image,
            tokens,
            patch: None,
        };
        let patch_source = model.layers.iter().find_map(|l| l.tokens.clone());
        if let Some(tokens) = patch_source {
            let side = spatial(
                &probe_shape(&model.input_shape, input_layout, None),
                input_layout,
            );
            model.patch = model.receptive_field(&tokens.source, side).ok().flatten();
        }
        Ok(model)
    }
}

/// Parses the nodes in topological `order`, folding into `constants` each node whose operands
/// are all constant: the nodes left, the unsupported ops, and how many were folded.
fn parse_and_fold(
    protos: &[NodeProto],
    order: &[usize],
    opset: i64,
    constants: &mut HashMap<String, Value>,
    device: &Device,
) -> Result<(Vec<Node>, UnsupportedReport, usize)> {
    let mut nodes = Vec::new();
    let mut unsupported = UnsupportedReport::default();
    let mut folded = 0;
    for &i in order {
        let node = parse_node(&protos[i], opset, constants, device)?;
        if node.kernel.is_none() {
            unsupported.add(&node.op_type, opset, &node.name);
        }
        if let Some(outputs) = fold(&node, constants)? {
            folded += 1;
            for (name, value) in node.outputs.iter().zip(outputs) {
                constants.insert(name.clone(), value);
            }
        } else {
            nodes.push(node);
        }
    }
    Ok((nodes, unsupported, folded))
}

/// What an export baked into the graph: the only spatial size it takes (when a size 8 or 32
/// pixels larger does not fit: a reshape of fixed size, or a transformer's fixed position
/// embeddings, which take any size of the same patch grid but no larger grid), and whether it
/// takes one image at a time (when a batch of two does not fit). `input` is the input's name,
/// declared shape and layout.
fn baked_shapes(
    nodes: &[Node],
    weights: &HashMap<String, Value>,
    (name, declared, layout): (&str, &[Option<usize>], Layout),
) -> (Option<[usize; 2]>, bool) {
    let fits =
        |shape: Vec<usize>| infer_graph(nodes, weights, (name, Meta::Float(shape), layout)).is_ok();
    let probe = probe_shape(declared, layout, None);
    let [h, w] = spatial(&probe, layout);
    let takes = |grow: usize| fits(probe_shape(declared, layout, Some([h + grow, w + grow])));
    let fixed_size = (!takes(8) || !takes(32)).then_some([h, w]);
    let single_image = !fits([vec![2], probe[1..].to_vec()].concat());
    (fixed_size, single_image)
}

/// Every tensor name with the index of the node that writes it.
fn producers(nodes: &[Node]) -> HashMap<String, usize> {
    nodes
        .iter()
        .enumerate()
        .flat_map(|(i, n)| {
            n.outputs
                .iter()
                .filter(|o| !o.is_empty())
                .map(move |o| (o.clone(), i))
        })
        .collect()
}

/// The layers: every float tensor of rank 2 to 4 computed from the input's values, in graph order,
/// with its shape as the objectives see it (NCHW; a token layer's grid as `[N, D, h, w]`).
fn layer_list(
    nodes: &[Node],
    inferred: &Inferred,
    tokens: &HashMap<String, Tokens>,
) -> Vec<LayerInfo> {
    let mut layers = Vec::new();
    for node in nodes {
        for name in &node.outputs {
            let Some(known) = inferred.known.get(name) else {
                continue;
            };
            let Meta::Float(shape) = &known.meta else {
                continue;
            };
            if !known.from_input {
                continue;
            }
            if !(2..=4).contains(&shape.len()) {
                continue;
            }
            let token = tokens.get(name).cloned();
            let shape = match (&token, known.layout) {
                (Some(t), _) => vec![shape[0], t.dim, t.grid[0], t.grid[1]],
                (None, Some(Layout::Nhwc)) => vec![shape[0], shape[3], shape[1], shape[2]],
                _ => shape.clone(),
            };
            layers.push(LayerInfo {
                name: name.clone(),
                op: node.op_type.clone(),
                shape,
                layout: known.layout.unwrap_or(Layout::Nchw),
                tokens: token,
            });
        }
    }
    layers
}

/// The height and width of an input shape in `layout`.
fn spatial(shape: &[usize], layout: Layout) -> [usize; 2] {
    match layout {
        Layout::Nchw => [shape[2], shape[3]],
        Layout::Nhwc => [shape[1], shape[2]],
    }
}

/// Evaluates a node at load when every operand is a constant: its outputs, or `None` when
/// it reads the input (or is unsupported). A failure names the node.
fn fold(node: &Node, constants: &HashMap<String, Value>) -> Result<Option<Vec<Value>>> {
    let Some(kernel) = &node.kernel else {
        return Ok(None);
    };
    let given: Vec<&String> = node.inputs.iter().filter(|n| !n.is_empty()).collect();
    if !kernel.foldable()
        || (given.is_empty() && node.op_type != "Constant")
        || !given.iter().all(|n| constants.contains_key(n.as_str()))
    {
        return Ok(None);
    }
    let values: Vec<Option<&Value>> = node
        .inputs
        .iter()
        .map(|n| constants.get(n.as_str()))
        .collect();
    evaluate(node, kernel.as_ref(), &values).map(Some)
}

/// Parses one node through the op table; an op outside it (or outside the default domain)
/// gives a node without kernel.
fn parse_node(
    proto: &NodeProto,
    opset: i64,
    constants: &HashMap<String, Value>,
    device: &Device,
) -> Result<Node> {
    let name = display_name(proto);
    let default_domain = proto.domain.is_empty() || proto.domain == "ai.onnx";
    let op_type = if default_domain {
        proto.op_type.clone()
    } else {
        format!("{}::{}", proto.domain, proto.op_type)
    };
    let kernel = if default_domain {
        let ctx = Ctx {
            node: proto,
            attrs: Attributes::of(proto),
            opset,
            constants,
            device,
        };
        match parse(&ctx) {
            Some(Ok(kernel)) => Some(kernel),
            Some(Err(reason)) => {
                return Err(ModelError::BadNode {
                    node: name,
                    op: op_type,
                    reason,
                });
            }
            None => None,
        }
    } else {
        None
    };
    Ok(Node {
        name,
        op_type,
        inputs: proto.input.clone(),
        outputs: proto.output.clone(),
        kernel,
    })
}

/// The declared shape of the graph input (`None` for a dynamic axis), checked to be an image
/// batch: rank 4 (or no shape at all), axes of a plausible size.
fn declared_input(input: &ValueInfoProto) -> Result<Vec<Option<usize>>> {
    let (name, shape) = (&input.name, declared_shape(input));
    if input.type_.tensor_type().shape.is_some() && shape.len() != 4 {
        return Err(ModelError::Invalid(format!(
            "the input `{name}` has rank {}; images are rank 4 (NCHW or NHWC)",
            shape.len()
        )));
    }
    if let Some(side) = shape.iter().flatten().find(|&&d| d > MAX_INPUT_SIDE) {
        return Err(ModelError::Invalid(format!(
            "the input `{name}` declares an axis of {side}, above the supported {MAX_INPUT_SIDE}"
        )));
    }
    Ok(shape)
}

/// The declared shape of a graph input (`None` for a dynamic or non-positive axis).
fn declared_shape(input: &ValueInfoProto) -> Vec<Option<usize>> {
    input
        .type_
        .tensor_type()
        .shape
        .dim
        .iter()
        .map(|d| {
            if d.has_dim_value() {
                usize::try_from(d.dim_value()).ok().filter(|&v| v > 0)
            } else {
                None
            }
        })
        .collect()
}
