//! Image parameterizations: what the optimiser changes, and how it becomes an RGB image.
//!
//! An [`ImageParam`] is a description (basis, size, batch, colour space) with no device and no
//! tensors; [`ImageParam::init`] makes it real on a device: an [`ImageGenerator`] holding the
//! constant tensors, and the initial raw parameter drawn from a seed.

use std::f32::consts::PI;

use burn::tensor::{Device, Tensor, TensorData};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::color::{decorrelated_to_rgb, rgb_to_decorrelated};
use crate::error::{Error, Result};
use crate::fourier::{InverseRfft2, rfft2, spectrum_scale};
use crate::random::normals;
use crate::sigmoid::sigmoid;

/// Lucid's divisor of the Fourier image ("magic" 4).
const FOURIER_DIVISOR: f32 = 4.0;

/// The largest image side accepted (far above what any CNN renders at).
pub const MAX_SIZE: usize = 8192;

/// The space the optimiser works in, as described.
#[derive(Clone, Debug, PartialEq)]
enum Basis {
    /// Raw pixels, from noise or from a start image (`[B, 3, H, W]`, values in `[0, 1]`).
    Pixels { start: Option<TensorData> },
    /// A half spectrum scaled by `1/f^decay`, from noise or from a start image (`[B, 3, H,
    /// W]`, values in `[0, 1]`).
    Fourier {
        decay: f32,
        start: Option<TensorData>,
    },
    /// Phases only, under a fixed magnitude `[h, w/2+1]` (`None`: the 1/f spectrum); with
    /// `standardize`, MACO's preconditioner: phases and image standardised per image.
    Phase {
        magnitude: Option<Vec<f32>>,
        standardize: bool,
    },
}

/// How a batch of `height x width` RGB images with values in `[0, 1]` is parameterized: a
/// description, cheap to clone, that [`ImageParam::init`] turns into tensors on a device.
///
/// The default is Lucid's: a Fourier spectrum with `1/f` scaling, decorrelated colour and a
/// sigmoid, one image of 128 x 128.
///
/// ```
/// use excite_core::ImageParam;
/// let param = ImageParam::fourier().with_size(224, 224).with_batch(4);
/// assert_eq!((param.batch(), param.size()), (4, [224, 224]));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ImageParam {
    basis: Basis,
    batch: usize,
    height: usize,
    width: usize,
    decorrelate: bool,
    alpha: bool,
}

impl Default for ImageParam {
    fn default() -> Self {
        Self::fourier()
    }
}

impl ImageParam {
    /// The parameterization named `name` (as the command line's `--param` writes it):
    /// `fourier`, `pixels`, `phase` or `maco`.
    pub fn named(name: &str) -> Result<Self> {
        match name {
            "fourier" => Ok(Self::fourier()),
            "pixels" => Ok(Self::pixels()),
            "phase" => Ok(Self::phase_only()),
            "maco" => Ok(Self::maco()),
            other => Err(Error::Invalid(format!(
                "unknown parameterization `{other}`; the parameterizations are fourier, pixels, phase, maco"
            ))),
        }
    }

    /// Raw pixels, initialised N(0, 0.01).
    pub fn pixels() -> Self {
        Self {
            basis: Basis::Pixels { start: None },
            batch: 1,
            height: 128,
            width: 128,
            decorrelate: true,
            alpha: false,
        }
    }

    /// Lucid's Fourier parameterization with `1/f` scaling (see [`ImageParam::with_decay`]).
    pub fn fourier() -> Self {
        Self {
            basis: Basis::Fourier {
                decay: 1.0,
                start: None,
            },
            ..Self::pixels()
        }
    }

    /// MACO: only the phases are optimised, under a fixed magnitude: the `1/f` spectrum scaled
    /// so that pixels have unit standard deviation, or [`ImageParam::with_magnitude`].
    pub fn phase_only() -> Self {
        Self {
            basis: Basis::Phase {
                magnitude: None,
                standardize: false,
            },
            ..Self::pixels()
        }
    }

