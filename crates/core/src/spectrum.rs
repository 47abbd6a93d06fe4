//! The magnitude spectrum of natural images, for MACO: phases are optimised under it, so that
//! renders keep the frequency content of photos. Computed once from a folder of photos and
//! saved beside the model (`x.spectrum.json` beside `x.onnx`); the `1/f` spectrum is the
//! fallback.

use std::path::{Path, PathBuf};

use image::RgbImage;
use image::imageops::{FilterType, resize};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::files::read_limited;
use crate::fourier::rfft2;
use crate::image_io::write_atomic;

/// The largest spectrum file read.
const MAX_SPECTRUM_BYTES: u64 = 64 << 20;

/// A mean magnitude spectrum `[h, w/2+1]` (row-major) of images of `size` (height, width).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spectrum {
    /// The image size it belongs to.
    pub size: [usize; 2],
    /// `h * (w/2+1)` magnitudes.
    pub magnitude: Vec<f32>,
}

impl Spectrum {
    /// The mean magnitude of the photos' half spectra, each photo scaled to `size`, each
    /// colour channel centred (its window-weighted mean removed) and windowed first, averaged
    /// over photos and channels.
    ///
    /// The window (Hann, in both axes) keeps the photos' borders out of the spectrum: the FFT
    /// wraps an image around, so a photo whose left and right (or top and bottom) edges differ
    /// has a sharp edge there, whose energy lands on the `ky = 0` row (`kx = 0` column) of the
    /// spectrum. Unwindowed, that cross was 2-3 times its neighbours, and images made under it
    /// carried a grid of horizontal and vertical lines. The magnitudes are divided by the
    /// window's root mean square, so they keep the scale of unwindowed photos.
    pub fn of_photos(photos: &[RgbImage], size: [usize; 2]) -> Result<Self> {
        let [h, w] = size;
        if photos.is_empty() || h == 0 || w == 0 {
            return Err(Error::Invalid("a spectrum needs photos and a size".into()));
        }
        let window = hann_window(h, w);
        let weight: f64 = window.iter().sum();
        let rms = (window.iter().map(|v| v * v).sum::<f64>() / window.len() as f64).sqrt();
        let mut total = vec![0f64; h * (w / 2 + 1)];
        for photo in photos {
            let scaled = resize(photo, w as u32, h as u32, FilterType::Triangle);
            for c in 0..3 {
                let values: Vec<f64> = scaled.pixels().map(|p| p[c] as f64 / 255.0).collect();
                let mean = values.iter().zip(&window).map(|(v, k)| v * k).sum::<f64>() / weight;
                let windowed: Vec<f64> = values
                    .iter()
                    .zip(&window)
                    .map(|(v, k)| (v - mean) * k)
                    .collect();
                for (t, v) in total.iter_mut().zip(rfft2(&windowed, h, w)) {
                    *t += v.norm() / rms;
                }
            }
        }
        let count = (photos.len() * 3) as f64;
        Ok(Self {
            size,
            magnitude: total.iter().map(|&t| (t / count) as f32).collect(),
        })
    }

    /// The spectrum for another image size: the magnitudes resampled bilinearly over the
    /// frequency grid (as MACO resizes its template), scaled for the new pixel count.
    pub fn resized(&self, size: [usize; 2]) -> Spectrum {
        if size == self.size {
            return self.clone();
        }
        let ([h0, w0], [h, w]) = (self.size, size);
        let (wf0, wf) = (w0 / 2 + 1, w / 2 + 1);
        let at = |y: usize, x: usize| self.magnitude[y.min(h0 - 1) * wf0 + x.min(wf0 - 1)];
        let sample = |pos: f32, len: usize, out: usize| {
            let p = if out > 1 {
                pos * (len - 1) as f32 / (out - 1) as f32
            } else {
                0.0
            };
            (p.floor() as usize, p - p.floor())
        };
        // Magnitudes grow with the square root of the pixel count (a sum over pixels).
        let gain = ((h * w) as f32 / (h0 * w0) as f32).sqrt();
        let magnitude = (0..h * wf)
            .map(|i| {
                let (y, fy) = sample((i / wf) as f32, h0, h);
                let (x, fx) = sample((i % wf) as f32, wf0, wf);
                let top = at(y, x) * (1.0 - fx) + at(y, x + 1) * fx;
                let bottom = at(y + 1, x) * (1.0 - fx) + at(y + 1, x + 1) * fx;
                (top * (1.0 - fy) + bottom * fy) * gain
            })
            .collect();
        Spectrum { size, magnitude }
    }

    /// Where the spectrum of a model lives: `x.spectrum.json` beside `x.onnx`.
    pub fn path_beside(model: &Path) -> PathBuf {
        model.with_extension("spectrum.json")
    }

