//! Render a class of the bundled ImageNet model ("tiger cat" by default), named by the labels
//! of the model's manifest.
//!
//! `cargo run --release --example class_logit -- [CLASS] [STEPS]`, writes `class.png`.

use excite::core::image_io::save_png;
use excite::core::objective::logit;
use excite::{ImageParam, OnnxModel, RenderConfig, default_device, render};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let class = args.next().map_or(Ok(282), |s| s.parse())?;
    let steps = args.next().map_or(Ok(512), |s| s.parse())?;

    let device = default_device()?;
    let model = OnnxModel::load(excite::bundled_model_path(), &device)?;
    let labels = match model.manifest() {
        Some(manifest) => manifest.labels()?.unwrap_or_default(),
        None => Vec::new(),
    };
    let label = labels.get(class).map_or("?", String::as_str);
    let config = RenderConfig::default()
        .with_param(ImageParam::fourier().with_size(160, 160))
        .with_steps(steps);
    let out = render(&model, &logit("logits", class), &config, &device)?;
    save_png(&out.to_images()?[0], "class.png")?;
    println!(
        "class {class} ({label}): logit {:.2} -> class.png",
        out.history[steps - 1]
    );
    Ok(())
}