    /// MACO as published (Fel et al. 2023): the phases, drawn N(0, 1), are standardised (to a
    /// spread of π rather than the reference's 1, which brightens the corners), set
    /// under a fixed natural-image magnitude ([`ImageParam::with_magnitude`]; the `1/f`
    /// spectrum by default), and the image is standardised before the colour decorrelation
    /// and the sigmoid.
    pub fn maco() -> Self {
        Self {
            basis: Basis::Phase {
                magnitude: None,
                standardize: true,
            },
            ..Self::pixels()
        }
    }

    /// Pixels that start from `image`, for DeepDream. Size and batch are the image's; a single
    /// image given a larger batch ([`ImageParam::with_batch`]) starts every item.
    ///
    /// # Shapes
    /// - image: `[batch, 3, height, width]`, values in `[0, 1]`
    pub fn from_image(image: Tensor<4>) -> Self {
        let [batch, _, height, width] = image.dims();
        Self {
            basis: Basis::Pixels {
                start: Some(image.into_data()),
            },
            batch,
            height,
            width,
            ..Self::pixels()
        }
    }

    /// This basis started from `image` instead of noise: the pixels as they are; the Fourier
    /// spectrum that makes `image` (through the colour decorrelation and the sigmoid), so
    /// that the optimisation moves the photo with the spectrum's `1/f` steps (feature
    /// accentuation, Hamblin et al. 2024). Size and batch become the image's; a single image
    /// given a larger batch ([`ImageParam::with_batch`]) starts every item. The phase bases
    /// cannot start from an image: their magnitude is fixed.
    ///
    /// # Shapes
    /// - image: `[batch, 3, height, width]`, values in `[0, 1]`
    pub fn with_start_image(mut self, image: Tensor<4>) -> Result<Self> {
        let [batch, _, height, width] = image.dims();
        match &mut self.basis {
            Basis::Pixels { start } | Basis::Fourier { start, .. } => {
                *start = Some(image.into_data())
            }
            Basis::Phase { .. } => {
                return Err(Error::Invalid(
                    "a phase-only parameterization (phase, maco) cannot start from an image: its magnitude is fixed; use pixels or fourier".into(),
                ));
            }
        }
        (self.batch, self.height, self.width) = (batch, height, width);
        Ok(self)
    }

    /// The image size (height, width).
    pub fn with_size(mut self, height: usize, width: usize) -> Self {
        (self.height, self.width) = (height, width);
        self
    }

    /// The number of images optimised together.
    pub fn with_batch(mut self, batch: usize) -> Self {
        self.batch = batch;
        self
    }

    /// The exponent of the Fourier basis' `1/f^decay` scaling (1 by default); no effect on
    /// other bases.
    pub fn with_decay(mut self, decay: f32) -> Self {
        if let Basis::Fourier { decay: d, .. } = &mut self.basis {
            *d = decay;
        }
        self
    }

    /// The fixed magnitude of the phase basis, `[h, w/2+1]` values (the same for every
    /// channel), e.g. the mean spectrum of natural images; no effect on other bases.
    pub fn with_magnitude(mut self, magnitude: Vec<f32>) -> Self {
        if let Basis::Phase { magnitude: m, .. } = &mut self.basis {
            *m = Some(magnitude);
        }
        self
    }

    /// Whether to optimise in decorrelated colour space (default `true`).
    pub fn with_decorrelation(mut self, decorrelate: bool) -> Self {
        self.decorrelate = decorrelate;
        self
    }

    /// Whether to optimise a fourth channel, an alpha channel through a sigmoid, beside the
    /// colours (Lucid's `alpha=True`; see [`ImageGenerator::image_and_alpha`]). Not with a
    /// start image.
    pub fn with_alpha(mut self, alpha: bool) -> Self {
        self.alpha = alpha;
        self
    }

    /// Whether the parameterization has an alpha channel.
    pub fn has_alpha(&self) -> bool {
        self.alpha
    }

    /// The channels of the raw parameter: 3, or 4 with an alpha channel.
    fn channels(&self) -> usize {
        if self.alpha { 4 } else { 3 }
    }

    /// The batch size.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// The image height and width.
    pub fn size(&self) -> [usize; 2] {
        [self.height, self.width]
    }

