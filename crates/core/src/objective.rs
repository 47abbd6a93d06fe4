//! Objectives: scalar functions of the activations that the ascent maximises, with algebra.
//!
//! ```
//! use excite_core::objective::{channel, diversity, total_variation};
//! let objective = channel("blocks.5", 12) + 0.5 * diversity("blocks.5") - 0.1 * total_variation();
//! assert!(objective.layers().contains(&"blocks.5".to_string()));
//! ```

use std::fmt;
use std::ops::{Add, Mul, Neg, Sub};
use std::sync::Arc;

use burn::tensor::module::avg_pool2d;
use burn::tensor::ops::AvgPoolOptions;
use burn::tensor::{Tensor, TensorData};

use crate::activations::{Activations, INPUT};
use crate::error::{Error, Result};

type EvalFn = dyn Fn(&Activations) -> Result<Tensor<1>> + Send + Sync;

/// A scalar objective to maximise, built from the constructors of this module and combined with
/// `+`, `-` and scalar `*`.
#[derive(Clone)]
pub struct Objective {
    layers: Vec<String>,
    description: String,
    eval: Arc<EvalFn>,
}

impl fmt::Debug for Objective {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Objective({})", self.description)
    }
}

impl fmt::Display for Objective {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.description)
    }
}

impl Objective {
    /// An objective from a closure over the activations of `layers`.
    pub fn new(
        layers: Vec<String>,
        description: impl Into<String>,
        eval: impl Fn(&Activations) -> Result<Tensor<1>> + Send + Sync + 'static,
    ) -> Self {
        Self {
            layers,
            description: description.into(),
            eval: Arc::new(eval),
        }
    }

    /// The model layers this objective reads (never [`INPUT`]).
    pub fn layers(&self) -> &[String] {
        &self.layers
    }

    /// Evaluates the objective to a one-element tensor.
    pub fn evaluate(&self, activations: &Activations) -> Result<Tensor<1>> {
        (self.eval)(activations)
    }

    /// The same objective applied to batch item `index` alone, so that each image of a batch
    /// can optimise its own objective.
    pub fn at(self, index: usize) -> Self {
        let description = format!("({})@{index}", self.description);
        let inner = self.eval;
        Self::new(self.layers, description, move |acts| {
            inner(&acts.select(index)?)
        })
    }

    fn combine(
        self,
        other: Self,
        op: &'static str,
        f: fn(Tensor<1>, Tensor<1>) -> Tensor<1>,
    ) -> Self {
        let mut layers = self.layers;
        for l in other.layers {
            if !layers.contains(&l) {
                layers.push(l);
            }
        }
        let description = format!("{} {op} {}", self.description, other.description);
        let (a, b) = (self.eval, other.eval);
        Self::new(layers, description, move |acts| Ok(f(a(acts)?, b(acts)?)))
    }
}

impl Add for Objective {
    type Output = Objective;
    fn add(self, rhs: Objective) -> Objective {
        self.combine(rhs, "+", |a, b| a + b)
    }
}

impl Sub for Objective {
    type Output = Objective;
    fn sub(self, rhs: Objective) -> Objective {
        self.combine(rhs, "-", |a, b| a - b)
    }
}

impl Mul<Objective> for f32 {
    type Output = Objective;
    fn mul(self, rhs: Objective) -> Objective {
        let description = format!("{self} * ({})", rhs.description);
        let inner = rhs.eval;
        Objective::new(rhs.layers, description, move |acts| Ok(inner(acts)? * self))
    }
}

impl Mul<f32> for Objective {
    type Output = Objective;
    fn mul(self, rhs: f32) -> Objective {
        rhs * self
    }
}

impl Neg for Objective {
    type Output = Objective;
    fn neg(self) -> Objective {
        -1.0 * self
    }
}

impl std::iter::Sum for Objective {
    fn sum<I: Iterator<Item = Objective>>(mut iter: I) -> Objective {
        let first = iter.next().unwrap_or_else(|| constant(0.0));
        iter.fold(first, |a, b| a + b)
    }
}

