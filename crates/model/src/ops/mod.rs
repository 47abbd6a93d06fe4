//! The operator table. Each ONNX operator is one entry of [`TABLE`]: its name and the function
//! that parses a node into a [`Kernel`], which infers the output shapes (checking the
//! operands) and evaluates on Burn tensors. The operators live in one file per family, each
//! function with its ONNX specification link.
//!
//! Where a new operator goes, by family (one file each):
//!
//! | file | operators |
//! |---|---|
//! | `activation.rs` | element-wise functions of one tensor ([`Kernel`]s built by `unary`): Relu, Sigmoid, Erf, Clip, HardSwish, ... |
//! | `elementwise.rs` | element-wise functions of two or more tensors with broadcasting: Add, Mul, Pow, Where, PRelu, comparisons |
//! | `conv.rs` | Conv |
//! | `matmul.rs` | Gemm, MatMul |
//! | `pool.rs` | MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool (windows in `window.rs`) |
//! | `norm.rs` | BatchNormalization, InstanceNormalization, LayerNormalization, LRN |
//! | `reduce.rs` | Reduce*, Softmax, LogSoftmax |
//! | `reshape.rs` | shape-only ops: Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout |
//! | `transpose.rs`, `pad.rs`, `resize.rs`, `broadcast.rs`, `concat.rs`, `slice.rs` | Transpose; Pad; Resize, Upsample; Expand, Tile; Concat, Split; Slice, Gather |
//! | `constant.rs`, `host.rs` | values made by the graph (Constant, Shape, Cast, Range) and the integer shape arithmetic on the host |
//!
//! Then one line in [`TABLE`]. A test of the new op goes in its file, like
//! `activation.rs`'s `clip_matches_clamp_on_every_kind_of_bound` (the kernel against a direct
//! computation); the op-zoo fixtures (`testdata/make_op_zoo*.py`) compare it with onnxruntime
//! on every value, and `crates/model/tests/model/gradient_check.rs` its gradient with finite
//! differences.

use std::fmt::Debug;
use std::sync::LazyLock;

mod activation;
mod args;
mod broadcast;
mod concat;
mod constant;
mod conv;
mod elementwise;
mod host;
mod matmul;
mod norm;
mod pad;
mod pool;
mod reduce;
mod reshape;
mod resize;
mod slice;
mod transpose;
mod window;

pub use args::{Args, Ctx, normalize_axis};
pub use constant::to_value;
pub use window::Window;

use crate::layout::Layout;
use crate::value::{Meta, Value};

/// What each output is: one entry per node output.
pub type Outputs<T> = Result<Vec<T>, String>;

