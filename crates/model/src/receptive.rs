//! Receptive fields from the graph: each layer's field composed through the windows
//! (convolutions, pools, pads) on the way from the input, joined where branches meet.

use std::collections::HashMap;

use excite_core::ReceptiveField;

use crate::error::Result;
use crate::infer::infer_graph;
use crate::layout::probe_shape;
use crate::model::OnnxModel;
use crate::ops::{Args, Spatial};
use crate::value::Meta;

/// What a tensor's positions see of the input.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Sight {
    /// Nothing: a weight or constant.
    Nothing,
    /// The whole image.
    Everything,
    /// A window of it.
    Field(ReceptiveField),
}

impl Sight {
    /// What a tensor computed from both sees.
    fn join(self, other: Sight) -> Sight {
        match (self, other) {
            (Sight::Nothing, s) | (s, Sight::Nothing) => s,
            (Sight::Field(a), Sight::Field(b)) => {
                a.union(b).map_or(Sight::Everything, Sight::Field)
            }
            _ => Sight::Everything,
        }
    }
}

impl OnnxModel {
    /// The input pixels that each position of `layer` sees, for one image of `size` (height,
    /// width): `None` when a position sees the whole image (after a global pool, a dense
    /// layer, a reshape, or any op that mixes positions).
    ///
    /// A token layer's grid token sees, by this definition, its own patch: the field of the
    /// patch embedding (attention mixes all tokens, but each token is its patch's embedding
    /// plus what it gathered), so dataset examples crop the patch of the strongest token.
    pub fn receptive_field(&self, layer: &str, size: [usize; 2]) -> Result<Option<ReceptiveField>> {
        if let Some(tokens) = self.tokens.get(layer) {
            return self.receptive_field(&tokens.source, size);
        }
        let plan = self.plan(&[layer])?;
        let probe = probe_shape(&self.input_shape, self.input_layout, Some(size));
        let known = infer_graph(
            &self.nodes,
            &self.weights,
            (
                self.input_name.as_str(),
                Meta::Float(probe),
                self.input_layout,
            ),
        )?
        .known;
        let mut sight: HashMap<&str, Sight> = HashMap::from([(
            self.input_name.as_str(),
            Sight::Field(ReceptiveField::identity()),
        )]);
        for i in plan {
            let node = &self.nodes[i];
            let kernel = node.kernel.as_deref().expect("planned nodes are supported");
            let of = |name: &String| sight.get(name.as_str()).copied().unwrap_or(Sight::Nothing);
            let joined = node.inputs.iter().map(of).fold(Sight::Nothing, Sight::join);
            let metas: Vec<Option<&Meta>> = node
                .inputs
                .iter()
                .map(|n| known.get(n).map(|k| &k.meta))
                .collect();
            let out = match (kernel.spatial(&Args::new(&metas)), joined) {
                (_, Sight::Nothing) => Sight::Nothing,
                (Spatial::Same, s) => s,
                (
                    Spatial::Window {
                        kernel,
                        stride,
                        dilation,
                        pad_begin,
                    },
                    _,
                ) => match node.inputs.first().map(of) {
                    Some(Sight::Field(rf)) => {
                        Sight::Field(rf.through(kernel, stride, dilation, pad_begin))
                    }
                    _ => Sight::Everything,
                },
                (Spatial::Global, _) => Sight::Everything,
            };
            for output in &node.outputs {
                sight.insert(output.as_str(), out);
            }
        }
        Ok(match sight.get(self.resolve(layer)) {
            Some(Sight::Field(rf)) => Some(*rf),
            _ => None,
        })
    }
}