/// A constant (useful as the neutral element of sums).
pub fn constant(value: f32) -> Objective {
    Objective::new(Vec::new(), format!("{value}"), move |acts| {
        Ok(Tensor::from_data(
            TensorData::new(vec![value], [1]),
            &acts.get(INPUT)?.device(),
        ))
    })
}

/// An objective on one layer: `f(layer name, activation)`.
fn on_layer(
    layer: &str,
    description: String,
    f: impl Fn(&str, Tensor<4>) -> Result<Tensor<1>> + Send + Sync + 'static,
) -> Objective {
    let name = layer.to_string();
    Objective::new(vec![name.clone()], description, move |acts| {
        f(&name, acts.get(&name)?)
    })
}

fn checked_channel(layer: &str, act: &Tensor<4>, channel: usize) -> Result<()> {
    let channels = act.dims()[1];
    if channel < channels {
        Ok(())
    } else {
        Err(Error::ChannelOutOfRange {
            layer: layer.to_string(),
            channel,
            channels,
        })
    }
}

/// The mean activation of one channel of `layer` (over positions and the batch).
pub fn channel(layer: &str, channel: usize) -> Objective {
    on_layer(layer, format!("{layer}:{channel}"), move |name, act| {
        checked_channel(name, &act, channel)?;
        Ok(act.narrow(1, channel, 1).mean())
    })
}

/// A class logit (or any unit of a `[N, K]` layer): the same as [`channel`] on that layer.
pub fn class_logit(layer: &str, class: usize) -> Objective {
    let mut objective = self::channel(layer, class);
    objective.description = format!("{layer}[class {class}]");
    objective
}

/// One channel per batch image: image `i` maximises the mean of channel `channels[i]` of `layer`.
/// This is the objective of a whole-layer render, computed with one mask product.
pub fn channels_per_image(layer: &str, channels: Vec<usize>) -> Objective {
    let description = format!("{layer}:{channels:?} per image");
    on_layer(layer, description, move |name, act| {
        let [batch, c, h, w] = act.dims();
        if channels.len() != batch {
            return Err(Error::Invalid(format!(
                "{} channels for a batch of {batch} images",
                channels.len()
            )));
        }
        let mut mask = vec![0f32; batch * c];
        for (i, &ch) in channels.iter().enumerate() {
            checked_channel(name, &act, ch)?;
            mask[i * c + ch] = 1.0 / (h * w) as f32;
        }
        let mask = Tensor::<4>::from_data(TensorData::new(mask, [batch, c, 1, 1]), &act.device());
        Ok((act * mask).sum())
    })
}

/// One unit: channel `channel` at position `(x, y)` of `layer` (the centre when `None`).
pub fn neuron(layer: &str, channel: usize, position: Option<(usize, usize)>) -> Objective {
    let description = match position {
        Some((x, y)) => format!("{layer}:{channel}@({x},{y})"),
        None => format!("{layer}:{channel}@centre"),
    };
    on_layer(layer, description, move |name, act| {
        checked_channel(name, &act, channel)?;
        let [_, _, height, width] = act.dims();
        if (height, width) == (1, 1) && position.is_some_and(|p| p != (0, 0)) {
            return Err(Error::LayerMismatch {
                layer: name.to_string(),
                reason:
                    "it is not spatial (1x1), so a neuron has no position; use a channel objective"
                        .into(),
            });
        }
        let (x, y) = position.unwrap_or((width / 2, height / 2));
        if x >= width || y >= height {
            return Err(Error::PositionOutOfRange {
                layer: name.to_string(),
                x,
                y,
                width,
                height,
            });
        }
        Ok(act
            .narrow(1, channel, 1)
            .narrow(2, y, 1)
            .narrow(3, x, 1)
            .mean())
    })
}

/// The mean squared activation of a whole layer (DeepDream).
pub fn layer_l2(layer: &str) -> Objective {
    on_layer(layer, format!("L2({layer})"), |_, act| {
        Ok((act.clone() * act).mean())
    })
}