    /// Makes the parameterization real on `device`: the generator of images, and the initial
    /// raw parameter, reproducible from `seed`. Errors on an empty or oversized image, a
    /// magnitude of the wrong length, or a start image that does not fit the batch.
    ///
    /// # Shapes
    /// - output raw parameter: `[2, B, C, h, w/2+1]` (Fourier: real and imaginary parts),
    ///   `[1, B, C, h, w/2+1]` (phase), `[1, B, C, h, w]` (pixels), where `C` is 3, or 4 with
    ///   an alpha channel
    pub fn init(&self, seed: u64, device: &Device) -> Result<(ImageGenerator, Tensor<5>)> {
        self.validate()?;
        let (b, c, h, w) = (self.batch, self.channels(), self.height, self.width);
        let wf = w / 2 + 1;
        let mut rng = StdRng::seed_from_u64(seed);
        let (basis, raw) = match &self.basis {
            Basis::Pixels { start: Some(start) } => {
                (GeneratorBasis::Pixels, self.start_raw(start, device))
            }
            Basis::Pixels { start: None } => (
                GeneratorBasis::Pixels,
                random(
                    normals(&mut rng, b * c * h * w, 0.01),
                    [1, b, c, h, w],
                    device,
                ),
            ),
            Basis::Fourier { decay, start } => {
                let scale = spectrum_scale(h, w, *decay);
                let raw = match start {
                    Some(start) => self.fourier_start_raw(start, &scale, device)?,
                    None => random(
                        normals(&mut rng, 2 * b * c * h * wf, 0.01),
                        [2, b, c, h, wf],
                        device,
                    ),
                };
                let basis = GeneratorBasis::Fourier {
                    dft: InverseRfft2::new(h, w, device),
                    scale: Tensor::from_data(TensorData::new(scale, [1, 1, h, wf]), device),
                };
                (basis, raw)
            }
            Basis::Phase {
                magnitude,
                standardize,
            } => {
                let magnitude = magnitude.clone().unwrap_or_else(|| unit_magnitude(h, w));
                let basis = GeneratorBasis::Phase {
                    dft: InverseRfft2::new(h, w, device),
                    magnitude: Tensor::from_data(TensorData::new(magnitude, [1, 1, h, wf]), device),
                    standardize: *standardize,
                };
                let phases = if *standardize {
                    normals(&mut rng, b * c * h * wf, 1.0)
                } else {
                    (0..b * c * h * wf)
                        .map(|_| rng.random_range(-PI..PI))
                        .collect()
                };
                (basis, random(phases, [1, b, c, h, wf], device))
            }
        };
        let generator = ImageGenerator {
            basis,
            batch: b,
            height: h,
            width: w,
            channels: c,
            decorrelate: self.decorrelate,
        };
        Ok((generator, raw))
    }

    /// Checks that the description can be made: a batch of at least 1, sides in
    /// `1..=MAX_SIZE`, a magnitude of the spectrum's size, a start image that fits the batch.
    pub fn validate(&self) -> Result<()> {
        let (b, h, w) = (self.batch, self.height, self.width);
        if b == 0 || !(1..=MAX_SIZE).contains(&h) || !(1..=MAX_SIZE).contains(&w) {
            return Err(Error::Invalid(format!(
                "an image parameterization needs a batch of at least 1 and sides in 1..={MAX_SIZE}, got batch {b} of {h}x{w}"
            )));
        }
        match &self.basis {
            Basis::Phase {
                magnitude: Some(m), ..
            } if m.len() != h * (w / 2 + 1) => Err(Error::Invalid(format!(
                "the magnitude has {} values, a {h}x{w} spectrum {}",
                m.len(),
                h * (w / 2 + 1)
            ))),
            Basis::Pixels { start: Some(_) } | Basis::Fourier { start: Some(_), .. }
                if self.alpha =>
            {
                Err(Error::Invalid(
                    "a start image has no alpha channel: render with alpha from noise instead"
                        .into(),
                ))
            }
            Basis::Pixels { start: Some(start) }
            | Basis::Fourier {
                start: Some(start), ..
            } => {
                let dims: Vec<usize> = start.shape().iter().copied().collect();
                let fits = dims.len() == 4
                    && dims[1] == 3
                    && (dims[2], dims[3]) == (h, w)
                    && (dims[0] == b || dims[0] == 1);
                if fits {
                    Ok(())
                } else {
                    Err(Error::Invalid(format!(
                        "the start image has shape {dims:?}; a batch of {b} needs [1 or {b}, 3, {h}, {w}]"
                    )))
                }
            }
            _ => Ok(()),
        }
    }

