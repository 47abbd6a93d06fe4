//! What a saliency method is: a type implementing [`SaliencyMethod`], in the file of its family,
//! listed in [`METHODS`] (in `saliency/mod.rs`); the CLI's `--method` values and help come from
//! that table.

use excite_core::{Error, Result};

use super::{Attribution, Input, METHODS};

/// How a map of `[3, H, W]` values becomes one value per pixel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reduce {
    /// The largest magnitude of the three (gradients: how sensitive the pixel is).
    MaxAbs,
    /// The sum (attributions that add up to a change of the objective).
    Sum,
    /// The mean (occlusion: the same value in every channel).
    Mean,
}

impl Reduce {
    /// `channels` (`[3, plane]` row-major) reduced to `[plane]`.
    pub fn apply(self, channels: &[f32], plane: usize) -> Vec<f32> {
        (0..plane)
            .map(|i| {
                let c = [channels[i], channels[plane + i], channels[2 * plane + i]];
                match self {
                    Reduce::MaxAbs => c.iter().fold(0f32, |m, v| m.max(v.abs())),
                    Reduce::Sum => c.iter().sum(),
                    Reduce::Mean => c.iter().sum::<f32>() / 3.0,
                }
            })
            .collect()
    }
}

/// A saliency method.
pub trait SaliencyMethod: Send + Sync {
    /// The name `--method` takes, kebab-case.
    fn name(&self) -> &'static str;
    /// One line for `--help`: what the map is, with its paper.
    fn about(&self) -> &'static str;
    /// Its samples (noisy copies, path steps) when none are asked for; 1 when it takes none.
    fn default_samples(&self) -> usize {
        1
    }
    /// Whether it reads a layer's activation (class-activation maps).
    fn reads_layer(&self) -> bool {
        false
    }
    /// How its three colour channels become one value per pixel.
    fn reduce(&self) -> Reduce {
        Reduce::MaxAbs
    }
    /// The map of `input`.
    fn compute(&self, input: &Input) -> Result<Attribution>;
}

/// The method named `name`; the error names every method offered.
pub fn method(name: &str) -> Result<&'static dyn SaliencyMethod> {
    METHODS
        .iter()
        .copied()
        .find(|m| m.name() == name)
        .ok_or_else(|| {
            let names: Vec<&str> = METHODS.iter().map(|m| m.name()).collect();
            Error::Invalid(format!(
                "unknown saliency method `{name}`; the methods are {}",
                names.join(", ")
            ))
        })
}
