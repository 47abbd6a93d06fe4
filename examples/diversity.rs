//! Four different images that all excite one channel: the channel objective plus a diversity
//! term over the batch.
//!
//! `cargo run --release --example diversity -- [LAYER] [CHANNEL] [STEPS]`, writes `diversity.png`.

use excite::core::ImageParam;
use excite::core::grid::grid;
use excite::core::image_io::{save_png, to_images};
use excite::core::objective::{channel, diversity};
use excite::model::OnnxModel;
use excite::viz::{RenderConfig, default_device, render};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let layer = args.first().map_or("blocks.8", String::as_str);
    let index: usize = args.get(1).map_or(Ok(5), |s| s.parse())?;
    let steps: usize = args.get(2).map_or(Ok(256), |s| s.parse())?;

    let device = default_device();
    let (model, _) = OnnxModel::load_with_manifest(excite::bundled_model_path(), &device)?;
    let objective = channel(layer, index) + 20.0 * diversity(layer);
    let param = ImageParam::fourier(4, 112, 112, 1.0, &device);
    let config = RenderConfig {
        steps,
        ..RenderConfig::default()
    };
    let out = render(&model, &objective, &param, &config, &device, &mut |_| {})?;
    println!(
        "{objective}: {:.3} -> {:.3}",
        out.history[0],
        out.history[steps - 1]
    );
    let images = to_images(out.images)?;
    save_png(&grid(&images, &[], 4), "diversity.png".as_ref())?;
    println!("wrote diversity.png");
    Ok(())
}
