//! Render what excites one channel of the bundled EfficientNet-Lite0.
//!
//! `cargo run --release --example channel -- [LAYER] [CHANNEL] [STEPS]`
//! (defaults: `blocks.5 12 256`), writes `channel.png`.

use excite::core::image_io::{save_png, to_images};
use excite::core::{ImageParam, objective::channel};
use excite::model::OnnxModel;
use excite::viz::{RenderConfig, default_device, render};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let layer = args.first().map_or("blocks.5", String::as_str);
    let index: usize = args.get(1).map_or(Ok(12), |s| s.parse())?;
    let steps: usize = args.get(2).map_or(Ok(256), |s| s.parse())?;

    let device = default_device();
    let (model, _) = OnnxModel::load_with_manifest(excite::bundled_model_path(), &device)?;
    let objective = channel(layer, index);
    let param = ImageParam::fourier(1, 128, 128, 1.0, &device);
    let config = RenderConfig {
        steps,
        ..RenderConfig::default()
    };
    let out = render(&model, &objective, &param, &config, &device, &mut |p| {
        if p.step % 64 == 0 {
            println!("step {:4}: {} = {:.3}", p.step, objective, p.value);
        }
    })?;
    save_png(&to_images(out.images)?[0], "channel.png".as_ref())?;
    println!("wrote channel.png");
    Ok(())
}
