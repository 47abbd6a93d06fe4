//! Image parameterizations: what the optimiser changes, and how it becomes an RGB image.

use std::f32::consts::PI;

use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor, TensorData};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::color::{decorrelated_to_rgb, rgb_to_decorrelated};
use crate::error::{Error, Result};
use crate::fourier::{InverseRfft2, spectrum_scale};

/// Lucid's divisor of the Fourier image ("magic" 4).
const FOURIER_DIVISOR: f32 = 4.0;

/// The space the optimiser works in.
#[derive(Clone, Debug)]
enum Basis {
    /// Raw pixels.
    Pixels,
    /// A half spectrum `(2, B, 3, h, w/2+1)` scaled by `1/f^decay`.
    Fourier { dft: InverseRfft2, scale: Tensor<4> },
    /// Phases only, under a fixed magnitude (MACO).
    Phase {
        dft: InverseRfft2,
        magnitude: Tensor<4>,
    },
}

/// A parameterization of a batch of `height x width` RGB images with values in `[0, 1]`.
///
/// The raw parameter is a `Tensor<5>`: `[2, B, 3, h, w/2+1]` for the Fourier basis (real and
/// imaginary parts), `[1, B, 3, h, w/2+1]` for the phase basis, `[1, B, 3, h, w]` for pixels.
/// By default colours are decorrelated (Lucid's matrix) and squashed by a sigmoid.
#[derive(Clone, Debug)]
pub struct ImageParam {
    basis: Basis,
    batch: usize,
    height: usize,
    width: usize,
    decorrelate: bool,
    start: Option<Tensor<4>>,
}

impl ImageParam {
    /// Raw pixels, initialised N(0, 0.01).
    pub fn pixels(batch: usize, height: usize, width: usize) -> Self {
        Self {
            basis: Basis::Pixels,
            batch,
            height,
            width,
            decorrelate: true,
            start: None,
        }
    }

    /// Lucid's Fourier parameterization with `1/f^decay` scaling (decay 1 is the default).
    pub fn fourier(batch: usize, height: usize, width: usize, decay: f32, device: &Device) -> Self {
        let wf = width / 2 + 1;
        let scale = spectrum_scale(height, width, decay);
        Self {
            basis: Basis::Fourier {
                dft: InverseRfft2::new(height, width, device),
                scale: Tensor::from_data(TensorData::new(scale, [1, 1, height, wf]), device),
            },
            ..Self::pixels(batch, height, width)
        }
    }

    /// MACO: only the phases are optimised; the magnitude is fixed. `magnitude` is
    /// `[h, w/2+1]` (the same for every channel); `None` uses the `1/f` spectrum, scaled so that
    /// pixels have unit standard deviation.
    pub fn phase_only(
        batch: usize,
        height: usize,
        width: usize,
        magnitude: Option<Vec<f32>>,
        device: &Device,
    ) -> Result<Self> {
        let wf = width / 2 + 1;
        let magnitude = match magnitude {
            Some(m) if m.len() == height * wf => m,
            Some(m) => {
                return Err(Error::Invalid(format!(
                    "the magnitude has {} values, a {height}x{width} spectrum {}",
                    m.len(),
                    height * wf
                )));
            }
            None => {
                let scale = spectrum_scale(height, width, 1.0);
                // Pixel variance of a random-phase spectrum: sum over the full spectrum of
                // |X|^2 / (h w); the half spectrum counts twice except DC and Nyquist columns.
                let energy: f32 = scale
                    .iter()
                    .enumerate()
                    .map(|(i, s)| {
                        let kx = i % wf;
                        let twice = kx != 0 && !(width.is_multiple_of(2) && kx == width / 2);
                        s * s * if twice { 2.0 } else { 1.0 }
                    })
                    .sum();
                let gain = ((height * width) as f32 / energy).sqrt();
                scale.into_iter().map(|s| s * gain).collect()
            }
        };
        Ok(Self {
            basis: Basis::Phase {
                dft: InverseRfft2::new(height, width, device),
                magnitude: Tensor::from_data(
                    TensorData::new(magnitude, [1, 1, height, wf]),
                    device,
                ),
            },
            ..Self::pixels(batch, height, width)
        })
    }

    /// Pixels that start from `image` (`[B, 3, H, W]`, values in `[0, 1]`), for DeepDream.
    pub fn from_image(image: Tensor<4>) -> Self {
        let [batch, _, height, width] = image.dims();
        Self {
            start: Some(image),
            ..Self::pixels(batch, height, width)
        }
    }

    /// Whether to optimise in decorrelated colour space (default `true`).
    pub fn with_decorrelation(mut self, decorrelate: bool) -> Self {
        self.decorrelate = decorrelate;
        self
    }

    /// The batch size.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// The image height and width.
    pub fn size(&self) -> [usize; 2] {
        [self.height, self.width]
    }

