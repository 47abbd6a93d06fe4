//! Many channels of one layer rendered as one batched optimisation.

use burn::tensor::Device;
use excite_core::image_io::to_images;
use excite_core::objective::{channel, channels_per_image};
use excite_core::{Activations, ImageParam, Result, VisualModel};
use image::RgbImage;

use crate::progress::Progress;
use crate::render::{RenderConfig, render};

/// One channel's render.
#[derive(Clone, Debug)]
pub struct ChannelRender {
    /// The channel.
    pub channel: usize,
    /// The image.
    pub image: RgbImage,
    /// The channel's mean activation on the final image (no transforms).
    pub activation: f32,
}

/// Renders `channels` of `layer` as one batch (image `i` maximises channel `channels[i]`), with
/// a parameterization made by `param` for the batch size.
pub fn render_channels(
    model: &dyn VisualModel,
    layer: &str,
    channels: &[usize],
    param: &dyn Fn(usize) -> ImageParam,
    config: &RenderConfig,
    device: &Device,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Vec<ChannelRender>> {
    let objective = channels_per_image(layer, channels.to_vec());
    let rendered = render(
        model,
        &objective,
        &param(channels.len()),
        config,
        device,
        progress,
    )?;
    // One forward of the whole batch measures every channel on its own image.
    let final_images = rendered.images.detach();
    let activations = Activations::new(
        final_images.clone(),
        &[layer],
        model.activations(final_images.clone(), &[layer])?,
    );
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
            })
        })
        .collect()
}