/// A parsed operator.
pub trait Kernel: Debug + Send + Sync {
    /// The outputs' shapes (and, for integer outputs, values) from what is known of the
    /// operands, checking that they fit: the load-time shape check, and the guard run before
    /// each evaluation, so that no malformed operand reaches the backend.
    fn infer(&self, x: &Args<'_, Meta>) -> Outputs<Meta>;

    /// The outputs on the operands' values.
    fn eval(&self, x: &Args<'_, Value>) -> Outputs<Value>;

    /// Multiply-add work (two per multiply-add) of convolutions and matrix products; zero
    /// for the memory-bound rest.
    fn flops(&self, x: &Args<'_, Value>, output: &Value) -> u64 {
        let _ = (x, output);
        0
    }

    /// The layout of a 4-D output from the layouts of the operands (`None` for constants):
    /// by default that of the first operand that has one.
    fn layout(&self, inputs: &[Option<Layout>]) -> Layout {
        inputs
            .iter()
            .flatten()
            .next()
            .copied()
            .unwrap_or(Layout::Nchw)
    }

    /// How the output's spatial positions depend on the input's, for receptive fields: by
    /// default on all of them (the safe answer for ops that mix positions).
    fn spatial(&self, x: &Args<'_, Meta>) -> Spatial {
        let _ = x;
        Spatial::Global
    }

    /// Whether the outputs' values, not only their shapes, depend on the operands' values in a
    /// way [`Kernel::infer`] cannot know (a cast of floats to integers): such a node is checked
    /// by evaluating it, where its operands are known (at load, or from the input's shape).
    fn reads_values(&self) -> bool {
        false
    }

    /// Whether the op may run at load on constant operands (all but the stateless random ones
    /// — none here — may).
    fn foldable(&self) -> bool {
        true
    }
}

/// How an op's output positions depend on its input positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spatial {
    /// Every output position may depend on every input position.
    Global,
    /// Each output position depends on the same position of the inputs.
    Same,
    /// A window over the spatial axes of input 0.
    Window {
        /// Kernel height and width.
        kernel: [usize; 2],
        /// Strides.
        stride: [usize; 2],
        /// Dilations.
        dilation: [usize; 2],
        /// Pads before the first row and column.
        pad_begin: [usize; 2],
    },
}

/// Parses a node of one op type into its kernel.
pub type Parse = fn(&Ctx) -> Result<Box<dyn Kernel>, String>;

/// One operator: its ONNX op type and its parser.
pub struct Entry {
    /// The ONNX op type (default domain).
    pub op: &'static str,
    /// The parser.
    pub parse: Parse,
}

const fn entry(op: &'static str, parse: Parse) -> Entry {
    Entry { op, parse }
}

/// Every supported operator, by op type.
pub const TABLE: &[Entry] = &[
    entry("Abs", activation::abs),
    entry("Add", elementwise::add),
    entry("AveragePool", pool::average_pool),
    entry("BatchNormalization", norm::batch_norm),
    entry("Cast", constant::cast),
    entry("Ceil", activation::ceil),
    entry("Celu", activation::celu),
    entry("Clip", activation::clip),
    entry("Concat", concat::concat),
    entry("Constant", constant::constant),
    entry("ConstantOfShape", constant::constant_of_shape),
    entry("Conv", conv::conv),
    entry("Div", elementwise::div),
    entry("Dropout", reshape::identity),
    entry("Elu", activation::elu),
    entry("Equal", elementwise::equal),
    entry("Erf", activation::erf),
    entry("Exp", activation::exp),
    entry("Expand", broadcast::expand),
    entry("Flatten", reshape::flatten),
    entry("Floor", activation::floor),
    entry("Gather", slice::gather),
    entry("Gelu", activation::gelu),
    entry("Gemm", matmul::gemm),
    entry("GlobalAveragePool", pool::global_average_pool),
    entry("GlobalMaxPool", pool::global_max_pool),
    entry("Greater", elementwise::greater),
    entry("HardSigmoid", activation::hard_sigmoid),
    entry("HardSwish", activation::hard_swish),
    entry("Identity", reshape::identity),
    entry("InstanceNormalization", norm::instance_norm),
    entry("IsNaN", activation::is_nan),
    entry("LRN", norm::lrn),
    entry("LayerNormalization", norm::layer_norm),
    entry("LeakyRelu", activation::leaky_relu),
    entry("Less", elementwise::less),
    entry("Log", activation::log),
    entry("LogSoftmax", reduce::log_softmax),
    entry("MatMul", matmul::matmul),
    entry("Max", elementwise::max),
    entry("MaxPool", pool::max_pool),
    entry("Mean", elementwise::mean),
    entry("Min", elementwise::min),
    entry("Mish", activation::mish),
    entry("Mod", elementwise::mod_),
    entry("Mul", elementwise::mul),
    entry("Neg", activation::neg),
    entry("Not", elementwise::not),
    entry("PRelu", elementwise::prelu),
    entry("Pad", pad::pad),
    entry("Pow", elementwise::pow),
    entry("Range", constant::range),
    entry("Reciprocal", activation::reciprocal),
    entry("ReduceL2", reduce::reduce_l2),
    entry("ReduceMax", reduce::reduce_max),
    entry("ReduceMean", reduce::reduce_mean),
    entry("ReduceMin", reduce::reduce_min),
    entry("ReduceProd", reduce::reduce_prod),
    entry("ReduceSum", reduce::reduce_sum),
    entry("ReduceSumSquare", reduce::reduce_sum_square),
    entry("Relu", activation::relu),
    entry("Reshape", reshape::reshape),
    entry("Resize", resize::resize),
    entry("Selu", activation::selu),
    entry("Shape", constant::shape),
    entry("Sigmoid", activation::sigmoid),
    entry("Sign", activation::sign),
    entry("Size", constant::size),
    entry("Slice", slice::slice),
    entry("Softmax", reduce::softmax),
    entry("Softplus", activation::softplus),
    entry("Softsign", activation::softsign),
    entry("Split", concat::split),
    entry("Sqrt", activation::sqrt),
    entry("Squeeze", reshape::squeeze),
    entry("Sub", elementwise::sub),
    entry("Sum", elementwise::sum),
    entry("Tanh", activation::tanh),
    entry("Tile", broadcast::tile),
    entry("Transpose", transpose::transpose),
    entry("Unsqueeze", reshape::unsqueeze),
    entry("Upsample", resize::upsample),
    entry("Where", elementwise::where_),
];

/// The names of the supported operators, from [`TABLE`].
pub static SUPPORTED_OPS: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| TABLE.iter().map(|e| e.op).collect());

/// The kernel of a node, or `None` when its op type is not in [`TABLE`].
pub fn parse(ctx: &Ctx) -> Option<Result<Box<dyn Kernel>, String>> {
    TABLE
        .iter()
        .find(|e| e.op == ctx.node.op_type)
        .map(|e| (e.parse)(ctx))
}

/// A single output.
pub fn one<T>(value: T) -> Outputs<T> {
    Ok(vec![value])
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use burn::tensor::Device;
    use onnx_ir::NodeProto;

    use super::*;
    use crate::onnx_file::Attributes;

    #[test]
    fn the_table_is_sorted_and_every_listed_op_parses() {
        let names: Vec<&str> = TABLE.iter().map(|e| e.op).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(names, sorted, "one entry per op, in byte order");
        let device = Device::flex();
        let constants = HashMap::new();
        for name in names {
            let mut node = NodeProto::new();
            node.op_type = name.to_string();
            node.input = vec!["x".into(), "y".into(), "z".into()];
            node.output = vec!["out".into()];
            let ints = |attr: &str, values: Vec<i64>| onnx_ir::AttributeProto {
                name: attr.into(),
                type_: onnx_ir::AttributeType::INTS.into(),
                ints: values,
                ..Default::default()
            };
            let int = |attr: &str, value: i64| onnx_ir::AttributeProto {
                name: attr.into(),
                type_: onnx_ir::AttributeType::INT.into(),
                i: value,
                ..Default::default()
            };
            match name {
                "MaxPool" | "AveragePool" => node.attribute.push(ints("kernel_shape", vec![2, 2])),
                "LRN" => node.attribute.push(int("size", 3)),
                _ => {}
            }
            if name == "Constant" {
                continue; // needs a value; parsed in the tests of `shape`
            }
            let ctx = Ctx {
                node: &node,
                attrs: Attributes::of(&node),
                opset: 17,
                constants: &constants,
                device: &device,
            };
            let parsed = parse(&ctx).expect("in the table");
            // Some ops need constant operands (BatchNormalization's statistics, Clip's
            // bounds): given others, they say so.
            if let Err(reason) = parsed {
                assert!(reason.contains("constant"), "{name}: {reason}");
            }
        }
    }
}
