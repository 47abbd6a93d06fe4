//! DeepDream: start from a photo and amplify whatever a layer sees in it.
//!
//! `cargo run --release --example deepdream -- [IMAGE] [LAYER] [STEPS]`
//! (defaults: the test cat photo, `blocks.8`, 64), writes `deepdream.png`.

use excite::core::image_io::{from_image, read_image, save_png, to_images};
use excite::core::transform::Transform;
use excite::core::{ImageParam, objective::layer_l2};
use excite::model::OnnxModel;
use excite::viz::{RenderConfig, default_device, render};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let photo = args.first().cloned().unwrap_or_else(|| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/chelsea_224.png").to_string()
    });
    let layer = args.get(1).map_or("blocks.8", String::as_str);
    let steps: usize = args.get(2).map_or(Ok(64), |s| s.parse())?;

    let device = default_device();
    let (model, _) = OnnxModel::load_with_manifest(excite::bundled_model_path(), &device)?;
    let picture = read_image(photo.as_ref(), None)?;
    let param = ImageParam::from_image(from_image(&picture, &device).without_autodiff());
    let config = RenderConfig {
        steps,
        learning_rate: 0.02,
        transforms: vec![Transform::Jitter(4)],
        ..RenderConfig::default()
    };
    let out = render(
        &model,
        &layer_l2(layer),
        &param,
        &config,
        &device,
        &mut |_| {},
    )?;
    println!(
        "L2({layer}) {:.3} -> {:.3}",
        out.history[0],
        out.history[steps - 1]
    );
    save_png(&to_images(out.images)?[0], "deepdream.png".as_ref())?;
    println!("wrote deepdream.png");
    Ok(())
}
