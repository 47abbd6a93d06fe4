//! How a run shapes its backward pass: the rectifiers' rule (deconvnet, guided
//! backpropagation), and a probe that reads the gradient at one tensor.

use burn::tensor::Tensor;
use excite_core::RectifierRule;

use crate::graph::Node;
use crate::value::Value;

/// The ops whose backward pass a [`RectifierRule`] changes: the rectifiers. Smooth activations
/// and gates (Sigmoid, Tanh, Gelu, Swish, HardSigmoid) keep the chain rule.
pub const RECTIFIERS: [&str; 4] = ["Relu", "Clip", "LeakyRelu", "HardSwish"];

/// How a run shapes its backward pass.
#[derive(Debug, Default)]
pub(crate) struct Trace {
    /// How gradients pass back through [`RECTIFIERS`].
    pub rule: RectifierRule,
    /// A tensor whose value gets a zero tensor added that requires a gradient, so that the
    /// gradient of anything computed from the run with respect to this tensor can be read.
    pub probe: Option<String>,
    /// The zero tensor added to the probe, once the run has computed it.
    pub probe_leaf: Option<Value>,
}

impl Trace {
    /// Applies the rule to a rectifier's output, and adds the probe to its tensor.
    pub(crate) fn shape(&mut self, node: &Node, inputs: &[Option<&Value>], output: &mut Value) {
        if self.rule != RectifierRule::Gradient
            && RECTIFIERS.contains(&node.op_type.as_str())
            && let (Some(Value::Float { tensor: x, .. }), Value::Float { tensor: y, .. }) =
                (inputs.first().copied().flatten(), &mut *output)
        {
            *y = self.rule.apply(x.clone(), y.clone());
        }
        if self.probe.as_deref() == Some(node.outputs[0].as_str())
            && let Value::Float { tensor, rank } = output
        {
            let leaf = Tensor::zeros(tensor.dims(), &tensor.device()).require_grad();
            *tensor = tensor.clone() + leaf.clone();
            self.probe_leaf = Some(Value::Float {
                tensor: leaf,
                rank: *rank,
            });
        }
    }
}