    /// The raw half spectrum whose image is `start` (repeated over the batch when it holds
    /// one image): the start's raw pixels through the forward `rfft2(·, norm = "ortho")`,
    /// the exact inverse of [`InverseRfft2`], times Lucid's divisor over `scale`.
    fn fourier_start_raw(
        &self,
        start: &TensorData,
        scale: &[f32],
        device: &Device,
    ) -> Result<Tensor<5>> {
        let (b, h, w) = (self.batch, self.height, self.width);
        let wf = w / 2 + 1;
        let pixels = self
            .start_raw(start, device)
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .map_err(|e| Error::Invalid(format!("cannot read the start image: {e:?}")))?;
        let norm = 1.0 / ((h * w) as f64).sqrt();
        let plane = h * wf;
        let mut raw = vec![0f32; 2 * b * 3 * plane];
        for (p, image) in pixels.chunks(h * w).enumerate() {
            let values: Vec<f64> = image.iter().map(|&v| v as f64).collect();
            for (i, v) in rfft2(&values, h, w).into_iter().enumerate() {
                let factor = norm * FOURIER_DIVISOR as f64 / scale[i] as f64;
                raw[p * plane + i] = (v.re * factor) as f32;
                raw[(b * 3 + p) * plane + i] = (v.im * factor) as f32;
            }
        }
        Ok(random(raw, [2, b, 3, h, wf], device))
    }

    /// The raw pixels whose image is `start`, repeated over the batch when it holds one image.
    fn start_raw(&self, start: &TensorData, device: &Device) -> Tensor<5> {
        let image = Tensor::<4>::from_data(start.clone(), device);
        let image = if image.dims()[0] == self.batch {
            image
        } else {
            image.repeat_dim(0, self.batch)
        };
        let clamped = image.clamp(1e-3, 1.0 - 1e-3);
        let logit = (clamped.clone() / (clamped.neg() + 1.0)).log();
        let raw = if self.decorrelate {
            rgb_to_decorrelated(logit)
        } else {
            logit
        };
        raw.unsqueeze::<5>()
    }
}

/// An [`ImageParam`] made real on a device: the constant tensors (inverse DFT, spectrum
/// scale or magnitude) that turn a raw parameter into images.
#[derive(Clone, Debug)]
pub struct ImageGenerator {
    basis: GeneratorBasis,
    batch: usize,
    height: usize,
    width: usize,
    channels: usize,
    decorrelate: bool,
}

/// The constant tensors of each basis.
#[derive(Clone, Debug)]
enum GeneratorBasis {
    Pixels,
    Fourier {
        dft: InverseRfft2,
        scale: Tensor<4>,
    },
    Phase {
        dft: InverseRfft2,
        magnitude: Tensor<4>,
        standardize: bool,
    },
}

impl ImageGenerator {
    /// The RGB images of a raw parameter, with values in `[0, 1]` (an alpha channel, if any,
    /// is left out: see [`ImageGenerator::image_and_alpha`]).
    ///
    /// # Shapes
    /// - raw: as [`ImageParam::init`] returns it
    /// - output: `[B, 3, H, W]`
    pub fn image(&self, raw: Tensor<5>) -> Tensor<4> {
        self.image_and_alpha(raw).0
    }

