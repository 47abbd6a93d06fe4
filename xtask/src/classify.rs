//! `classify`: the model's top-5 classes for an image.

use anyhow::{Result, bail};
use burn::tensor::Device;
use burn::tensor::activation::softmax;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use excite::OnnxModel;
use excite::core::VisualModel;
use excite::core::image_io::{from_image, read_image};
use excite::core::objective::OUTPUT;

use crate::cli::ClassifyArgs;

/// Prints the top-5 classes with probabilities and labels.
pub fn run(args: &ClassifyArgs, device: &Device) -> Result<()> {
    let device = device.clone().without_autodiff();
    let model = OnnxModel::load(&args.model.model, &device)?;
    let size = model.photo_side();
    model.check_input_size(size)?;
    let labels = match model.manifest() {
        Some(m) => m.labels()?.unwrap_or_default(),
        None => Vec::new(),
    };
    let picture = read_image(&args.image, None)?;
    let mut x = from_image(&picture, &device);
    if picture.dimensions() != (size as u32, size as u32) {
        let options =
            InterpolateOptions::new(InterpolateMode::Bilinear).with_output_size([size, size]);
        x = interpolate(x, options);
    }
    let logits = model.activations(x, &[OUTPUT])?.remove(0);
    let [_, k, h, w] = logits.dims();
    if h * w != 1 {
        bail!(
            "the model's output `{}` holds {k} x {h} x {w} values per image, not class logits; name the logits output in a manifest beside the model (`output = \"NAME\"`)",
            model.output_name()?
        );
    }
    let probs = softmax(logits.reshape([1, k]), 1)
        .into_data()
        .try_to_vec::<f32>()
        .map_err(|e| anyhow::anyhow!("cannot read the probabilities: {e:?}"))?;
    if probs.iter().any(|p| !p.is_finite()) {
        bail!("the model's output holds NaN or infinity for this image; check the model's weights");
    }
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]));
    for &i in order.iter().take(5) {
        let label = labels.get(i).map_or("", String::as_str);
        println!("{:>6.2}%  {i:>4}  {label}", probs[i] * 100.0);
    }
    Ok(())
}
