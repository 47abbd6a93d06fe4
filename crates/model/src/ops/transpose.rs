//! Axis permutation. <https://onnx.ai/onnx/operators/onnx__Transpose.html>

use super::Spatial;
use super::{Args, Ctx, Kernel, Outputs, one};
use crate::layout::Layout;
use crate::value::{MAX_RANK, Meta, Value};

/// Permutes axes.
#[derive(Debug)]
struct Transpose {
    perm: Option<Vec<i64>>,
}

/// `Transpose` (`perm` absent: reverse the axes).
pub fn transpose(ctx: &Ctx) -> Result<Box<dyn Kernel>, String> {
    Ok(Box::new(Transpose {
        perm: ctx.attrs.ints("perm"),
    }))
}

impl Transpose {
    fn perm(&self, rank: usize) -> Result<Vec<usize>, String> {
        let perm: Vec<usize> = match &self.perm {
            Some(p) => p
                .iter()
                .map(|&v| usize::try_from(v).map_err(|_| format!("negative perm {p:?}")))
                .collect::<Result<_, _>>()?,
            None => (0..rank).rev().collect(),
        };
        let mut sorted = perm.clone();
        sorted.sort_unstable();
        if sorted != (0..rank).collect::<Vec<_>>() {
            return Err(format!("perm {perm:?} is not a permutation of rank {rank}"));
        }
        Ok(perm)
    }
}

impl Kernel for Transpose {
    fn spatial(&self, _: &Args<'_, Meta>) -> Spatial {
        // Moving the channels between first and last keeps the spatial axes in order.
        match self.perm(4) {
            Ok(p)
                if [[0, 1, 2, 3], [0, 2, 3, 1], [0, 3, 1, 2]]
                    .contains(&p.as_slice().try_into().unwrap_or([9; 4])) =>
            {
                Spatial::Same
            }
            _ => Spatial::Global,
        }
    }

    fn infer(&self, x: &Args<'_, Meta>) -> Outputs<Meta> {
        let s = x.float(0)?;
        let perm = self.perm(s.len())?;
        one(Meta::Float(perm.iter().map(|&p| s[p]).collect()))
    }

    fn eval(&self, x: &Args<'_, Value>) -> Outputs<Value> {
        if let Value::Ints(v) = x.get(0)? {
            return one(Value::Ints(v.transpose(&self.perm(v.shape.len())?)));
        }
        let (t, rank) = x.float(0)?;
        let perm = self.perm(rank)?;
        let offset = MAX_RANK - rank;
        let full: [usize; MAX_RANK] = std::array::from_fn(|i| {
            if i < offset {
                i
            } else {
                offset + perm[i - offset]
            }
        });
        one(Value::Float {
            tensor: t.permute(full),
            rank,
        })
    }

    fn layout(&self, inputs: &[Option<Layout>]) -> Layout {
        let from = inputs.first().copied().flatten().unwrap_or(Layout::Nchw);
        match self.perm(4) {
            Ok(perm) => from.after(&perm),
            Err(_) => Layout::Nchw,
        }
    }
}
