//! Which saliency map to believe, measured: deletion and insertion curves (Petsiuk et al.
//! 2018, RISE) and the model-randomisation sanity check (Adebayo et al. 2018).
//!
//! - **Deletion**: the photo's pixels turn black in the map's order, most salient first; the
//!   objective after each fraction deleted makes a curve, and a faithful map makes it fall
//!   fast (a small area under it).
//! - **Insertion**: from a blurred copy of the photo (bilinear down to 1/8 and back up), the
//!   photo's pixels come back in the map's order; a faithful map makes the objective rise fast
//!   (a large area).
//! - **Randomisation**: the model's weights are re-drawn layer by layer from the top
//!   (cascading); a map that explains the model changes with them, so the Spearman rank
//!   correlation between the map's magnitudes on the trained and the randomised model falls.
//!   A correlation that stays high says the map shows the photo (edges), not the model.
//!
//! The areas are the mean of the curve over the fraction `[0, 1]` (trapezoids), in the
//! objective's units; divide by the objective on the photo to compare photos.

use burn::tensor::{Tensor, TensorData};
use excite_core::transform::resize;
use excite_core::{Error, Objective, RandomisableModel, Result, VisualModel};
use serde::Serialize;

use crate::saliency::{SaliencyConfig, SaliencyMap, saliency, values_per_image};

/// Settings of [`deletion_insertion`] and [`measured_saliency`].
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsConfig {
    /// Points of each curve after the first (fractions `0, 1/steps, .., 1`).
    pub steps: usize,
    /// Images per forward pass.
    pub batch: usize,
    /// Where the cascading randomisation makes the map again: after re-drawing this fraction
    /// of the weighted layers from the top (at least the top one), ascending.
    pub cascade: Vec<f32>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            steps: 16,
            batch: 8,
            cascade: vec![0.0, 0.25, 0.5, 1.0],
        }
    }
}

impl MetricsConfig {
    /// The cascade's checkpoints as counts of the `layers` weighted layers.
    fn checkpoints(&self, layers: usize) -> Vec<usize> {
        let mut counts: Vec<usize> = self
            .cascade
            .iter()
            .map(|f| ((f.clamp(0.0, 1.0) * layers as f32).round() as usize).clamp(1, layers.max(1)))
            .collect();
        counts.sort_unstable();
        counts.dedup();
        counts
    }
}

/// One curve: the objective against the fraction of pixels deleted or inserted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Curve {
    /// The objective at fractions `0, 1/steps, .., 1`.
    pub values: Vec<f32>,
    /// The mean of the curve over `[0, 1]` (trapezoids).
    pub auc: f32,
}

/// The deletion and insertion curves of one map.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Curves {
    /// Pixels turned black, most salient first: lower is more faithful.
    pub deletion: Curve,
    /// Pixels restored into a blurred photo, most salient first: higher is more faithful.
    pub insertion: Curve,
}

/// A map's faithfulness: its curves, its randomisation check and what it cost.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    /// Deletion and insertion.
    pub curves: Curves,
    /// The cascading randomisation, at the checkpoints of [`MetricsConfig::cascade`].
    pub randomisation: Vec<Randomised>,
    /// The wall time of the map on the trained model, in seconds.
    pub seconds: f32,
}

/// The map of `config` for `objective` on `image`, with its [`Metrics`]. `model` is left
/// randomised (load it again to use it).
///
/// # Shapes
/// - image: `[1, 3, H, W]`
pub fn measured_saliency(
    model: &mut dyn RandomisableModel,
    objective: &Objective,
    image: Tensor<4>,
    config: &SaliencyConfig,
    metrics: &MetricsConfig,
) -> Result<(SaliencyMap, Metrics)> {
    let started = std::time::Instant::now();
    let map = saliency(&*model, objective, image.clone(), config)?;
    let seconds = started.elapsed().as_secs_f32();
    let curves = deletion_insertion(&*model, objective, image.clone(), &map.pixels, metrics)?;
    let checkpoints = metrics.checkpoints(model.weighted_layers().len());
    let randomisation =
        cascading_randomisation(model, objective, image, config, &map.pixels, &checkpoints)?;
    Ok((
        map,
        Metrics {
            curves,
            randomisation,
            seconds,
        },
    ))
}

