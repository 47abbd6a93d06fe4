//! How far to trust a render: scores that compare it with the natural photos that excite the
//! same objective.
//!
//! - **Activation vs photos**: the objective on the render divided by its best value among
//!   the top photos: how far beyond natural images the render reaches.
//! - **Path similarity** (Geirhos et al., ICML 2024, "Don't trust your eyes"): a render that
//!   shows what the unit responds to excites it along the same path through the network as
//!   the photos that excite it. At each of up to [`PATH_LAYERS`] layers below the objective's,
//!   every image is summarised by its channel means, standardised per channel over the
//!   random photos (z-scores: which channels it drives above or below their usual level on
//!   natural images).
//!   The top photos' mean profile is the path; the render's similarity at that layer is the
//!   Spearman correlation of its profile with the path, and the baseline the mean of the same
//!   correlation for random photos of the set. The score is the mean over layers of the
//!   difference (render minus baseline): above 0, the render follows the top photos' path more
//!   closely than an unrelated photo does; at or below 0 the check fails and the picture
//!   should be distrusted.
//! - **Plausibility** (Fel et al., NeurIPS 2023, MACO): in a late layer's feature space
//!   (channel means of the deepest spatial layer), the render's mean cosine distance to the
//!   top photos, divided by a random photo's (the mean over the random photos; without
//!   random photos, a top photo's to the others): 1 is as close to the top photos as a
//!   natural photo is; higher is further from natural images.

use std::path::PathBuf;

use burn::tensor::{Device, Tensor};
use excite_core::image_io::from_image;
use excite_core::objective::OUTPUT;
use excite_core::{Activations, Error, Objective, Result, VisualModel};
use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::examples::ChannelExamples;
use crate::faithfulness::rank_correlation;
use crate::photos::{load_square, square};

/// The most layers the path is measured at (spread evenly below the objective's layer).
pub const PATH_LAYERS: usize = 8;

/// Top photos, and random ones, a render is scored against by [`score_against`].
pub const TOP: usize = 9;

/// The photos a render is scored against.
#[derive(Clone, Debug, Default)]
pub struct Reference {
    /// The photos that excite the objective most (its top dataset examples).
    pub top: Vec<PathBuf>,
    /// Photos of the same set that are not among them: the baseline of the path.
    pub random: Vec<PathBuf>,
    /// The side the model sees the photos (and the render) at.
    pub size: usize,
}

impl Reference {
    /// `top`, and up to `count` photos of `photos` spread evenly over the set that are not
    /// in `top`, at `size`.
    pub fn new(top: Vec<PathBuf>, photos: &[PathBuf], count: usize, size: usize) -> Self {
        let others: Vec<&PathBuf> = photos.iter().filter(|p| !top.contains(p)).collect();
        let step = (others.len() as f32 / count.max(1) as f32).max(1.0);
        let random = (0..count.min(others.len()))
            .map(|k| others[(k as f32 * step) as usize].clone())
            .collect();
        Self { top, random, size }
    }
}

/// The render's similarity to the top photos at one layer, and the baseline's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PathPoint {
    /// The layer.
    pub layer: String,
    /// Spearman correlation of the render's profile with the top photos' mean profile.
    pub render: f32,
    /// The mean Spearman correlation of random photos' profiles with it.
    pub baseline: f32,
}

/// The scores of one render (see the module's documentation for their definitions).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// The objective on the render over its best value among the top photos (`None` when
    /// that is not positive).
    pub activation_vs_photos: Option<f32>,
    /// The path, layer by layer from the input (empty when the objective's layer is the
    /// first).
    pub path: Vec<PathPoint>,
    /// The mean over the path of render minus baseline; the check passes above 0.
    pub path_similarity: Option<f32>,
    /// The layer of the plausibility's feature space.
    pub feature_layer: String,
    /// The render's mean distance to the top photos over a random photo's.
    pub plausibility: f32,
}

impl Scores {
    /// Whether the render passes the path check (no path: not measured, so not failed).
    pub fn path_ok(&self) -> bool {
        self.path_similarity.is_none_or(|s| s > 0.0)
    }
}

