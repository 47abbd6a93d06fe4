//! Objectives on a model layer: channels, neurons, logits, DeepDream, directions, diversity.
//!
//! Every layer activation reaches these closures as NCHW: `[batch, channels, height, width]`
//! (`[batch, K, 1, 1]` for a `[batch, K]` output such as logits).

use burn::tensor::{Tensor, TensorData};

use super::Objective;
use crate::error::{Error, Result};

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
/// Text: `LAYER:C`.
pub fn channel(layer: &str, channel: usize) -> Objective {
    channel_mean(layer, channel, format!("{layer}:{channel}"))
}

/// The layer name that stands for the model's logits output (the ONNX model's manifest
/// `output`, else its first graph output).
pub const OUTPUT: &str = "@output";

/// Class `class` of the logits layer `layer` (or any unit of a `[N, K]` layer): its mean over
/// the batch, as [`channel`] computes it. Text: `logit:LAYER:K` (`logit:K` for [`OUTPUT`]).
pub fn logit(layer: &str, class: usize) -> Objective {
    let description = if layer == OUTPUT {
        format!("logit:{class}")
    } else {
        format!("logit:{layer}:{class}")
    };
    channel_mean(layer, class, description)
}

fn channel_mean(layer: &str, channel: usize, description: String) -> Objective {
    on_layer(layer, description, move |name, act| {
        checked_channel(name, &act, channel)?;
        Ok(act.narrow(1, channel, 1).mean())
    })
}

/// One channel per batch image: image `i` maximises the mean of channel `channels[i]` of `layer`.
/// This is the objective of a whole-layer render, computed with one mask product. A batch that
/// repeats the images (MACO's crops: `k` crops of each, `[img 0, .., img n-1, img 0, ..]`) is
/// `k` times as long: row `r` then maximises channel `channels[r % n]`.
pub fn channels_per_image(layer: &str, channels: Vec<usize>) -> Objective {
    let description = format!("{layer}:{channels:?} per image");
    on_layer(layer, description, move |name, act| {
        let [batch, c, h, w] = act.dims();
        if channels.is_empty() || !batch.is_multiple_of(channels.len()) {
            return Err(Error::Invalid(format!(
                "{} channels for a batch of {batch} images",
                channels.len()
            )));
        }
        let mut mask = vec![0f32; batch * c];
        for (i, &ch) in channels.iter().cycle().take(batch).enumerate() {
            checked_channel(name, &act, ch)?;
            mask[i * c + ch] = 1.0 / (h * w) as f32;
        }
        let mask = Tensor::<4>::from_data(TensorData::new(mask, [batch, c, 1, 1]), &act.device());
        Ok((act * mask).sum())
    })
}

