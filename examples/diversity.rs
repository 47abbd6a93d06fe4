//! Four different images that all excite one channel: the channel objective plus a diversity
//! term over a batch of four.
//!
//! `cargo run --release --example diversity -- [LAYER] [CHANNEL] [STEPS]`, writes `diversity.png`.

use excite::core::grid::grid;
use excite::core::image_io::save_png;
use excite::core::objective::{channel, diversity};
use excite::{ImageParam, OnnxModel, RenderConfig, default_device, render};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let layer = args.next().unwrap_or_else(|| "blocks.8".into());
    let index = args.next().map_or(Ok(5), |s| s.parse())?;
    let steps = args.next().map_or(Ok(256), |s| s.parse())?;

    let device = default_device()?;
    let model = OnnxModel::load(excite::bundled_model_path(), &device)?;
    let objective = channel(&layer, index) + 20.0 * diversity(&layer);
    let config = RenderConfig::default()
        .with_param(ImageParam::fourier().with_size(112, 112).with_batch(4))
        .with_steps(steps);
    let out = render(&model, &objective, &config, &device)?;
    save_png(&grid(&out.to_images()?, &[], 4), "diversity.png")?;
    println!(
        "{objective}: {:.3} -> diversity.png",
        out.history[steps - 1]
    );
    Ok(())
}