/// Scores `render` for `objective` against `reference` (see the module's documentation).
/// Needs at least two top photos.
///
/// # Shapes
/// - the model's input: `[N, 3, reference.size, reference.size]`
pub fn score_render(
    model: &dyn VisualModel,
    objective: &Objective,
    render: &RgbImage,
    reference: &Reference,
    device: &Device,
) -> Result<Scores> {
    if reference.top.len() < 2 {
        return Err(Error::Invalid(
            "scoring a render needs at least two top photos".into(),
        ));
    }
    let size = reference.size as u32;
    let mut images = vec![from_image(&square(render, size), device)];
    for photo in reference.top.iter().chain(&reference.random) {
        images.push(from_image(&load_square(photo, size)?, device));
    }
    let (k, r) = (reference.top.len(), reference.random.len());
    let (path_layers, feature_layer) = layers(model, objective)?;
    let mut names: Vec<&str> = objective.layers().iter().map(String::as_str).collect();
    names.extend(path_layers.iter().map(String::as_str));
    names.push(&feature_layer);
    names.dedup();
    let batch = Tensor::cat(images, 0);
    let acts = Activations::compute(model, batch.clone(), batch, &names)?;
    let values: Vec<f32> = (0..=k)
        .map(|i| scalar(objective.clone().at(i).evaluate(&acts)?))
        .collect::<Result<_>>()?;
    let best = values[1..].iter().copied().fold(f32::MIN, f32::max);
    let activation_vs_photos = (best > 0.0).then(|| values[0] / best);
    // The usual level of each channel: the random photos' (the top ones are unusual by
    // construction), or every photo's when there are too few random ones.
    let usual = if r >= 2 {
        k + 1..k + 1 + r
    } else {
        1..k + 1 + r
    };
    let mut path = Vec::with_capacity(path_layers.len());
    for layer in &path_layers {
        let profiles = standardized(&channel_means(acts.get(layer)?)?, usual.clone());
        let top = mean_profile(&profiles[1..=k]);
        let baseline = if r == 0 {
            0.0
        } else {
            profiles[k + 1..]
                .iter()
                .map(|p| rank_correlation(p, &top))
                .sum::<f32>()
                / r as f32
        };
        path.push(PathPoint {
            layer: layer.clone(),
            render: rank_correlation(&profiles[0], &top),
            baseline,
        });
    }
    let path_similarity = (!path.is_empty())
        .then(|| path.iter().map(|p| p.render - p.baseline).sum::<f32>() / path.len() as f32);
    let features = channel_means(acts.get(&feature_layer)?)?;
    let to_top = |i: usize| {
        (1..=k)
            .filter(|&j| j != i)
            .map(|j| cosine_distance(&features[i], &features[j]))
            .sum::<f32>()
            / (1..=k).filter(|&j| j != i).count() as f32
    };
    // The render's distance to the top photos, over a natural photo's: random photos when
    // there are some, else the top photos' among themselves.
    let natural = if r > 0 {
        (k + 1..=k + r).map(to_top).sum::<f32>() / r as f32
    } else {
        (1..=k).map(to_top).sum::<f32>() / k as f32
    };
    let plausibility = to_top(0) / natural.max(1e-6);
    Ok(Scores {
        activation_vs_photos,
        path,
        path_similarity,
        feature_layer,
        plausibility,
    })
}

/// Scores `render` against a photo set: its [`TOP`] photos for `objective` ([`top_photos`])
/// and [`TOP`] others spread over the set ([`Reference::new`]), seen at `size`.
///
/// # Shapes
/// - the model's input: `[N, 3, size, size]`
pub fn score_against(
    model: &dyn VisualModel,
    objective: &Objective,
    render: &RgbImage,
    photos: &[PathBuf],
    size: usize,
    device: &Device,
) -> Result<Scores> {
    let top = top_photos(model, objective, photos, TOP, size, device)?;
    let top = top.into_iter().map(|(photo, _)| photo).collect();
    let reference = Reference::new(top, photos, TOP, size);
    score_render(model, objective, render, &reference, device)
}

