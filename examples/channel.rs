//! Render what excites one channel of the bundled EfficientNet-Lite0, watching the objective
//! rise.
//!
//! `cargo run --release --example channel -- [OBJECTIVE] [STEPS]`
//! (defaults: `blocks.5:12 256`), writes `channel.png`.

use excite::core::Progress;
use excite::core::image_io::save_png;
use excite::{Objective, OnnxModel, RenderConfig, default_device, render};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let objective: Objective = args.next().as_deref().unwrap_or("blocks.5:12").parse()?;
    let steps = args.next().map_or(Ok(256), |s| s.parse())?;

    let device = default_device()?;
    let model = OnnxModel::load(excite::bundled_model_path(), &device)?;
    let config = RenderConfig::default().with_steps(steps).on_progress(|p| {
        if let Progress::Step { step, value, .. } = p
            && step % 64 == 0
        {
            println!("step {step:4}: {value:.3}");
        }
    });
    let out = render(&model, &objective, &config, &device)?;
    save_png(&out.to_images()?[0], "channel.png")?;
    println!("{objective} -> channel.png");
    Ok(())
}