/// The deletion and insertion curves of `map` (`H · W` values, row-major; ranked by value,
/// highest first) for `objective` on `image`.
///
/// # Shapes
/// - image: `[1, 3, H, W]`
pub fn deletion_insertion(
    model: &dyn VisualModel,
    objective: &Objective,
    image: Tensor<4>,
    map: &[f32],
    config: &MetricsConfig,
) -> Result<Curves> {
    let [n, c, h, w] = image.dims();
    if n != 1 || c != 3 || map.len() != h * w {
        return Err(Error::Invalid(format!(
            "a map of {} values does not fit a photo of shape {:?}",
            map.len(),
            image.dims()
        )));
    }
    if config.steps == 0 || config.batch == 0 {
        return Err(Error::Invalid("steps and batch must be at least 1".into()));
    }
    let image = image.detach();
    let device = image.device();
    let mut order: Vec<usize> = (0..h * w).collect();
    order.sort_by(|&a, &b| map[b].total_cmp(&map[a]));
    // masks[k][p]: whether pixel p is among the first k/steps of the order.
    let masks: Vec<Tensor<4>> = (0..=config.steps)
        .map(|k| {
            let count = (k * h * w).div_ceil(config.steps);
            let mut mask = vec![0f32; h * w];
            for &p in &order[..count] {
                mask[p] = 1.0;
            }
            Tensor::from_data(TensorData::new(mask, [1, 1, h, w]), &device)
        })
        .collect();
    let blurred = resize(
        resize(image.clone(), [h.div_ceil(8), w.div_ceil(8)]),
        [h, w],
    );
    let curve = |make: &dyn Fn(Tensor<4>) -> Tensor<4>| -> Result<Curve> {
        let mut values = Vec::with_capacity(masks.len());
        for chunk in masks.chunks(config.batch) {
            let images: Vec<Tensor<4>> = chunk.iter().map(|m| make(m.clone())).collect();
            values.extend(values_per_image(model, objective, Tensor::cat(images, 0))?);
        }
        Ok(Curve {
            auc: area(&values),
            values,
        })
    };
    Ok(Curves {
        deletion: curve(&|mask| image.clone() * (mask.ones_like() - mask))?,
        insertion: curve(&|mask| {
            image.clone() * mask.clone() + blurred.clone() * (mask.ones_like() - mask)
        })?,
    })
}

/// The mean of evenly spaced `values` over `[0, 1]`, by trapezoids.
fn area(values: &[f32]) -> f32 {
    match values {
        [] => 0.0,
        [only] => *only,
        _ => {
            let inner: f32 = values.windows(2).map(|p| (p[0] + p[1]) / 2.0).sum();
            inner / (values.len() - 1) as f32
        }
    }
}

/// One step of the cascade: the map's rank correlation with the trained model's after the
/// weights of `layer` and every layer above it were re-drawn.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Randomised {
    /// The lowest layer re-drawn so far.
    pub layer: String,
    /// How many weighted layers are re-drawn, from the top.
    pub layers: usize,
    /// The Spearman correlation of the map's magnitudes with the trained model's.
    pub spearman: f32,
}