    /// The RGB images and, with [`ImageParam::with_alpha`], their alpha channel, all with
    /// values in `[0, 1]`: the colours through the decorrelation and a sigmoid, the alpha
    /// through a sigmoid alone (as Lucid's `param.image(alpha=True)`).
    ///
    /// # Shapes
    /// - raw: as [`ImageParam::init`] returns it
    /// - output: `[B, 3, H, W]` and `[B, 1, H, W]`
    pub fn image_and_alpha(&self, raw: Tensor<5>) -> (Tensor<4>, Option<Tensor<4>>) {
        let x = self.spatial(raw);
        let (rgb, alpha) = if self.channels == 4 {
            let alpha = x.clone().narrow(1, 3, 1);
            (x.narrow(1, 0, 3), Some(sigmoid(alpha)))
        } else {
            (x, None)
        };
        let rgb = if self.decorrelate {
            decorrelated_to_rgb(rgb)
        } else {
            rgb
        };
        (sigmoid(rgb), alpha)
    }

    /// A random image of this generator's basis and size, its raw parameter drawn N(0, `sd`)
    /// from `rng` (Lucid's `image_sample`, the random backgrounds behind transparent renders).
    ///
    /// # Shapes
    /// - output: `[B, 3, H, W]`, values in `[0, 1]`
    pub fn random_image(&self, sd: f32, rng: &mut StdRng, device: &Device) -> Tensor<4> {
        let (b, c, h, w) = (self.batch, self.channels, self.height, self.width);
        let wf = w / 2 + 1;
        let shape = match &self.basis {
            GeneratorBasis::Pixels => [1, b, c, h, w],
            GeneratorBasis::Fourier { .. } => [2, b, c, h, wf],
            GeneratorBasis::Phase { .. } => [1, b, c, h, wf],
        };
        let n = shape.iter().product();
        self.image(random(normals(rng, n, sd), shape, device))
    }

    /// The raw parameter in image space, before colour and sigmoid.
    ///
    /// # Shapes
    /// - raw: as [`ImageParam::init`] returns it
    /// - output: `[B, C, H, W]`
    fn spatial(&self, raw: Tensor<5>) -> Tensor<4> {
        let (b, c, h, w) = (self.batch, self.channels, self.height, self.width);
        let wf = w / 2 + 1;
        match &self.basis {
            GeneratorBasis::Pixels => raw.reshape([b, c, h, w]),
            GeneratorBasis::Fourier { dft, scale } => {
                let re = raw.clone().narrow(0, 0, 1).reshape([b, c, h, wf]) * scale.clone();
                let im = raw.narrow(0, 1, 1).reshape([b, c, h, wf]) * scale.clone();
                dft.apply(re, im) / FOURIER_DIVISOR
            }
            GeneratorBasis::Phase {
                dft,
                magnitude,
                standardize,
            } => {
                let phase = raw.reshape([b, c, h, wf]);
                // Standardised phases spread over the whole circle (sd π): at sd 1, as MACO's
                // reference leaves them, E[cos φ] = e^(-1/2) ≈ 0.61, so every frequency adds in
                // phase at the origin and the image's corners (the origin, wrapped) saturate
                // white; at sd π, E[cos φ] = e^(-π²/2) < 0.01.
                let phase = if *standardize {
                    standardized(phase) * PI
                } else {
                    phase
                };
                let re = phase.clone().cos() * magnitude.clone();
                let im = phase.sin() * magnitude.clone();
                let x = dft.apply(re, im);
                if *standardize { standardized(x) } else { x }
            }
        }
    }
}

/// Each image of a batch with zero mean and unit standard deviation over all its values (the
/// `+ 1e-4` of MACO's reference keeps a flat image finite).
///
/// # Shapes
/// - x and output: `[B, C, H, W]`
fn standardized(x: Tensor<4>) -> Tensor<4> {
    let dims = x.dims();
    let flat: Tensor<2> = x.reshape([dims[0], dims[1] * dims[2] * dims[3]]);
    let centred = flat.clone() - flat.mean_dim(1);
    let spread = (centred.clone() * centred.clone()).mean_dim(1).sqrt() + 1e-4;
    (centred / spread).reshape(dims)
}

