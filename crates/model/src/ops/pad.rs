//! Padding. <https://onnx.ai/onnx/operators/onnx__Pad.html>

use burn::tensor::ops::PadMode;

use super::Spatial;
use super::{Args, Ctx, Kernel, Outputs, normalize_axis, one};
use crate::value::{Meta, Value};

/// The largest pad of a `Pad` node: far above any real CNN.
const MAX_PAD: i64 = 1 << 14;

/// Pads by `[x1_begin, x2_begin, .., x1_end, x2_end, ..]` from an attribute (opset < 11) or
/// input 1, over all axes or those of input 3.
#[derive(Debug)]
struct Pad {
    pads: Option<Vec<i64>>,
    mode: PadMode,
}

/// `Pad`: constant (value from the attribute or constant input 2), reflect or edge.
pub fn pad(ctx: &Ctx) -> Result<Box<dyn Kernel>, String> {
    let legacy = ctx.opset < 11;
    let mode = match ctx.attrs.string("mode", "constant").as_str() {
        "constant" if legacy => PadMode::Constant(ctx.attrs.float("value", 0.0)?),
        "constant" => PadMode::Constant(ctx.const_scalar(2, 0.0)?),
        "reflect" => PadMode::Reflect,
        "edge" => PadMode::Edge,
        other => return Err(format!("Pad mode `{other}` is not supported")),
    };
    Ok(Box::new(Pad {
        pads: if legacy { ctx.attrs.ints("pads") } else { None },
        mode,
    }))
}

impl Pad {
    /// The `(begin, end)` pads of every axis of a rank-`rank` tensor.
    fn pairs<T: super::args::Operand>(
        &self,
        x: &Args<'_, T>,
        rank: usize,
    ) -> Result<Vec<(usize, usize)>, String> {
        let pads = match &self.pads {
            Some(p) => p.clone(),
            None => x
                .ints(1)
                .map_err(|_| "Pad needs constant pads".to_string())?
                .data
                .clone(),
        };
        let axes: Vec<usize> = match x.opt_ints(3)? {
            Some(a) => a
                .data
                .iter()
                .map(|&a| normalize_axis(a, rank))
                .collect::<Result<_, _>>()?,
            None => (0..rank).collect(),
        };
        let k = axes.len();
        if pads.len() != 2 * k || pads.iter().any(|&p| !(0..=MAX_PAD).contains(&p)) {
            return Err(format!(
                "pads {pads:?} must hold 2 x {k} values in 0..={MAX_PAD}"
            ));
        }
        let mut pairs = vec![(0, 0); rank];
        for (j, &a) in axes.iter().enumerate() {
            pairs[a] = (pads[j] as usize, pads[j + k] as usize);
        }
        Ok(pairs)
    }
}

impl Kernel for Pad {
    fn spatial(&self, x: &Args<'_, Meta>) -> Spatial {
        match self.pairs(x, 4) {
            Ok(p) if x.float(0).is_ok_and(|s| s.len() == 4) => Spatial::Window {
                kernel: [1, 1],
                stride: [1, 1],
                dilation: [1, 1],
                pad_begin: [p[2].0, p[3].0],
            },
            _ => Spatial::Global,
        }
    }

    fn infer(&self, x: &Args<'_, Meta>) -> Outputs<Meta> {
        let shape = x.float(0)?;
        let pairs = self.pairs(x, shape.len())?;
        if let PadMode::Reflect = self.mode
            && shape
                .iter()
                .zip(&pairs)
                .any(|(&d, &(b, e))| b >= d || e >= d)
        {
            return Err(format!(
                "reflect pads {pairs:?} do not fit the shape {shape:?}"
            ));
        }
        one(Meta::Float(
            shape
                .iter()
                .zip(&pairs)
                .map(|(&d, &(b, e))| d + b + e)
                .collect(),
        ))
    }

    fn eval(&self, x: &Args<'_, Value>) -> Outputs<Value> {
        let (t, rank) = x.float(0)?;
        let pairs = self.pairs(x, rank)?;
        one(Value::Float {
            tensor: t.pad(pairs, self.mode),
            rank,
        })
    }
}
