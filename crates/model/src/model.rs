//! A loaded ONNX model: its nodes, weights on a device, and truncated execution.

use std::collections::{HashMap, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use burn::tensor::{Device, Tensor};
use excite_core::error::panic_text;
use excite_core::files::sha256_hex;
use onnx_ir::{ModelProto, NodeProto, ValueInfoProto};

use crate::error::{ModelError, Result};
use crate::eval::eval;
use crate::graph::{Node, topological};
use crate::infer::{Meta, infer, infer_graph};
use crate::manifest::{Manifest, Normalization};
use crate::names::nearest;
use crate::onnx_file::{Attributes, MAX_TENSOR_ELEMENTS, RawTensor, read_model, read_tensor};
use crate::ops::{Op, Parsed, SUPPORTED_OPS, parse, to_value};
use crate::value::Value;

/// A layer of the model: a node's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerInfo {
    /// The layer's name: the name of the node's output tensor in the ONNX file.
    pub name: String,
    /// The ONNX op type that produces it.
    pub op: String,
    /// Its shape for one input image at the model's declared input size.
    pub shape: Vec<usize>,
}

/// An ONNX CNN imported into Burn, on one device.
///
/// Weights live on the device given to [`OnnxModel::load`]; on an autodiff device, gradients of
/// any layer flow back to the input. Inference semantics are fixed (batch norm uses its running
/// statistics, dropout is the identity), so no `.valid()` call is needed.
#[derive(Debug)]
pub struct OnnxModel {
    /// The nodes in topological order.
    nodes: Vec<Node>,
    /// The index in `nodes` of each layer name.
    index: HashMap<String, usize>,
    weights: HashMap<String, Value>,
    input_name: String,
    input_shape: Vec<Option<usize>>,
    output_names: Vec<String>,
    device: Device,
    normalization: Normalization,
    manifest: Option<Manifest>,
    fingerprint: String,
    layers: Vec<LayerInfo>,
}

impl OnnxModel {
    /// Loads an ONNX file onto `device`, with the input normalisation of its manifest when one
    /// sits beside it (`x.toml` beside `x.onnx`; see [`OnnxModel::manifest`]).
    pub fn load(path: impl AsRef<Path>, device: &Device) -> Result<Self> {
        let path = path.as_ref();
        let manifest = Manifest::beside(path)?;
        let (proto, bytes) = read_model(path)?;
        let mut model = Self::from_proto(&proto, path.parent(), device)?;
        model.fingerprint = sha256_hex(&bytes);
        if let Some(m) = manifest {
            model.fingerprint = sha256_hex(format!("{}\n{}", model.fingerprint, m.text).as_bytes());
            model.normalization = m.normalization.clone();
            model.manifest = Some(m);
        }
        Ok(model)
    }