/// The cascading randomisation check of the map that `config` makes for `objective` on `image`:
/// the weighted layers are re-drawn from the top, and after the top `count` of them, for each
/// `count` of `checkpoints` (ascending), the map is made again and compared with `trained` (the
/// map on the trained model, `H · W` values). `model` is left randomised.
///
/// # Shapes
/// - image: `[1, 3, H, W]`
pub fn cascading_randomisation(
    model: &mut dyn RandomisableModel,
    objective: &Objective,
    image: Tensor<4>,
    config: &SaliencyConfig,
    trained: &[f32],
    checkpoints: &[usize],
) -> Result<Vec<Randomised>> {
    let layers = model.weighted_layers();
    let mut done = 0;
    let mut out = Vec::with_capacity(checkpoints.len());
    for &count in checkpoints {
        let count = count.min(layers.len());
        for (i, layer) in layers.iter().rev().enumerate().take(count).skip(done) {
            model.randomise(layer, config.seed + i as u64)?;
        }
        done = done.max(count);
        let map = saliency(&*model, objective, image.clone(), config)?;
        out.push(Randomised {
            layer: layers[layers.len() - done.max(1)].clone(),
            layers: done,
            spearman: spearman(trained, &map.pixels),
        });
    }
    Ok(out)
}

/// Spearman's rank correlation of the magnitudes of `a` and `b` (ties ranked by their mean
/// rank); 0 when either is constant.
pub fn spearman(a: &[f32], b: &[f32]) -> f32 {
    let magnitudes = |v: &[f32]| v.iter().map(|x| x.abs()).collect::<Vec<f32>>();
    rank_correlation(&magnitudes(a), &magnitudes(b))
}

/// Spearman's rank correlation of `a` and `b`, signed values (ties ranked by their mean
/// rank); 0 when either is constant.
pub fn rank_correlation(a: &[f32], b: &[f32]) -> f32 {
    let (ra, rb) = (ranks(a), ranks(b));
    let n = ra.len() as f64;
    let mean = (n - 1.0) / 2.0;
    let (mut cov, mut va, mut vb) = (0f64, 0f64, 0f64);
    for (x, y) in ra.iter().zip(&rb) {
        cov += (x - mean) * (y - mean);
        va += (x - mean).powi(2);
        vb += (y - mean).powi(2);
    }
    if va == 0.0 || vb == 0.0 {
        0.0
    } else {
        (cov / (va * vb).sqrt()) as f32
    }
}

/// The ranks of `values` from 0, ties sharing their mean rank.
fn ranks(values: &[f32]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0f64; values.len()];
    let mut start = 0;
    while start < order.len() {
        let value = values[order[start]];
        let end = order[start..]
            .iter()
            .position(|&i| values[i] != value)
            .map_or(order.len(), |p| start + p);
        let mean = (start + end - 1) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = mean;
        }
        start = end;
    }
    ranks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spearman_is_one_for_the_same_order_and_minus_one_reversed() {
        let a = [0.1, 0.5, 0.3, 0.9];
        assert!((spearman(&a, &[1.0, 5.0, 3.0, 9.0]) - 1.0).abs() < 1e-6);
        assert!((spearman(&a, &[9.0, 3.0, 5.0, 1.0]) + 1.0).abs() < 1e-6);
        assert_eq!(spearman(&a, &[2.0; 4]), 0.0);
        // Signed: a sign flip reverses the order, which magnitudes do not see.
        let neg = [-0.1, -0.5, -0.3, -0.9];
        assert!((rank_correlation(&a, &neg) + 1.0).abs() < 1e-6);
        assert!((spearman(&a, &neg) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn ties_share_their_mean_rank() {
        assert_eq!(ranks(&[0.0, 2.0, 0.0, -1.0]), [1.5, 3.0, 1.5, 0.0]);
    }

    #[test]
    fn the_cascade_counts_layers_from_the_top() {
        let config = MetricsConfig::default();
        assert_eq!(config.checkpoints(65), [1, 16, 33, 65]);
        assert_eq!(config.checkpoints(2), [1, 2]);
    }

    #[test]
    fn the_area_is_the_trapezoid_mean() {
        assert_eq!(area(&[1.0, 0.0]), 0.5);
        assert_eq!(area(&[2.0, 2.0, 2.0]), 2.0);
    }
}
