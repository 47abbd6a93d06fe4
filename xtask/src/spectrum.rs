//! `spectrum`: the natural-image magnitude spectrum of a folder of photos, beside the model.

use anyhow::Result;
use burn::tensor::Device;
use excite::OnnxModel;
use excite::core::image_io::read_image;
use excite::core::spectrum::Spectrum;
use excite::views::photos::list_photos;

use crate::cli::SpectrumArgs;

/// Computes the spectrum and saves it as `MODEL.spectrum.json`.
pub fn run(args: &SpectrumArgs) -> Result<()> {
    let model = OnnxModel::load(&args.model.model, &Device::flex())?;
    let side = args.size.unwrap_or_else(|| model.photo_side());
    let photos = list_photos(&args.images)?
        .iter()
        .map(|p| read_image(p, None))
        .collect::<excite::core::Result<Vec<_>>>()?;
    let spectrum = Spectrum::of_photos(&photos, [side, side])?;
    let path = spectrum.save_beside(&args.model.model)?;
    println!(
        "the mean magnitude spectrum of {} photos at {side} px -> {}",
        photos.len(),
        path.display()
    );
    Ok(())
}