/// Scores the renders of channels of `layer` (channel, image) against a photo set: the
/// layer's photos ranked once ([`dataset_examples`](crate::dataset_examples)), then each
/// render against its channel's top [`TOP`] photos and [`TOP`] others, seen at `size`.
///
/// # Shapes
/// - the model's input: `[N, 3, size, size]`
pub fn score_layer(
    model: &dyn VisualModel,
    layer: &str,
    renders: &[(usize, RgbImage)],
    photos: &[PathBuf],
    size: usize,
    device: &Device,
) -> Result<Vec<(usize, Scores)>> {
    let (Some(first), Some(last)) = (
        renders.iter().map(|(c, _)| *c).min(),
        renders.iter().map(|(c, _)| *c).max(),
    ) else {
        return Ok(Vec::new());
    };
    let config = crate::ExamplesConfig {
        channels: [first, last + 1],
        top: TOP,
        size,
        ..crate::ExamplesConfig::default()
    };
    let examples = crate::dataset_examples(model, layer, photos, &config, device)?;
    renders
        .iter()
        .map(|(channel, image)| {
            let unit = &examples.channels[channel - first];
            let scores = score_channel(model, layer, unit, image, photos, size, device)?;
            Ok((*channel, scores))
        })
        .collect()
}

/// Scores the render of `unit`'s channel of `layer` against that channel's top photos by mean
/// activation (its dataset examples) and [`TOP`] others of `photos`, seen at `size`.
///
/// # Shapes
/// - the model's input: `[N, 3, size, size]`
pub fn score_channel(
    model: &dyn VisualModel,
    layer: &str,
    unit: &ChannelExamples,
    render: &RgbImage,
    photos: &[PathBuf],
    size: usize,
    device: &Device,
) -> Result<Scores> {
    let top = unit.top_mean.iter().map(|h| h.image.clone()).collect();
    let reference = Reference::new(top, photos, TOP, size);
    let objective = excite_core::objective::channel(layer, unit.channel);
    score_render(model, &objective, render, &reference, device)
}

/// The photos of `photos` on which `objective` is highest, best first, with their values:
/// the top dataset examples of any objective (a channel, a neuron, a logit, a direction).
///
/// # Shapes
/// - the model's input: `[batch, 3, size, size]`
pub fn top_photos(
    model: &dyn VisualModel,
    objective: &Objective,
    photos: &[PathBuf],
    count: usize,
    size: usize,
    device: &Device,
) -> Result<Vec<(PathBuf, f32)>> {
    let names: Vec<&str> = objective.layers().iter().map(String::as_str).collect();
    let mut scored = Vec::with_capacity(photos.len());
    for chunk in photos.chunks(16) {
        let images = chunk
            .iter()
            .map(|p| Ok(from_image(&load_square(p, size as u32)?, device)))
            .collect::<Result<Vec<_>>>()?;
        let batch = Tensor::cat(images, 0);
        let acts = Activations::compute(model, batch.clone(), batch, &names)?;
        for (i, photo) in chunk.iter().enumerate() {
            scored.push((
                photo.clone(),
                scalar(objective.clone().at(i).evaluate(&acts)?)?,
            ));
        }
    }
    scored.sort_by(|a, b| b.1.total_cmp(&a.1));
    scored.truncate(count);
    Ok(scored)
}

/// The rank (1 = first) of `class` among the logits that `model` gives `image` scaled to
/// `size` (its output, `[1, K]`): whether a class render made on one model is recognised by
/// another (MACO's transferability), with the class the model ranks first.
///
/// # Shapes
/// - the model's input: `[1, 3, size, size]`
pub fn class_rank(
    model: &dyn VisualModel,
    image: &RgbImage,
    class: usize,
    size: usize,
    device: &Device,
) -> Result<(usize, usize)> {
    let x = from_image(&square(image, size as u32), device);
    let logits = model.activations(x, &[OUTPUT])?.remove(0);
    let [_, k, h, w] = logits.dims();
    if h * w != 1 || class >= k {
        return Err(Error::Invalid(format!(
            "the model's output holds {k} x {h} x {w} values per image: no logit {class} to rank"
        )));
    }
    let values = channel_means(logits)?.remove(0);
    let rank = 1 + values.iter().filter(|&&v| v > values[class]).count();
    let first = (0..k)
        .max_by(|&a, &b| values[a].total_cmp(&values[b]))
        .unwrap_or(0);
    Ok((rank, first))
}