/// Host values as a raw parameter on `device`.
fn random(values: Vec<f32>, shape: [usize; 5], device: &Device) -> Tensor<5> {
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// The `1/f` magnitude `[h, w/2+1]` scaled so that a random-phase image has unit pixel spread.
fn unit_magnitude(height: usize, width: usize) -> Vec<f32> {
    let wf = width / 2 + 1;
    let scale = spectrum_scale(height, width, 1.0);
    // Pixel variance of a random-phase spectrum: sum over the full spectrum of |X|^2 / (h w);
    // the half spectrum counts twice except DC and Nyquist columns.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_spectrum_has_lucid_shape_and_spread() {
        let device = Device::flex();
        let param = ImageParam::fourier().with_size(16, 12).with_batch(2);
        let (generator, raw) = param.init(0, &device).unwrap();
        assert_eq!(raw.dims(), [2, 2, 3, 16, 7]);
        let v = raw.clone().into_data().try_to_vec::<f32>().unwrap();
        let sd = (v.iter().map(|x| x * x).sum::<f32>() / v.len() as f32).sqrt();
        assert!((sd - 0.01).abs() < 0.002, "sd {sd}");
        let image = generator.image(raw);
        assert_eq!(image.dims(), [2, 3, 16, 12]);
        // Near-zero spectrum -> near-grey image.
        let mean = image.mean().into_scalar::<f32>();
        assert!((mean - 0.5).abs() < 0.05, "{mean}");
    }

    #[test]
    fn an_alpha_channel_is_a_fourth_raw_channel_through_a_sigmoid() {
        let device = Device::flex();
        let param = ImageParam::fourier()
            .with_size(8, 6)
            .with_batch(2)
            .with_alpha(true);
        let (generator, raw) = param.init(0, &device).unwrap();
        assert_eq!(raw.dims(), [2, 2, 4, 8, 4]);
        let (rgb, alpha) = generator.image_and_alpha(raw);
        assert_eq!(rgb.dims(), [2, 3, 8, 6]);
        let alpha: Vec<f32> = alpha.unwrap().into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(alpha.len(), 2 * 8 * 6);
        // A near-zero raw channel is half opaque.
        assert!(alpha.iter().all(|a| (a - 0.5).abs() < 0.05), "{alpha:?}");
        let start = Tensor::<4>::ones([1, 3, 8, 6], &device) * 0.5;
        let err = ImageParam::from_image(start)
            .with_alpha(true)
            .init(0, &device)
            .unwrap_err();
        assert!(err.to_string().contains("alpha"), "{err}");
    }

    #[test]
    fn same_seed_same_start() {
        let device = Device::flex();
        let param = ImageParam::pixels().with_size(8, 8);
        let a = param.init(7, &device).unwrap().1.into_data();
        let b = param.init(7, &device).unwrap().1.into_data();
        let c = param.init(8, &device).unwrap().1.into_data();
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
        let (generator, raw) = ImageParam::from_image(image)
            .with_batch(2)
            .init(0, &device)
            .unwrap();
        let back = generator
            .image(raw)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        assert_eq!(
            back.len(),
            2 * values.len(),
            "the start image fills the batch"
        );
        for (a, b) in values.iter().cycle().zip(back) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
    }

    #[test]
    fn a_fourier_spectrum_started_from_an_image_reproduces_it_at_any_size() {
        let device = Device::flex();
        for (h, w) in [(6, 8), (7, 5)] {
            let values: Vec<f32> = (0..3 * h * w)
                .map(|i| 0.5 + 0.4 * ((i * 7 % 13) as f32 / 13.0 - 0.5))
                .collect();
            let image =
                Tensor::<4>::from_data(TensorData::new(values.clone(), [1, 3, h, w]), &device);
            let param = ImageParam::fourier()
                .with_start_image(image)
                .unwrap()
                .with_batch(2);
            let (generator, raw) = param.init(0, &device).unwrap();
            let back = generator
                .image(raw)
                .into_data()
                .try_to_vec::<f32>()
                .unwrap();
            assert_eq!(back.len(), 2 * values.len());
            for (a, b) in values.iter().cycle().zip(back) {
                assert!((a - b).abs() < 1e-4, "{h}x{w}: {a} vs {b}");
            }
        }
        let image = Tensor::<4>::zeros([1, 3, 4, 4], &device);
        assert!(ImageParam::maco().with_start_image(image).is_err());
    }

    #[test]
    fn phase_only_images_have_unit_spread_before_the_sigmoid() {
        let device = Device::flex();
        let param = ImageParam::phase_only()
            .with_size(32, 32)
            .with_decorrelation(false);
        let (generator, raw) = param.init(3, &device).unwrap();
        let image = generator.image(raw);
        // logit of the image recovers the pre-sigmoid values.
        let pre = (image.clone() / (image.neg() + 1.0)).log();
        let sd = (pre.clone() * pre).mean().into_scalar::<f32>().sqrt();
        assert!((0.5..2.0).contains(&sd), "sd {sd}");
    }

    #[test]
    fn standardized_images_have_zero_mean_and_unit_spread_each() {
        let device = Device::flex();
        let values: Vec<f32> = (0..2 * 3 * 4 * 5)
            .map(|i| ((i * 7919) % 23) as f32 * 0.3 + (i / 60) as f32 * 9.0)
            .collect();
        let x = Tensor::<4>::from_data(TensorData::new(values, [2, 3, 4, 5]), &device);
        let z = standardized(x);
        for item in 0..2 {
            let v = z.clone().narrow(0, item, 1);
            let mean = v.clone().mean().into_scalar::<f32>();
            let sd = ((v.clone() - mean) * (v - mean))
                .mean()
                .into_scalar::<f32>()
                .sqrt();
            assert!(
                mean.abs() < 1e-5 && (sd - 1.0).abs() < 1e-3,
                "mean {mean}, sd {sd}"
            );
        }
    }

    /// Standardised phases at sd 1 (MACO's reference) add up in phase at the origin, so the
    /// corners (the origin, wrapped) start saturated; spread over the circle, they are as
    /// bright as anywhere (over 16 seeds: the corner pixels' mean against the images').
    #[test]
    fn maco_images_start_without_a_bright_origin() {
        let device = Device::flex();
        let (mut corners, mut means) = (0.0, 0.0);
        for seed in 0..16 {
            let (generator, raw) = ImageParam::maco()
                .with_size(96, 96)
                .init(seed, &device)
                .unwrap();
            let image: Vec<f32> = generator
                .image(raw)
                .into_data()
                .try_to_vec::<f32>()
                .unwrap();
            means += image.iter().sum::<f32>() / image.len() as f32 / 16.0;
            corners += (0..3)
                .flat_map(|c| [(0, 0), (0, 95), (95, 0), (95, 95)].map(|(y, x)| (c, y, x)))
                .map(|(c, y, x)| image[(c * 96 + y) * 96 + x])
                .sum::<f32>()
                / 12.0
                / 16.0;
        }
        assert!(
            (corners - means).abs() < 0.1,
            "corners {corners}, mean {means}"
        );
    }

    #[test]
    fn maco_starts_from_finite_images_under_any_magnitude() {
        let device = Device::flex();
        let magnitude: Vec<f32> = (0..32 * 17).map(|i| 1.0 + (i % 7) as f32).collect();
        for param in [
            ImageParam::maco(),
            ImageParam::maco().with_magnitude(magnitude),
        ] {
            let (generator, raw) = param
                .with_size(32, 32)
                .with_batch(2)
                .init(5, &device)
                .unwrap();
            let image = generator.image(raw);
            assert_eq!(image.dims(), [2, 3, 32, 32]);
            let v = image.into_data().try_to_vec::<f32>().unwrap();
            assert!(v.iter().all(|p| (0.0..=1.0).contains(p)));
        }
    }

    #[test]
    fn descriptions_that_cannot_be_made_are_errors() {
        let device = Device::flex();
        let bad = [
            ImageParam::fourier().with_size(0, 8),
            ImageParam::pixels().with_batch(0),
            ImageParam::fourier().with_size(100_000, 8),
            ImageParam::phase_only().with_magnitude(vec![1.0; 3]),
            ImageParam::from_image(Tensor::zeros([2, 3, 4, 4], &device)).with_batch(3),
        ];
        for param in bad {
            let err = param.init(0, &device).unwrap_err();
            assert!(matches!(err, Error::Invalid(_)), "{param:?}: {err}");
        }
    }
}