    /// The SHA-256 (hex) of the model file and, when there is one, of its manifest: what a
    /// resumed run checks to be sure that it continues with the same model.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Builds a model from decoded ONNX; `base_dir` resolves external-data files. No manifest
    /// is read: the normalisation is the identity until [`OnnxModel::with_normalization`].
    pub fn from_proto(
        proto: &ModelProto,
        base_dir: Option<&Path>,
        device: &Device,
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
        let mut constants: HashMap<String, RawTensor> = HashMap::new();
        for init in &graph.initializer {
            let raw = read_tensor(init, base_dir).map_err(ModelError::Invalid)?;
            constants.insert(init.name.clone(), raw);
        }
        let input = graph
            .input
            .iter()
            .find(|i| !constants.contains_key(&i.name))
            .ok_or_else(|| ModelError::Invalid("the graph has no (non-constant) input".into()))?;
        let nodes = graph
            .node
            .iter()
            .map(|proto_node| parse_node(proto_node, opset, &mut constants, base_dir, device))
            .collect::<Result<Vec<_>>>()?;
        let initializers: HashSet<&str> =
            graph.initializer.iter().map(|i| i.name.as_str()).collect();
        let nodes = topological(nodes, &input.name, &initializers)?;
        let weights = graph
            .initializer
            .iter()
            .filter_map(|init| {
                constants
                    .remove(&init.name)
                    .map(|raw| (init.name.clone(), to_value(raw, device)))
            })
            .collect();
        let index = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.clone(), i))
            .collect();
        let input_shape = declared_input(input)?;
        // Dynamic axes are taken as one RGB image of 224 x 224.
        let dim =
            |i: usize, default: usize| input_shape.get(i).copied().flatten().unwrap_or(default);
        let probe = Meta::Float(vec![1, dim(1, 3), dim(2, 224), dim(3, 224)]);
        let metas = infer_graph(&nodes, &weights, (input.name.as_str(), probe))?;
        let layers = nodes
            .iter()
            .zip(metas)
            .map(|(node, meta)| LayerInfo {
                name: node.name.clone(),
                op: node.op_type.clone(),
                shape: meta.shape(),
            })
            .collect();
        Ok(Self {
            nodes,
            index,
            weights,
            input_name: input.name.clone(),
            input_shape,
            output_names: graph.output.iter().map(|o| o.name.clone()).collect(),
            device: device.clone(),
            normalization: Normalization::identity(),
            manifest: None,
            fingerprint: String::new(),
            layers,
        })
    }

    /// The manifest read beside the model file by [`OnnxModel::load`], if there was one.
    pub fn manifest(&self) -> Option<&Manifest> {
        self.manifest.as_ref()
    }

    /// Sets how pixels in `[0, 1]` are normalised before the model sees them (used by the
    /// [`excite_core::VisualModel`] implementation).
    pub fn with_normalization(mut self, normalization: Normalization) -> Self {
        self.normalization = normalization;
        self
    }

    /// The input normalisation of the `VisualModel` implementation.
    pub fn normalization(&self) -> &Normalization {
        &self.normalization
    }

    /// The device the weights live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The graph's declared input shape (`None` for a dynamic axis).
    pub fn input_shape(&self) -> &[Option<usize>] {
        &self.input_shape
    }

    /// The number of nodes in the graph.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Every layer (node output) in topological order, with its op and shape for one image
    /// at the declared input size (dynamic axes taken as 3 x 224 x 224), as inferred at load:
    /// nothing runs.
    pub fn layers(&self) -> &[LayerInfo] {
        &self.layers
    }

    /// The layer name of node `index` (in topological order).
    pub(crate) fn node_name(&self, index: usize) -> &str {
        &self.nodes[index].name
    }

    /// The names of every layer, in graph order (no computation needed).
    pub fn layer_names(&self) -> impl Iterator<Item = &str> {
        self.nodes.iter().map(|n| n.name.as_str())
    }

    /// The error for an unknown layer name, with the nearest names as suggestions.
    pub fn check_layer(&self, name: &str) -> Result<()> {
        if self.index.contains_key(name) {
            Ok(())
        } else {
            Err(ModelError::UnknownLayer {
                name: name.to_string(),
                suggestions: nearest(name, self.layer_names()),
            })
        }
    }

    /// The indices of the nodes that must run to produce `layers`, in topological order.
    pub fn plan(&self, layers: &[&str]) -> Result<Vec<usize>> {
        let producer: HashMap<&str, usize> = self
            .nodes
            .iter()
            .enumerate()
            .flat_map(|(i, n)| n.outputs.iter().map(move |o| (o.as_str(), i)))
            .collect();
        let mut needed = vec![false; self.nodes.len()];
        let mut stack = Vec::new();
        for &layer in layers {
            self.check_layer(layer)?;
            stack.extend(self.index.get(layer).copied());
        }
        while let Some(i) = stack.pop() {
            if std::mem::replace(&mut needed[i], true) {
                continue;
            }
            for input in &self.nodes[i].inputs {
                if let Some(&j) = producer.get(input.as_str()) {
                    stack.push(j);
                }
            }
        }
        Ok((0..self.nodes.len()).filter(|&i| needed[i]).collect())
    }

    /// Runs the graph on `input` (NCHW, already normalised) and returns the named layers as
    /// NCHW tensors, computing only the nodes they depend on. Layers of rank 2 (`[N, K]`) come
    /// back as `[N, K, 1, 1]`, rank 3 as `[N, C, L, 1]`.
    ///
    /// # Shapes
    /// - input: `[N, C, H, W]`, as the model declares it
    /// - output: one `[N, C', H', W']` per layer
    pub fn forward_to(&self, input: Tensor<4>, layers: &[&str]) -> Result<Vec<Tensor<4>>> {
        self.run(input, layers)?
            .into_iter()
            .zip(layers)
            .map(|(value, layer)| to_nchw(value, layer))
            .collect()
    }

    /// Runs the whole graph and returns its first output as NCHW (`[N, K, 1, 1]` for logits).
    ///
    /// # Shapes
    /// - input: `[N, C, H, W]`, as the model declares it
    /// - output: `[N, K, H', W']`
    pub fn forward(&self, input: Tensor<4>) -> Result<Tensor<4>> {
        let output = self
            .output_names
            .first()
            .map(String::as_str)
            .or_else(|| self.nodes.last().map(|n| n.name.as_str()))
            .ok_or_else(|| ModelError::Invalid("the graph has no output".into()))?;
        let name = self
            .nodes
            .iter()
            .find(|n| n.outputs.iter().any(|o| o == output))
            .map(|n| n.name.clone())
            .ok_or_else(|| {
                ModelError::Invalid(format!("no node produces the output `{output}`"))
            })?;
        Ok(self.forward_to(input, &[name.as_str()])?.remove(0))
    }

    /// Evaluates the planned nodes and returns the raw values of `layers`.
    pub(crate) fn run(&self, input: Tensor<4>, layers: &[&str]) -> Result<Vec<Value>> {
        self.run_observed(input, layers, false, &mut |_, _, _, _| {})
    }

    /// The first node, in evaluation order, whose output holds NaN or infinity on `input`
    /// (`None` when every output of the plan for `layers` is finite): where a non-finite
    /// objective comes from. Each output is checked on the device, so this is slow: for
    /// diagnosis after the fact.
    ///
    /// # Shapes
    /// - input: `[N, C, H, W]`, as the model declares it
    pub fn first_non_finite(&self, input: Tensor<4>, layers: &[&str]) -> Result<Option<String>> {
        let mut first = None;
        self.run_observed(input, layers, false, &mut |node, _, output, _| {
            if first.is_none()
                && let Value::Float { tensor, .. } = output
                && (tensor.clone().is_nan().any().into_scalar::<bool>()
                    || tensor.clone().is_inf().any().into_scalar::<bool>())
            {
                first = Some(node.name.clone());
            }
        })?;
        Ok(first)
    }

    /// Runs the nodes that `layers` need, one at a time, and reports each node's op, FLOPs
    /// (multiply-adds count two; convolutions and matrix products only) and wall time. The
    /// device is synchronised after each node, so that on a backend that queues work
    /// asynchronously (a GPU) each time is that of the node's execution.
    ///
    /// # Shapes
    /// - input: `[N, C, H, W]`, as the model declares it
    pub fn profile(&self, input: Tensor<4>, layers: &[&str]) -> Result<Vec<NodeStats>> {
        let mut stats = Vec::new();
        self.run_observed(input, layers, true, &mut |node, inputs, output, seconds| {
            stats.push(NodeStats {
                layer: node.name.clone(),
                op: node.op_type.clone(),
                flops: flops(&node.op, inputs, output),
                seconds,
            })
        })?;
        Ok(stats)
    }

    /// The nodes to run for `layers`, and for each value the last step that reads it.
    fn schedule(&self, layers: &[&str]) -> Result<(Vec<usize>, HashMap<&str, usize>)> {
        let plan = self.plan(layers)?;
        let mut last_use: HashMap<&str, usize> = HashMap::new();
        for (step, &i) in plan.iter().enumerate() {
            for name in &self.nodes[i].inputs {
                last_use.insert(name.as_str(), step);
            }
        }
        Ok((plan, last_use))
    }

    /// The inputs of `node`: live values first, then weights; `None` for omitted ones.
    fn node_inputs<'v>(
        &'v self,
        node: &Node,
        values: &'v HashMap<&str, Value>,
    ) -> Vec<Option<&'v Value>> {
        node.inputs
            .iter()
            .map(|name| {
                if name.is_empty() {
                    None
                } else {
                    values.get(name.as_str()).or_else(|| self.weights.get(name))
                }
            })
            .collect()
    }

    /// Evaluates one node, naming it in the error.
    /// A panic inside the backend, the last line of defence behind the checks of each op,
    /// becomes an error naming the node too.
    fn eval_node(&self, node: &Node, inputs: &[Option<&Value>]) -> Result<Value> {
        // The shape rule checks the operands first, as at load (the input may have another
        // size than the declared one): empty tensors, shapes that do not fit and outputs too
        // large to allocate never reach the backend, some of whose kernels crash on them.
        let metas: Vec<Option<Meta>> = inputs.iter().map(|v| v.map(Meta::of)).collect();
        let metas: Vec<Option<&Meta>> = metas.iter().map(Option::as_ref).collect();
        let outcome = match infer(&node.op, &metas) {
            Err(reason) => Ok(Err(reason)),
            Ok(_) => catch_unwind(AssertUnwindSafe(|| eval(&node.op, inputs))),
        };
        let reason = match outcome {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(reason)) => reason,
            Err(panic) => format!("the backend failed: {}", panic_text(&*panic)),
        };
        Err(ModelError::BadNode {
            node: node.name.clone(),
            op: node.op_type.clone(),
            reason,
        })
    }

    /// Evaluates the planned nodes, calling `observe(node, inputs, output, seconds)` after
    /// each; with `synchronize`, each node's time includes waiting for the device to finish it.
    fn run_observed(
        &self,
        input: Tensor<4>,
        layers: &[&str],
        synchronize: bool,
        observe: &mut NodeObserver,
    ) -> Result<Vec<Value>> {
        self.check_input(&input)?;
        let device = input.device();
        let (plan, last_use) = self.schedule(layers)?;
        let mut values: HashMap<&str, Value> = HashMap::new();
        values.insert(self.input_name.as_str(), Value::from_tensor(input));
        let asked: HashSet<&str> = layers.iter().copied().collect();
        let mut wanted: HashMap<&str, Value> = HashMap::new();
        for (step, &i) in plan.iter().enumerate() {
            let node = &self.nodes[i];
            let inputs = self.node_inputs(node, &values);
            let started = std::time::Instant::now();
            let output = self.eval_node(node, &inputs)?;
            if synchronize {
                device.sync().map_err(|e| ModelError::BadNode {
                    node: node.name.clone(),
                    op: node.op_type.clone(),
                    reason: format!("the device failed: {e:?}"),
                })?;
            }
            observe(node, &inputs, &output, started.elapsed().as_secs_f64());
            if asked.contains(node.name.as_str()) {
                wanted.insert(node.name.as_str(), output.clone());
            }
            values.insert(node.outputs[0].as_str(), output);
            values.retain(|name, _| last_use.get(name).is_some_and(|&last| last > step));
        }
        Ok(layers
            .iter()
            .map(|l| {
                wanted
                    .get(l)
                    .cloned()
                    .expect("every planned layer is evaluated")
            })
            .collect())
    }

    fn check_input(&self, input: &Tensor<4>) -> Result<()> {
        let dims = input.dims();
        if dims.iter().product::<usize>() > MAX_TENSOR_ELEMENTS {
            return Err(ModelError::BadInput(format!(
                "input of shape {dims:?} is above the limit of {MAX_TENSOR_ELEMENTS} values"
            )));
        }
        for (axis, (&got, want)) in dims.iter().zip(&self.input_shape).enumerate().skip(1) {
            if let Some(want) = want
                && got != *want
                && (axis == 1 || self.input_shape.len() != 4)
            {
                return Err(ModelError::BadInput(format!(
                    "input has shape {dims:?}, the model expects {:?} on axis {axis}",
                    want
                )));
            }
        }
        Ok(())
    }
}

