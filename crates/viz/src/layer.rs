//! Many channels of one layer rendered as one batched optimisation.

use burn::tensor::Device;
use excite_core::image_io::to_images;
use excite_core::objective::{channel, channels_per_image, diversity_in_groups};
use excite_core::transform::{crop_output, crop_region};
use excite_core::{Activations, Error, Objective, Result, VisualModel};
use image::RgbImage;

use crate::render::{RenderConfig, render, seen_part};

/// One channel's render.
#[derive(Clone, Debug)]
pub struct ChannelRender {
    /// The channel.
    pub channel: usize,
    /// The image.
    pub image: RgbImage,
    /// The channel's mean activation on the final image (no transforms).
    pub activation: f32,
    /// Whether the channel's gradient was zero at the start (a dead unit: its image is the
    /// start image).
    pub dead: bool,
}

/// Renders `channels` of `layer` as one batch (image `i` maximises channel `channels[i]`), with
/// `config.param`'s parameterization at a batch of `channels.len()`.
pub fn render_channels(
    model: &dyn VisualModel,
    layer: &str,
    channels: &[usize],
    config: &RenderConfig,
    device: &Device,
) -> Result<Vec<ChannelRender>> {
    let objective = channels_per_image(layer, channels.to_vec());
    render_batch(model, layer, &objective, channels, config, device)
}

/// [`render_channels`] minimising instead: image `i` drives channel `channels[i]` as low as
/// it goes (the unit's negative; [`ChannelRender::activation`] is then the lowest reached).
pub fn render_negative_channels(
    model: &dyn VisualModel,
    layer: &str,
    channels: &[usize],
    config: &RenderConfig,
    device: &Device,
) -> Result<Vec<ChannelRender>> {
    let objective = -channels_per_image(layer, channels.to_vec());
    render_batch(model, layer, &objective, channels, config, device)
}

/// `count` different renders of each of `channels`, all in one batch: each channel's images
/// maximise it while [`diversity_in_groups`] pushes them apart (weight `diversity`, Lucid's
/// `channel - 1e2 * diversity` uses 100). Returns one list of `count` renders per channel.
pub fn render_diverse_channels(
    model: &dyn VisualModel,
    layer: &str,
    channels: &[usize],
    count: usize,
    diversity: f32,
    config: &RenderConfig,
    device: &Device,
) -> Result<Vec<Vec<ChannelRender>>> {
    if count < 2 {
        return Err(Error::Invalid(format!(
            "diverse renders come at least two per unit, got {count}"
        )));
    }
    let each: Vec<usize> = channels
        .iter()
        .flat_map(|&c| std::iter::repeat_n(c, count))
        .collect();
    // The channel terms sum over images while the diversity term is divided by the batch:
    // scaled back by the batch, each group weighs `diversity` as in Lucid's one-unit render.
    let weight = diversity * each.len() as f32;
    let objective =
        channels_per_image(layer, each.clone()) + weight * diversity_in_groups(layer, count);
    let renders = render_batch(model, layer, &objective, &each, config, device)?;
    Ok(renders.chunks(count).map(<[_]>::to_vec).collect())
}

/// Renders `objective` at a batch of `channels.len()` and measures image `i` on channel
/// `channels[i]`, without transforms.
fn render_batch(
    model: &dyn VisualModel,
    layer: &str,
    objective: &Objective,
    channels: &[usize],
    config: &RenderConfig,
    device: &Device,
) -> Result<Vec<ChannelRender>> {
    let config = RenderConfig {
        param: config.param.clone().with_batch(channels.len()),
        ..config.clone()
    };
    let (final_images, dead) = match render(model, objective, &config, device) {
        Ok(rendered) => (rendered.images, rendered.dead),
        // Every channel is dead: stop at once, with the start images.
        Err(Error::NoGradient) => {
            let (generator, raw) = config.param.init(config.seed, device)?;
            (generator.image(raw), vec![true; channels.len()])
        }
        Err(e) => return Err(e),
    };
    // With MACO's crops, each unit's picture is the part its crops saw, at the model's size.
    let final_images = match (
        crop_region(&config.transforms),
        crop_output(&config.transforms),
    ) {
        (Some(region), Some(size)) => seen_part(final_images, region, size),
        _ => final_images,
    };
    // One forward of the whole batch measures every channel on its own image.
    let final_images = final_images.detach();
    let activations =
        Activations::compute(model, final_images.clone(), final_images.clone(), &[layer])?;
    let images = to_images(final_images)?;
    channels
        .iter()
        .zip(images)
        .enumerate()
        .map(|(i, (&c, image))| {
            let value = channel(layer, c).at(i).evaluate(&activations)?;
            Ok(ChannelRender {
                channel: c,
                image,
                activation: value.into_scalar::<f32>(),
                dead: dead.get(i).copied().unwrap_or(false),
            })
        })
        .collect()
}
