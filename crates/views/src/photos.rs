//! A folder of photos as model input: listed in a stable order, each read, scaled so that
//! its shorter side is the model's size, and centre-cropped to a square.

use std::path::{Path, PathBuf};

use excite_core::image_io::read_image;
use excite_core::{Error, Result};
use image::RgbImage;
use image::imageops::{FilterType, crop_imm, resize};

/// The file extensions read as photos.
const EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "bmp", "webp"];

/// The photos of `dir` (PNG, JPEG, BMP, WebP, by extension, any case), sorted by name; an
/// error when there are none.
pub fn list_photos(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut photos: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| EXTENSIONS.contains(&e.to_lowercase().as_str()))
        })
        .collect();
    photos.sort();
    if photos.is_empty() {
        return Err(Error::Invalid(format!(
            "{} holds no photos (PNG, JPEG, BMP or WebP)",
            dir.display()
        )));
    }
    Ok(photos)
}

/// The photo at `path` as a `size` x `size` square: the shorter side scaled to `size`
/// (Catmull-Rom), the longer one centre-cropped.
pub fn load_square(path: &Path, size: u32) -> Result<RgbImage> {
    let photo = read_image(path, None)?;
    Ok(square(&photo, size))
}

/// `photo` scaled so that its shorter side is `size`, centre-cropped to a square.
pub fn square(photo: &RgbImage, size: u32) -> RgbImage {
    let (w, h) = photo.dimensions();
    let scale = size as f64 / w.min(h) as f64;
    let (sw, sh) = (
        ((w as f64 * scale).round() as u32).max(size),
        ((h as f64 * scale).round() as u32).max(size),
    );
    let scaled = resize(photo, sw, sh, FilterType::CatmullRom);
    crop_imm(&scaled, (sw - size) / 2, (sh - size) / 2, size, size).to_image()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_photos_are_cropped_in_the_middle() {
        let mut photo = RgbImage::new(40, 20);
        for (x, _, p) in photo.enumerate_pixels_mut() {
            *p = image::Rgb([if (10..30).contains(&x) { 255 } else { 0 }, 0, 0]);
        }
        let out = square(&photo, 10);
        assert_eq!(out.dimensions(), (10, 10));
        // The centre of the photo (the red band) fills the square.
        assert!(
            out.pixels().all(|p| p[0] > 200),
            "{:?}",
            out.get_pixel(0, 0)
        );
    }
}