/// Told of each evaluated node: the node, its inputs, its output and its wall time.
type NodeObserver<'a> = dyn FnMut(&Node, &[Option<&Value>], &Value, f64) + 'a;

/// One node's share of a [`OnnxModel::profile`] run.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeStats {
    /// The layer (node output) name.
    pub layer: String,
    /// The ONNX op type.
    pub op: String,
    /// Floating-point operations of convolutions and matrix products (2 per multiply-add).
    pub flops: u64,
    /// Wall time of the node.
    pub seconds: f64,
}

/// The multiply-add work of a node: `2 * outputs * (inputs per output)` for convolutions and
/// matrix products, zero for the (memory-bound) rest.
fn flops(op: &Op, inputs: &[Option<&Value>], output: &Value) -> u64 {
    let out: u64 = output.shape().iter().map(|&d| d as u64).product();
    let dims = |i: usize| {
        inputs
            .get(i)
            .copied()
            .flatten()
            .map(Value::shape)
            .unwrap_or_default()
    };
    let per_output: u64 = match op {
        // weight [Cout, Cin/groups, kh, kw]
        Op::Conv { .. } => dims(1).iter().skip(1).map(|&d| d as u64).product(),
        Op::Gemm { trans_a, .. } => {
            let a = dims(0);
            let k = if *trans_a { a.first() } else { a.last() };
            k.map_or(0, |&k| k as u64)
        }
        Op::MatMul => dims(0).last().map_or(0, |&k| k as u64),
        _ => 0,
    };
    2 * out * per_output
}