/// The activation vector of `layer` projected on `direction` at every position, averaged. With
/// `cosine_power > 0`, the dot product is weighted by `max(cos, 0.1)^cosine_power`, which favours
/// the direction over sheer magnitude (Lucid's `direction_neuron_cossim`).
pub fn direction(layer: &str, direction: Vec<f32>, cosine_power: f32) -> Objective {
    on_layer(layer, format!("direction({layer})"), move |name, act| {
        let c = act.dims()[1];
        if direction.len() != c {
            return Err(Error::LayerMismatch {
                layer: name.to_string(),
                reason: format!(
                    "the direction has {} values, the layer {c} channels",
                    direction.len()
                ),
            });
        }
        let v = Tensor::<4>::from_data(
            TensorData::new(direction.clone(), [1, c, 1, 1]),
            &act.device(),
        );
        let dot = (act.clone() * v).sum_dim(1);
        if cosine_power <= 0.0 {
            return Ok(dot.mean());
        }
        let v_norm = direction.iter().map(|x| x * x).sum::<f32>().sqrt();
        let norm = (act.clone() * act).sum_dim(1).sqrt() * v_norm;
        let cosine = dot.clone() / (norm + 1e-4);
        Ok((dot * cosine.clamp_min(0.1).powf_scalar(cosine_power)).mean())
    })
}

/// Diversity of the batch at `layer`: minus the mean pairwise dot product of the images'
/// L2-normalised Gram matrices (Lucid's `diversity`). Higher means more different images.
pub fn diversity(layer: &str) -> Objective {
    on_layer(layer, format!("diversity({layer})"), |_, act| {
        let [b, c, h, w] = act.dims();
        let flat: Tensor<3> = act.reshape([b, c, h * w]);
        let grams = flat
            .clone()
            .matmul(flat.swap_dims(1, 2))
            .reshape([b, c * c]);
        let norms = (grams.clone() * grams.clone())
            .sum_dim(1)
            .sqrt()
            .clamp_min(1e-10);
        let grams = grams / norms;
        let similarity = grams.clone().matmul(grams.transpose());
        let total = similarity.clone().sum() - similarity.diag_sum();
        Ok(total * (-1.0 / b as f32))
    })
}

trait DiagSum {
    fn diag_sum(self) -> Tensor<1>;
}

impl DiagSum for Tensor<2> {
    fn diag_sum(self) -> Tensor<1> {
        let [n, _] = self.dims();
        let eye = Tensor::<2>::eye(n, &self.device());
        (self * eye).sum()
    }
}

/// Mean absolute deviation of the image from `constant` (an L1 penalty: subtract it).
pub fn l1(constant: f32) -> Objective {
    Objective::new(Vec::new(), format!("L1(input - {constant})"), move |acts| {
        Ok((acts.get(INPUT)? - constant).abs().mean())
    })
}

/// Mean absolute difference of neighbouring pixels (a smoothness penalty: subtract it).
pub fn total_variation() -> Objective {
    Objective::new(Vec::new(), "TV(input)", |acts| {
        let x = acts.get(INPUT)?;
        let [_, _, h, w] = x.dims();
        let dy = x.clone().narrow(2, 1, h - 1) - x.clone().narrow(2, 0, h - 1);
        let dx = x.clone().narrow(3, 1, w - 1) - x.narrow(3, 0, w - 1);
        Ok(dy.abs().mean() + dx.abs().mean())
    })
}

/// Half the mean squared difference between the image and a (constant) 3x3 blur of it: a
/// penalty that pulls the image towards its blur (subtract it).
pub fn blur() -> Objective {
    Objective::new(Vec::new(), "blur(input)", |acts| {
        let x = acts.get(INPUT)?;
        let options = AvgPoolOptions::new([3, 3])
            .with_stride([1, 1])
            .with_padding([1, 1]);
        let blurred = avg_pool2d(x.clone().detach(), options);
        let d = x - blurred;
        Ok((d.clone() * d).mean() * 0.5)
    })
}