    /// The initial raw parameter, reproducible from `seed`.
    pub fn init(&self, seed: u64, device: &Device) -> Tensor<5> {
        let mut rng = StdRng::seed_from_u64(seed);
        let (b, h, w) = (self.batch, self.height, self.width);
        let wf = w / 2 + 1;
        if let Some(start) = &self.start {
            let clamped = start.clone().clamp(1e-3, 1.0 - 1e-3);
            let logit = (clamped.clone() / (clamped.neg() + 1.0)).log();
            let raw = if self.decorrelate {
                rgb_to_decorrelated(logit)
            } else {
                logit
            };
            return raw.unsqueeze::<5>().to_device(device);
        }
        let (shape, values): ([usize; 5], Vec<f32>) = match self.basis {
            Basis::Pixels => ([1, b, 3, h, w], normal(&mut rng, b * 3 * h * w, 0.01)),
            Basis::Fourier { .. } => ([2, b, 3, h, wf], normal(&mut rng, 2 * b * 3 * h * wf, 0.01)),
            Basis::Phase { .. } => (
                [1, b, 3, h, wf],
                (0..b * 3 * h * wf)
                    .map(|_| rng.random_range(-PI..PI))
                    .collect(),
            ),
        };
        Tensor::from_data(TensorData::new(values, shape), device)
    }

    /// The RGB images `[B, 3, H, W]` in `[0, 1]` of a raw parameter.
    pub fn image(&self, raw: Tensor<5>) -> Tensor<4> {
        let (b, h, w) = (self.batch, self.height, self.width);
        let wf = w / 2 + 1;
        let x = match &self.basis {
            Basis::Pixels => raw.reshape([b, 3, h, w]),
            Basis::Fourier { dft, scale } => {
                let re = raw.clone().narrow(0, 0, 1).reshape([b, 3, h, wf]) * scale.clone();
                let im = raw.narrow(0, 1, 1).reshape([b, 3, h, wf]) * scale.clone();
                dft.apply(re, im) / FOURIER_DIVISOR
            }
            Basis::Phase { dft, magnitude } => {
                let phase = raw.reshape([b, 3, h, wf]);
                let re = phase.clone().cos() * magnitude.clone();
                let im = phase.sin() * magnitude.clone();
                dft.apply(re, im)
            }
        };
        let x = if self.decorrelate {
            decorrelated_to_rgb(x)
        } else {
            x
        };
        sigmoid(x)
    }
}

/// `n` samples of N(0, sd²) (Box–Muller).
fn normal(rng: &mut StdRng, n: usize, sd: f32) -> Vec<f32> {
    (0..n)
        .map(|_| {
            let u: f32 = rng.random_range(f32::EPSILON..1.0);
            let v: f32 = rng.random();
            sd * (-2.0 * u.ln()).sqrt() * (2.0 * PI * v).cos()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_spectrum_has_lucid_shape_and_spread() {
        let device = Device::flex();
        let param = ImageParam::fourier(2, 16, 12, 1.0, &device);
        let raw = param.init(0, &device);
        assert_eq!(raw.dims(), [2, 2, 3, 16, 7]);
        let v = raw.clone().into_data().try_to_vec::<f32>().unwrap();
        let sd = (v.iter().map(|x| x * x).sum::<f32>() / v.len() as f32).sqrt();
        assert!((sd - 0.01).abs() < 0.002, "sd {sd}");
        let image = param.image(raw);
        assert_eq!(image.dims(), [2, 3, 16, 12]);
        // Near-zero spectrum -> near-grey image.
        let mean = image.mean().into_scalar::<f32>();
        assert!((mean - 0.5).abs() < 0.05, "{mean}");
    }

    #[test]
    fn same_seed_same_start() {
        let device = Device::flex();
        let param = ImageParam::pixels(1, 8, 8);
        let a = param.init(7, &device).into_data();
        let b = param.init(7, &device).into_data();
        let c = param.init(8, &device).into_data();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn from_image_reproduces_the_image() {
        let device = Device::flex();
        let values: Vec<f32> = (0..3 * 4 * 4)
            .map(|i| 0.1 + 0.8 * (i as f32 / 47.0))
            .collect();
        let image = Tensor::<4>::from_data(TensorData::new(values.clone(), [1, 3, 4, 4]), &device);
        let param = ImageParam::from_image(image);
        let back = param
            .image(param.init(0, &device))
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        for (a, b) in values.iter().zip(back) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
    }

    #[test]
    fn phase_only_images_have_unit_spread_before_the_sigmoid() {
        let device = Device::flex();
        let param = ImageParam::phase_only(1, 32, 32, None, &device)
            .unwrap()
            .with_decorrelation(false);
        let raw = param.init(3, &device);
        let image = param.image(raw);
        // logit of the image recovers the pre-sigmoid values.
        let pre = (image.clone() / (image.neg() + 1.0)).log();
        let sd = (pre.clone() * pre).mean().into_scalar::<f32>().sqrt();
        assert!((0.5..2.0).contains(&sd), "sd {sd}");
    }
}
