//! DeepDream: start from a photo instead of noise and amplify whatever a layer sees in it.
//!
//! `cargo run --release --example deepdream -- [IMAGE] [LAYER] [STEPS]`
//! (defaults: the test cat photo, `blocks.8`, 64), writes `deepdream.png`.

use burn::tensor::Device;
use excite::core::image_io::{from_image, read_image, save_png};
use excite::core::objective::deepdream;
use excite::core::transform::Transform;
use excite::{ImageParam, OnnxModel, RenderConfig, default_device, render};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let photo = args.next().unwrap_or_else(|| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/chelsea_224.png").to_string()
    });
    let layer = args.next().unwrap_or_else(|| "blocks.8".into());
    let steps = args.next().map_or(Ok(64), |s| s.parse())?;

    let device = default_device()?;
    let model = OnnxModel::load(excite::bundled_model_path(), &device)?;
    let picture = from_image(&read_image(photo.as_ref(), None)?, &Device::flex());
    let config = RenderConfig {
        learning_rate: 0.02,
        transforms: vec![Transform::Jitter(4)],
        ..RenderConfig::default()
            .with_param(ImageParam::from_image(picture))
            .with_steps(steps)
    };
    let out = render(&model, &deepdream(&layer), &config, &device)?;
    save_png(&out.to_images()?[0], "deepdream.png")?;
    println!(
        "deepdream:{layer} {:.3} -> deepdream.png",
        out.history[steps - 1]
    );
    Ok(())
}
