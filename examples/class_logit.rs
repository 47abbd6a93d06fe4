//! Render a class of the bundled ImageNet model ("tiger cat" by default).
//!
//! `cargo run --release --example class_logit -- [CLASS] [STEPS]`, writes `class.png`.

use excite::core::image_io::{save_png, to_images};
use excite::core::{ImageParam, objective::class_logit};
use excite::model::OnnxModel;
use excite::viz::{RenderConfig, default_device, render};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let class: usize = args.first().map_or(Ok(282), |s| s.parse())?;
    let steps: usize = args.get(1).map_or(Ok(512), |s| s.parse())?;

    let device = default_device();
    let (model, manifest) = OnnxModel::load_with_manifest(excite::bundled_model_path(), &device)?;
    let labels = manifest
        .and_then(|m| m.labels().ok().flatten())
        .unwrap_or_default();
    let label = labels.get(class).map_or("?", String::as_str);
    println!("rendering class {class} ({label})");
    let param = ImageParam::fourier(1, 160, 160, 1.0, &device);
    let config = RenderConfig {
        steps,
        ..RenderConfig::default()
    };
    let out = render(
        &model,
        &class_logit("logits", class),
        &param,
        &config,
        &device,
        &mut |_| {},
    )?;
    println!(
        "logit {:.2} -> {:.2}",
        out.history[0],
        out.history[steps - 1]
    );
    save_png(&to_images(out.images)?[0], "class.png".as_ref())?;
    println!("wrote class.png");
    Ok(())
}