/// One unit: channel `channel` at position `(x, y)` of `layer` (the centre when `None`).
/// Text: `neuron:LAYER:C` or `neuron:LAYER:C@X,Y`.
pub fn neuron(layer: &str, channel: usize, position: Option<(usize, usize)>) -> Objective {
    let description = match position {
        Some((x, y)) => format!("neuron:{layer}:{channel}@{x},{y}"),
        None => format!("neuron:{layer}:{channel}"),
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

/// The suffix that names the prefix tokens (class, distillation, register tokens) of a
/// transformer's token layer: see [`prefix_layer`].
pub const PREFIX_SUFFIX: &str = "#prefix";

/// The name under which a model exposes the prefix tokens of token layer `layer`, as
/// `[N, D, 1, P]` (token `k` at position `(k, 0)`), where `layer` itself is its grid tokens
/// `[N, D, h, w]`.
pub fn prefix_layer(layer: &str) -> String {
    format!("{layer}{PREFIX_SUFFIX}")
}

/// Feature `feature` of prefix token `index` of token layer `layer` (token 0 is the class
/// token). Text: `neuron:LAYER:D@cls` (token 0) or `neuron:LAYER:D@prefixK`.
pub fn prefix_token(layer: &str, feature: usize, index: usize) -> Objective {
    let description = match index {
        0 => format!("neuron:{layer}:{feature}@cls"),
        k => format!("neuron:{layer}:{feature}@prefix{k}"),
    };
    let name = prefix_layer(layer);
    let layer = layer.to_string();
    Objective::new(vec![name.clone()], description, move |acts| {
        let act = acts.get(&name)?;
        checked_channel(&layer, &act, feature)?;
        let prefix = act.dims()[3];
        if index >= prefix {
            return Err(Error::LayerMismatch {
                layer: layer.clone(),
                reason: format!(
                    "it has {prefix} prefix token(s) (`@cls`{}), so there is no `@prefix{index}`",
                    if prefix > 1 {
                        format!(" and `@prefix1` to `@prefix{}`", prefix - 1)
                    } else {
                        String::new()
                    }
                ),
            });
        }
        Ok(act.narrow(1, feature, 1).narrow(3, index, 1).mean())
    })
}

/// The mean squared activation of a whole layer (DeepDream). Text: `deepdream:LAYER`.
pub fn deepdream(layer: &str) -> Objective {
    on_layer(layer, format!("deepdream:{layer}"), |_, act| {
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
/// Text: `diversity:LAYER`.
pub fn diversity(layer: &str) -> Objective {
    on_layer(layer, format!("diversity:{layer}"), |name, act| {
        let group = act.dims()[0];
        grouped_diversity(name, act, group)
    })
}

/// [`diversity`] within each run of `group` consecutive images of the batch (images `0..group`
/// are compared with each other, then `group..2 group`, and so on), for several diverse
/// renders of several units in one batch. The batch must be a multiple of `group`.
pub fn diversity_in_groups(layer: &str, group: usize) -> Objective {
    on_layer(
        layer,
        format!("diversity:{layer} in groups of {group}"),
        move |name, act| grouped_diversity(name, act, group),
    )
}

/// Minus the summed pairwise similarity of the Gram matrices within each group, over the
/// batch size.
///
/// # Shapes
/// - act: `[batch, channels, height, width]`, `batch` a multiple of `group`
fn grouped_diversity(layer: &str, act: Tensor<4>, group: usize) -> Result<Tensor<1>> {
    let [b, c, h, w] = act.dims();
    if group == 0 || !b.is_multiple_of(group) {
        return Err(Error::Invalid(format!(
            "diversity at `{layer}` in groups of {group} needs a batch that is a multiple of it, got {b}"
        )));
    }
    let flat: Tensor<3> = act.reshape([b, c, h * w]);
    let grams = flat
        .clone()
        .matmul(flat.swap_dims(1, 2))
        .reshape([b, c * c]);
    let norms = (grams.clone() * grams.clone())
        .sum_dim(1)
        .sqrt()
        .clamp_min(1e-10);
    let grams: Tensor<3> = (grams / norms).reshape([b / group, group, c * c]);
    let similarity = grams.clone().matmul(grams.swap_dims(1, 2));
    let eye = Tensor::<2>::eye(group, &similarity.device()).unsqueeze::<3>();
    let total = similarity.clone().sum() - (similarity * eye).sum();
    Ok(total * (-1.0 / b as f32))
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Distribution, Tensor, TensorData};

    use super::*;
    use crate::activations::Activations;

    fn value(objective: &Objective, act: Tensor<4>) -> f32 {
        let image = Tensor::<4>::zeros([act.dims()[0], 3, 2, 2], &act.device());
        let acts = Activations::new(image, &["x"], vec![act]);
        objective.evaluate(&acts).unwrap().into_scalar::<f32>()
    }

    #[test]
    fn channels_per_image_follow_a_repeated_batch() {
        let device = Device::flex();
        // Four rows (two images, each repeated as MACO's crops repeat them), 3 channels.
        let values: Vec<f32> = (0..12).map(|v| v as f32).collect();
        let act = Tensor::<4>::from_data(TensorData::new(values, [4, 3, 1, 1]), &device);
        // Rows 0 and 2 read channel 1, rows 1 and 3 channel 2: 1 + 5 + 7 + 11.
        let got = value(&channels_per_image("x", vec![1, 2]), act.clone());
        assert_eq!(got, 24.0);
        let image = Tensor::<4>::zeros([4, 3, 2, 2], &device);
        let acts = Activations::new(image, &["x"], vec![act]);
        assert!(
            channels_per_image("x", vec![0, 1, 2])
                .evaluate(&acts)
                .is_err()
        );
    }

    #[test]
    fn diversity_in_groups_is_the_mean_of_each_group_s_diversity() {
        let device = Device::flex();
        let act = Tensor::<4>::random([4, 3, 5, 5], Distribution::Normal(0.0, 1.0), &device);
        let grouped = value(&diversity_in_groups("x", 2), act.clone());
        let first = value(&diversity("x"), act.clone().narrow(0, 0, 2));
        let second = value(&diversity("x"), act.clone().narrow(0, 2, 2));
        assert!((grouped - (first + second) / 2.0).abs() < 1e-5);
        let whole = value(&diversity_in_groups("x", 4), act.clone());
        assert!((whole - value(&diversity("x"), act.clone())).abs() < 1e-6);
        assert!((grouped - whole).abs() > 1e-4, "groups compare fewer pairs");
        let err = diversity_in_groups("x", 3)
            .evaluate(&Activations::new(
                Tensor::<4>::zeros([4, 3, 2, 2], &device),
                &["x"],
                vec![act],
            ))
            .unwrap_err();
        assert!(err.to_string().contains("multiple"), "{err}");
    }
}