/// Parses one node; a `Constant` node's value joins `constants` for the nodes after it.
fn parse_node(
    proto_node: &NodeProto,
    opset: i64,
    constants: &mut HashMap<String, RawTensor>,
    base_dir: Option<&Path>,
    device: &Device,
) -> Result<Node> {
    let name = proto_node
        .output
        .first()
        .cloned()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| proto_node.name.clone());
    let bad = |reason: String| ModelError::BadNode {
        node: name.clone(),
        op: proto_node.op_type.clone(),
        reason,
    };
    if proto_node.output.first().is_none_or(|o| o.is_empty()) {
        return Err(bad("the node has no output".into()));
    }
    if !(proto_node.domain.is_empty() || proto_node.domain == "ai.onnx") {
        return Err(unsupported(
            &format!("{}::{}", proto_node.domain, proto_node.op_type),
            &name,
            opset,
        ));
    }
    let op = match parse(proto_node, opset, constants, device).map_err(bad)? {
        Parsed::Op(op) => op,
        Parsed::Unsupported => return Err(unsupported(&proto_node.op_type, &name, opset)),
    };
    if proto_node.op_type == "Constant"
        && let (Some(t), Some(out)) = (
            Attributes::of(proto_node).tensor("value"),
            proto_node.output.first(),
        )
    {
        constants.insert(
            out.clone(),
            read_tensor(t, base_dir).map_err(ModelError::Invalid)?,
        );
    }
    Ok(Node {
        name,
        op_type: proto_node.op_type.clone(),
        inputs: proto_node.input.clone(),
        outputs: proto_node.output.clone(),
        op,
    })
}

/// The largest image side a model may declare (far above any CNN's input).
const MAX_INPUT_SIDE: usize = 4096;

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

fn unsupported(op: &str, node: &str, opset: i64) -> ModelError {
    ModelError::UnsupportedOp {
        op: op.to_string(),
        node: node.to_string(),
        opset,
        supported: SUPPORTED_OPS.join(", "),
    }
}

fn to_nchw(value: Value, layer: &str) -> Result<Tensor<4>> {
    let shape = value.shape();
    let Value::Float { tensor, .. } = value else {
        return Err(ModelError::BadInput(format!(
            "layer `{layer}` holds integers, not activations"
        )));
    };
    if shape.contains(&0) {
        return Err(ModelError::BadInput(format!(
            "layer `{layer}` is empty (shape {shape:?})"
        )));
    }
    let dims = match shape.as_slice() {
        [n, c, h, w] => [*n, *c, *h, *w],
        [n, c, l] => [*n, *c, *l, 1],
        [n, k] => [*n, *k, 1, 1],
        _ => {
            return Err(ModelError::BadInput(format!(
                "layer `{layer}` has shape {shape:?}; only layers of rank 2 to 4 are activations"
            )));
        }
    };
    Ok(tensor.reshape(dims))
}
