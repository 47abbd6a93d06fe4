//! `examples`: the dataset examples of a layer's channels.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use burn::tensor::Device;
use excite::OnnxModel;
use excite::core::files::unique_component;
use excite::core::{Observer, Progress};
use excite::views::photos::list_photos;
use excite::views::{ExamplesConfig, dataset_examples, write_examples};

use crate::cli::{ExamplesArgs, channel_range};
use crate::progress::bar;

/// Ranks the photos for each channel and writes the strips and the record.
pub fn run(args: &ExamplesArgs, device: &Device) -> Result<()> {
    let device = device.clone().without_autodiff();
    let model = OnnxModel::load(&args.model.model, &device)?;
    model.check_layer(&args.layer)?;
    let channels = model
        .layers()
        .iter()
        .find(|l| l.name == args.layer)
        .and_then(|l| l.shape.get(1).copied())
        .unwrap_or(1);
    let size = model.photo_side();
    model.check_input_size(size)?;
    let photos = list_photos(&args.images)?;
    let config = ExamplesConfig {
        channels: match &args.channels {
            Some(text) => channel_range(text, channels)?,
            None => [0, channels],
        },
        top: args.top,
        batch: args.batch,
        size,
        ..ExamplesConfig::default()
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("examples").join(unique_component(&args.layer)));
    let progress = bar(&args.layer, photos.len());
    let start = Instant::now();
    let observed = progress.clone();
    let config = config.with_observer(Observer::new(move |p| {
        if let Progress::Photos { done, .. } = p {
            observed.set_position(*done as u64);
            observed.set_message(format!(
                "{:.1} images/s",
                *done as f64 / start.elapsed().as_secs_f64()
            ));
        }
    }));
    let examples = dataset_examples(&model, &args.layer, &photos, &config, &device)?;
    progress.finish();
    let seconds = start.elapsed().as_secs_f64();
    let strips = write_examples(&examples, &out)?;
    println!(
        "{} channels of `{}` over {} photos in {seconds:.1}s ({:.1} images/s) -> {}",
        strips.len(),
        args.layer,
        photos.len(),
        photos.len() as f64 / seconds,
        out.display()
    );
    Ok(())
}