    /// The spectrum saved beside `model`, if there is one.
    pub fn beside(model: &Path) -> Result<Option<Spectrum>> {
        let path = Self::path_beside(model);
        if !path.is_file() {
            return Ok(None);
        }
        let bytes = read_limited(&path, MAX_SPECTRUM_BYTES)?;
        let spectrum: Spectrum = serde_json::from_slice(&bytes)
            .map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
        let [h, w] = spectrum.size;
        if h == 0
            || w == 0
            || spectrum.magnitude.len() != h * (w / 2 + 1)
            || spectrum
                .magnitude
                .iter()
                .any(|m| !m.is_finite() || *m < 0.0)
        {
            return Err(Error::Invalid(format!(
                "{}: the magnitudes do not fit a {h}x{w} spectrum",
                path.display()
            )));
        }
        Ok(Some(spectrum))
    }

    /// Saves the spectrum beside `model`; returns the file's path.
    pub fn save_beside(&self, model: &Path) -> Result<PathBuf> {
        let path = Self::path_beside(model);
        let json = serde_json::to_vec(self)
            .map_err(|e| Error::Invalid(format!("cannot encode the spectrum: {e}")))?;
        write_atomic(&path, &json)?;
        Ok(path)
    }
}

/// The 2-D Hann window `[h, w]` (row-major): `sin²(π (y + ½) / h) · sin²(π (x + ½) / w)`,
/// zero-free and symmetric, falling to near zero at every border.
fn hann_window(h: usize, w: usize) -> Vec<f64> {
    let along = |n: usize| -> Vec<f64> {
        (0..n)
            .map(|i| {
                (std::f64::consts::PI * (i as f64 + 0.5) / n as f64)
                    .sin()
                    .powi(2)
            })
            .collect()
    };
    let (ys, xs) = (along(h), along(w));
    ys.iter()
        .flat_map(|y| xs.iter().map(move |x| y * x))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stripe_pattern_has_its_energy_at_its_frequency() {
        // Vertical stripes of period 4 across 16 columns: frequency 4 along the width.
        let photo = RgbImage::from_fn(16, 16, |x, _| {
            image::Rgb([if x % 4 < 2 { 255 } else { 0 }; 3])
        });
        let s = Spectrum::of_photos(&[photo], [16, 16]).unwrap();
        let wf = 9;
        let peak = (0..s.magnitude.len())
            .max_by(|&a, &b| s.magnitude[a].total_cmp(&s.magnitude[b]))
            .unwrap();
        assert_eq!((peak / wf, peak % wf), (0, 4));
        assert!(s.magnitude[0] < 1e-9, "the mean is removed");
        let big = s.resized([32, 32]);
        assert_eq!(big.magnitude.len(), 32 * 17);
    }

    /// A photo whose left and right edges differ (noise on a horizontal ramp) has, wrapped by
    /// the FFT, an edge at its border: energy at every `kx` of the `ky = 0` row. Windowed, that
    /// row holds about what the rows beside it hold (the ramp itself, smooth, stays below
    /// `kx = 3`).
    #[test]
    fn the_photos_borders_leave_no_cross_in_the_spectrum() {
        let (h, w) = (32usize, 32usize);
        let noise = |x: u32, y: u32| {
            ((x.wrapping_mul(7919) ^ y.wrapping_mul(104_729)).wrapping_mul(2_654_435_761) >> 7) % 64
        };
        let photo = RgbImage::from_fn(w as u32, h as u32, |x, y| {
            image::Rgb([(x * 5 + noise(x, y)) as u8; 3])
        });
        let wf = w / 2 + 1;
        // The magnitudes of row `ky` over kx = 3..wf.
        let row = |m: &[f64], ky: usize| m[ky * wf + 3..(ky + 1) * wf].iter().sum::<f64>();
        let windowed: Vec<f64> = Spectrum::of_photos(std::slice::from_ref(&photo), [h, w])
            .unwrap()
            .magnitude
            .iter()
            .map(|&v| v as f64)
            .collect();
        let values: Vec<f64> = photo.pixels().map(|p| p[0] as f64 / 255.0).collect();
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let centred: Vec<f64> = values.iter().map(|v| v - mean).collect();
        let plain: Vec<f64> = rfft2(&centred, h, w).iter().map(|v| v.norm()).collect();
        let ratio = |m: &[f64]| row(m, 0) / (row(m, 1) + row(m, h - 1)) * 2.0;
        assert!(ratio(&plain) > 4.0, "unwindowed: {}", ratio(&plain));
        assert!(ratio(&windowed) < 2.0, "windowed: {}", ratio(&windowed));
    }
}