/// The path layers (up to [`PATH_LAYERS`] spatial layers below the objective's first layer,
/// spread evenly) and the feature layer (the deepest spatial layer).
fn layers(model: &dyn VisualModel, objective: &Objective) -> Result<(Vec<String>, String)> {
    let summaries = model.layer_summaries();
    let spatial = |shape: &[usize]| shape.len() == 4 && shape[2] * shape[3] > 1;
    let feature = summaries
        .iter()
        .rev()
        .find(|l| spatial(&l.shape))
        .map(|l| l.name.clone())
        .ok_or_else(|| Error::Invalid("the model lists no spatial layer to score in".into()))?;
    let end = objective
        .layers()
        .iter()
        .filter(|l| l.as_str() != OUTPUT)
        .filter_map(|l| summaries.iter().position(|s| &s.name == l))
        .min()
        .unwrap_or(summaries.len());
    let below: Vec<&str> = summaries[..end]
        .iter()
        .filter(|l| spatial(&l.shape))
        .map(|l| l.name.as_str())
        .collect();
    let count = below.len().min(PATH_LAYERS);
    let path = (0..count)
        .map(|i| below[(i + 1) * below.len() / count - 1].to_string())
        .collect();
    Ok((path, feature))
}

/// Each image's channel means.
///
/// # Shapes
/// - acts: `[N, C, H, W]`
fn channel_means(acts: Tensor<4>) -> Result<Vec<Vec<f32>>> {
    let [n, c, h, w] = acts.dims();
    let means = acts.reshape([n, c, h * w]).mean_dim(2);
    let values = means
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| Error::Invalid(format!("cannot read activations: {e:?}")))?;
    Ok(values.chunks(c).map(<[f32]>::to_vec).collect())
}

/// Each image's channel means as z-scores of those of the images `usual`: which channels an
/// image drives above or below their usual level. Without it every pair of images correlates
/// highly through the channels' common offsets.
fn standardized(means: &[Vec<f32>], usual: std::ops::Range<usize>) -> Vec<Vec<f32>> {
    let photos = &means[usual];
    let n = photos.len() as f32;
    let channels = means[0].len();
    let (mut mean, mut spread) = (vec![0f32; channels], vec![0f32; channels]);
    for c in 0..channels {
        mean[c] = photos.iter().map(|p| p[c]).sum::<f32>() / n;
        let var = photos.iter().map(|p| (p[c] - mean[c]).powi(2)).sum::<f32>() / n;
        spread[c] = var.sqrt() + 1e-6;
    }
    means
        .iter()
        .map(|m| {
            (0..channels)
                .map(|c| (m[c] - mean[c]) / spread[c])
                .collect()
        })
        .collect()
}

/// The mean of profiles.
fn mean_profile(profiles: &[Vec<f32>]) -> Vec<f32> {
    let n = profiles.len() as f32;
    (0..profiles[0].len())
        .map(|c| profiles.iter().map(|p| p[c]).sum::<f32>() / n)
        .collect()
}

/// `1 - cos(a, b)`; 1 when either is zero.
fn cosine_distance(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    let (na, nb) = (norm(a), norm(b));
    if na == 0.0 || nb == 0.0 {
        1.0
    } else {
        1.0 - dot / (na * nb)
    }
}

/// A one-element tensor's value.
fn scalar(t: Tensor<1>) -> Result<f32> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| Error::Invalid(format!("cannot read the objective: {e:?}")))
        .map(|v| v[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_and_reference() {
        assert!(cosine_distance(&[1.0, 0.0], &[2.0, 0.0]).abs() < 1e-6);
        assert!((cosine_distance(&[1.0, 0.0], &[0.0, 3.0]) - 1.0).abs() < 1e-6);
        let photos: Vec<PathBuf> = (0..10).map(|i| PathBuf::from(format!("{i}.jpg"))).collect();
        let reference = Reference::new(photos[..2].to_vec(), &photos, 4, 32);
        assert_eq!(reference.random.len(), 4);
        assert!(reference.random.iter().all(|p| !reference.top.contains(p)));
    }
}
