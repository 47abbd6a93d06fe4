//! Running a loaded model: the nodes that the asked-for layers need, one at a time, with
//! each value dropped after its last use.

use std::collections::{HashMap, HashSet};

use burn::tensor::Tensor;

use crate::error::{ModelError, Result};
use crate::graph::Node;
use crate::infer::evaluate;
use crate::layout::Layout;
use crate::model::OnnxModel;
use crate::onnx_file::MAX_TENSOR_ELEMENTS;
use crate::ops::Args;
use crate::trace::Trace;
use crate::value::Value;

/// Told of each evaluated node: the node, its inputs, its first output and its wall time.
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

impl OnnxModel {
    /// Evaluates the planned nodes and returns the raw values of `layers`.
    pub(crate) fn run(&self, input: Tensor<4>, layers: &[&str]) -> Result<Vec<Value>> {
        self.run_traced(input, layers, &mut Trace::default())
    }

    /// [`OnnxModel::run`], with `trace`'s backward rules and probe.
    pub(crate) fn run_traced(
        &self,
        input: Tensor<4>,
        layers: &[&str],
        trace: &mut Trace,
    ) -> Result<Vec<Value>> {
        self.run_observed(input, layers, false, trace, &mut |_, _, _, _| {})
    }

    /// The first node, in evaluation order, whose output holds NaN or infinity on `input`
    /// (`None` when every output of the plan for `layers` is finite): where a non-finite
    /// objective comes from. Each output is checked on the device, so this is slow: for
    /// diagnosis after the fact.
    ///
    /// # Shapes
    /// - input: `[N, C, H, W]`
    pub fn first_non_finite(&self, input: Tensor<4>, layers: &[&str]) -> Result<Option<String>> {
        let mut first = None;
        self.run_observed(
            input,
            layers,
            false,
            &mut Trace::default(),
            &mut |node, _, output, _| {
                if first.is_none()
                    && let Value::Float { tensor, .. } = output
                    && (tensor.clone().is_nan().any().into_scalar::<bool>()
                        || tensor.clone().is_inf().any().into_scalar::<bool>())
                {
                    first = Some(node.outputs[0].clone());
                }
            },
        )?;
        Ok(first)
    }

    /// Runs the nodes that `layers` need, one at a time, and reports each node's op, FLOPs
    /// (multiply-adds count two; convolutions and matrix products only) and wall time. The
    /// device is synchronised after each node, so that on a backend that queues work
    /// asynchronously (a GPU) each time is that of the node's execution.
    ///
    /// # Shapes
    /// - input: `[N, C, H, W]`
    pub fn profile(&self, input: Tensor<4>, layers: &[&str]) -> Result<Vec<NodeStats>> {
        let mut stats = Vec::new();
        let mut trace = Trace::default();
        self.run_observed(
            input,
            layers,
            true,
            &mut trace,
            &mut |node, inputs, output, seconds| {
                let flops = node
                    .kernel
                    .as_ref()
                    .map_or(0, |k| k.flops(&Args::new(inputs), output));
                stats.push(NodeStats {
                    layer: node.outputs[0].clone(),
                    op: node.op_type.clone(),
                    flops,
                    seconds,
                })
            },
        )?;
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

    /// Evaluates the planned nodes, calling `observe(node, inputs, output, seconds)` after
    /// each; with `synchronize`, each node's time includes waiting for the device to finish it.
    fn run_observed(
        &self,
        input: Tensor<4>,
        layers: &[&str],
        synchronize: bool,
        trace: &mut Trace,
        observe: &mut NodeObserver,
    ) -> Result<Vec<Value>> {
        let input = self.model_input(input)?;
        let device = input.device();
        let (plan, last_use) = self.schedule(layers)?;
        let wanted: Vec<&str> = layers.iter().map(|l| self.resolve(l)).collect();
        let asked: HashSet<&str> = wanted.iter().copied().collect();
        let mut values: HashMap<&str, Value> = HashMap::new();
        values.insert(self.input_name.as_str(), Value::from_tensor(input));
        let mut kept: HashMap<&str, Value> = HashMap::new();
        for name in &wanted {
            if let Some(v) = values.get(name).or_else(|| self.weights.get(*name)) {
                kept.insert(name, v.clone());
            }
        }
        for (step, &i) in plan.iter().enumerate() {
            let node = &self.nodes[i];
            let kernel = node.kernel.as_deref().expect("planned nodes are supported");
            let inputs = self.node_inputs(node, &values);
            let started = std::time::Instant::now();
            let mut outputs = evaluate(node, kernel, &inputs)?;
            trace.shape(node, &inputs, &mut outputs[0]);
            if synchronize {
                device
                    .sync()
                    .map_err(|e| node.error(format!("the device failed: {e:?}")))?;
            }
            observe(node, &inputs, &outputs[0], started.elapsed().as_secs_f64());
            for (name, value) in node.outputs.iter().zip(outputs) {
                if asked.contains(name.as_str()) {
                    kept.insert(name.as_str(), value.clone());
                }
                values.insert(name.as_str(), value);
            }
            values.retain(|name, _| last_use.get(name).is_some_and(|&last| last > step));
        }
        Ok(wanted
            .iter()
            .map(|l| {
                kept.get(l)
                    .cloned()
                    .expect("every planned layer is evaluated")
            })
            .collect())
    }

    /// Checks an NCHW input against the declared shape and puts it in the model's layout.
    fn model_input(&self, input: Tensor<4>) -> Result<Tensor<4>> {
        let dims = input.dims();
        if dims.iter().product::<usize>() > MAX_TENSOR_ELEMENTS {
            return Err(ModelError::BadInput(format!(
                "input of shape {dims:?} is above the limit of {MAX_TENSOR_ELEMENTS} values"
            )));
        }
        let channel_axis = match self.input_layout {
            Layout::Nchw => 1,
            Layout::Nhwc => 3,
        };
        if let Some(Some(want)) = self.input_shape.get(channel_axis)
            && dims[1] != *want
        {
            return Err(ModelError::BadInput(format!(
                "the input has {} channels, the model expects {want}",
                dims[1]
            )));
        }
        Ok(match self.input_layout {
            Layout::Nchw => input,
            Layout::Nhwc => input.permute(Layout::Nhwc.from_nchw()),
        })
    }
}
