//! Random, differentiable image transforms applied before every step (transformation
//! robustness), seeded for reproducibility.

mod fixed;

pub use fixed::apply_fixed;

use burn::tensor::grid::affine_grid_2d;
use burn::tensor::ops::{GridSampleOptions, GridSamplePaddingMode, InterpolateMode, PadMode};
use burn::tensor::{Tensor, TensorData};
use rand::Rng;
use rand::rngs::StdRng;

use crate::random::normal;

/// One transform. Every image of a batch gets the same random draw.
#[derive(Clone, Debug, PartialEq)]
pub enum Transform {
    /// Pad each side by `width` pixels of a constant value.
    Pad {
        /// Pixels added on each side.
        width: usize,
        /// The fill value (Lucid: 0.5).
        value: f32,
    },
    /// A random crop that removes `d` pixels in total from each axis (offsets `0..d`).
    Jitter(usize),
    /// Bilinear rescaling by a factor drawn uniformly from the list.
    Scale(Vec<f32>),
    /// Rotation about the centre by an angle in degrees drawn uniformly from the list.
    Rotate(Vec<f32>),
    /// MACO's crops: `count` square boxes of each image, their side a fraction of the
    /// image's drawn uniformly from `side`, their centre N(0.5, 0.15) of the image, each
    /// resampled to `output` pixels, plus Gaussian and uniform noise of scale `noise`. The
    /// batch grows `count`-fold (crop `k` of image `i` at `k * B + i`).
    Crops {
        /// Crops per image.
        count: usize,
        /// The range of the box side, as a fraction of the image side.
        side: [f32; 2],
        /// The side of each crop as the model sees it.
        output: usize,
        /// The noise scale.
        noise: f32,
    },
}

impl Transform {
    /// Applies the transform to images.
    ///
    /// # Shapes
    /// - x: `[B, C, H, W]`
    /// - output: `[B, C, H', W']` (pad and jitter change the size)
    pub fn apply(&self, x: Tensor<4>, rng: &mut StdRng) -> Tensor<4> {
        apply_all(std::slice::from_ref(self), x, rng)
    }
}

/// Applies `transforms` in order, drawing their random parameters in order from `rng`.
///
/// A run of consecutive `Scale` and `Rotate` transforms is resampled once, by the composition
/// of their maps (one bilinear sampling instead of one per transform: the same geometry, less
/// blur, less work).
///
/// # Shapes
/// - x: `[B, C, H, W]`
/// - output: `[B, C, H', W']` (pad and jitter change the size)
pub fn apply_all(transforms: &[Transform], x: Tensor<4>, rng: &mut StdRng) -> Tensor<4> {
    let mut x = x;
    let mut warp: Option<Warp> = None;
    for t in transforms {
        let pending = || warp.unwrap_or_else(|| Warp::identity(&x));
        match t {
            Transform::Scale(scales) => warp = Some(pending().scaled(pick(scales, rng))),
            Transform::Rotate(angles) => warp = Some(pending().rotated(pick(angles, rng))),
            Transform::Pad { width, value } => {
                x = flush(x, warp.take()).pad(
                    [(*width, *width), (*width, *width)],
                    PadMode::Constant(*value),
                );
            }
            Transform::Crops {
                count,
                side,
                output,
                noise,
            } => {
                x = crops(flush(x, warp.take()), *count, *side, *output, *noise, rng);
            }
            Transform::Jitter(d) => {
                x = flush(x, warp.take());
                let [_, _, h, w] = x.dims();
                let d = (*d).min(h - 1).min(w - 1);
                if d > 0 {
                    let dy = rng.random_range(0..d);
                    let dx = rng.random_range(0..d);
                    x = x.narrow(2, dy, h - d).narrow(3, dx, w - d);
                }
            }
        }
    }
    flush(x, warp)
}

/// MACO's random crops (see [`Transform::Crops`]).
///
/// # Shapes
/// - x: `[B, C, H, W]`
/// - output: `[count * B, C, output, output]`
fn crops(
    x: Tensor<4>,
    count: usize,
    [low, high]: [f32; 2],
    output: usize,
    noise: f32,
    rng: &mut StdRng,
) -> Tensor<4> {
    let [b, c, ..] = x.dims();
    let n = count * b;
    let mut theta = Vec::with_capacity(6 * n);
    for _ in 0..n {
        let side = if high > low {
            rng.random_range(low..high)
        } else {
            low
        };
        let centre = [
            0.5 + CROP_CENTRE_SD * normal(rng),
            0.5 + CROP_CENTRE_SD * normal(rng),
        ];
        // Output coordinates in [-1, 1] map to the box in the input's [-1, 1].
        theta.extend([
            side,
            0.0,
            2.0 * centre[1] - 1.0,
            0.0,
            side,
            2.0 * centre[0] - 1.0,
        ]);
    }
    let device = x.device();
    let sampled = sample_affine(
        x.repeat_dim(0, count),
        theta,
        [output, output],
        GridSamplePaddingMode::Border,
    );
    if noise == 0.0 {
        return sampled;
    }
    let values = n * c * output * output;
    let jitter: Vec<f32> = (0..values)
        .map(|_| noise * (normal(rng) + rng.random::<f32>() - 0.5))
        .collect();
    sampled + Tensor::from_data(TensorData::new(jitter, [n, c, output, output]), &device)
}

/// The spread of MACO's crop centres around the image's middle, as a fraction of its side.
const CROP_CENTRE_SD: f32 = 0.15;

/// The part of the image that MACO's crops see, `[from, to]` as fractions of its side on both
/// axes: the middle square whose pixels are inside at least half as many crops as the middle
/// pixel is, along each axis (crop centres N(0.5, 0.15²), sides uniform in the crops' range:
/// 30–70% of the side for MACO's 25–30% crops); `None` without crops (every pixel is seen).
pub fn crop_region(transforms: &[Transform]) -> Option<[f32; 2]> {
    let [low, high] = transforms.iter().find_map(|t| match t {
        Transform::Crops { side, .. } => Some(*side),
        _ => None,
    })?;
    // The share of crops that cover a pixel `d` from the middle along one axis: the chance
    // that a centre falls within half a side of it, integrated over the centre's normal
    // density (and averaged over the side's range) on a fine grid.
    let covered = |d: f32| {
        let steps = 4000;
        let (sides, mut total) = (8, 0.0);
        for k in 0..sides {
            let half = (low + (high - low) * (k as f32 + 0.5) / sides as f32) / 2.0;
            for i in 0..steps {
                let z = -6.0 + 12.0 * (i as f32 + 0.5) / steps as f32;
                let offset = CROP_CENTRE_SD * z - d;
                if offset.abs() < half {
                    total += (-z * z / 2.0).exp() * 12.0 / steps as f32;
                }
            }
        }
        total / sides as f32 / (2.0 * std::f32::consts::PI).sqrt()
    };
    let target = covered(0.0) / 2.0;
    // Coverage falls with the distance from the middle: bisect for where it halves.
    let (mut inside, mut outside) = (0.0f32, 0.5f32);
    for _ in 0..30 {
        let mid = (inside + outside) / 2.0;
        if covered(mid) >= target {
            inside = mid;
        } else {
            outside = mid;
        }
    }
    Some([0.5 - inside, 0.5 + inside])
}

/// The largest input the model sees when `transforms` apply to an image of `size` (height,
/// width): one resampling at a constant size (geometric transforms: the chain's size at scale
/// 1), or with `variable_size` one after the other at the largest scale drawn; MACO's crops at
/// their output size. What a render's memory is estimated at.
pub fn input_size(transforms: &[Transform], size: [usize; 2], variable_size: bool) -> [usize; 2] {
    let geometric = !transforms
        .iter()
        .any(|t| matches!(t, Transform::Crops { .. }));
    let mut size = size;
    for t in transforms {
        size = match t {
            Transform::Pad { width, .. } => size.map(|s| s + 2 * width),
            Transform::Jitter(d) => size.map(|s| s - (*d).min(s - 1)),
            Transform::Scale(scales) if variable_size || !geometric => {
                let top = scales.iter().fold(1f32, |m, &s| m.max(s));
                size.map(|s| ((s as f32 * top).round() as usize).max(2))
            }
            Transform::Crops { output, .. } => [*output, *output],
            _ => size,
        };
    }
    size
}

/// The side MACO's crops are resampled to (the model's input size); `None` without crops.
pub fn crop_output(transforms: &[Transform]) -> Option<usize> {
    transforms.iter().find_map(|t| match t {
        Transform::Crops { output, .. } => Some(*output),
        _ => None,
    })
}

/// The images the model sees per optimised image: MACO's crop count, else 1.
pub fn copies_per_image(transforms: &[Transform]) -> usize {
    transforms
        .iter()
        .find_map(|t| match t {
            Transform::Crops { count, .. } => Some(*count),
            _ => None,
        })
        .unwrap_or(1)
}

/// MACO's transforms as published: 6 crops of 25–30% of the image side, resampled to the
/// model's `input` size, noise 0.05 (the reference draws the side as `U(0, 0.05) + 0.25`).
pub fn maco(count: usize, input: usize) -> Vec<Transform> {
    vec![Transform::Crops {
        count,
        side: [0.25, 0.30],
        output: input,
        noise: 0.05,
    }]
}

/// A pending resampling: output `size`, and the linear map `[a, b; c, d]` from output to input
/// coordinates, both normalised to [-1, 1] between the corner pixels.
#[derive(Clone, Copy, Debug)]
struct Warp {
    map: [f32; 4],
    size: [usize; 2],
}

impl Warp {
    const IDENTITY: [f32; 4] = [1.0, 0.0, 0.0, 1.0];

    /// No change to `x`: the identity map at its size.
    fn identity(x: &Tensor<4>) -> Self {
        let [_, _, h, w] = x.dims();
        Warp {
            map: Self::IDENTITY,
            size: [h, w],
        }
    }

    /// Rescales the output by `s` (at least 2 x 2 pixels); normalised coordinates are unchanged.
    fn scaled(self, s: f32) -> Self {
        let [h, w] = self.size;
        let size = [
            ((h as f32 * s).round() as usize).max(2),
            ((w as f32 * s).round() as usize).max(2),
        ];
        Warp { size, ..self }
    }

    /// Rotates the output about its centre by `degrees`, rigidly in pixels.
    fn rotated(self, degrees: f32) -> Self {
        if degrees == 0.0 {
            return self;
        }
        let [h, w] = self.size;
        let (sin, cos) = degrees.to_radians().sin_cos();
        let aspect = w as f32 / h as f32;
        let rotation = [cos, -sin / aspect, sin * aspect, cos];
        let [a, b, c, d] = self.map;
        let [p, q, r, t] = rotation;
        Warp {
            map: [a * p + b * r, a * q + b * t, c * p + d * r, c * q + d * t],
            ..self
        }
    }
}

/// Applies a pending resampling, if any (none when it would leave `x` as it is).
fn flush(x: Tensor<4>, warp: Option<Warp>) -> Tensor<4> {
    match warp {
        Some(warp) if warp.map != Warp::IDENTITY || warp.size != Warp::identity(&x).size => {
            affine(x, warp.map, warp.size)
        }
        _ => x,
    }
}

fn pick(values: &[f32], rng: &mut StdRng) -> f32 {
    if values.is_empty() {
        1.0
    } else {
        values[rng.random_range(0..values.len())]
    }
}

/// Rotates about the centre by `degrees` (bilinear, edge pixels repeated outside).
///
/// # Shapes
/// - x and output: `[B, C, H, W]`
pub fn rotate(x: Tensor<4>, degrees: f32) -> Tensor<4> {
    let warp = Warp::identity(&x).rotated(degrees);
    flush(x, Some(warp))
}

/// Bilinear resize to `size`, corner pixels aligned, as `interpolate(.., Bilinear)` with
/// `align_corners` does.
///
/// Sampled through `grid_sample_2d` ([`crate::resample::grid_sample`]), whose backward every
/// backend has (the GPU backends have no backward for bilinear `interpolate`).
///
/// # Shapes
/// - x: `[B, C, H, W]`
/// - output: `[B, C, size[0], size[1]]`
pub fn resize(x: Tensor<4>, size: [usize; 2]) -> Tensor<4> {
    let warp = Warp {
        size,
        ..Warp::identity(&x)
    };
    flush(x, Some(warp))
}

/// Samples `x` bilinearly on an output grid of `size` mapped into the input by the linear map
/// `[a, b; c, d]` in normalised coordinates (corners at -1 and 1), edge pixels repeated outside.
fn affine(x: Tensor<4>, [a, b, c, d]: [f32; 4], size: [usize; 2]) -> Tensor<4> {
    let n = x.dims()[0];
    let theta: Vec<f32> = (0..n).flat_map(|_| [a, b, 0.0, c, d, 0.0]).collect();
    sample_affine(x, theta, size, GridSamplePaddingMode::Border)
}

/// Samples each image of `x` bilinearly (corners aligned) on an output grid of `size`, mapped
/// into it by its own row of `theta` (six values a batch item, `[a, b, tx; c, d, ty]` in
/// normalised coordinates), with `padding` outside.
///
/// # Shapes
/// - x: `[B, C, H, W]`; theta: `6 B` values
/// - output: `[B, C, size[0], size[1]]`
fn sample_affine(
    x: Tensor<4>,
    theta: Vec<f32>,
    [h, w]: [usize; 2],
    padding: GridSamplePaddingMode,
) -> Tensor<4> {
    let [n, channels, ..] = x.dims();
    let theta = Tensor::<3>::from_data(TensorData::new(theta, [n, 2, 3]), &x.device());
    let grid = affine_grid_2d(theta, [n, channels, h, w]);
    let options = GridSampleOptions::new(InterpolateMode::Bilinear)
        .with_padding_mode(padding)
        .with_align_corners(true);
    crate::resample::grid_sample(x, grid, options)
}

/// Lucid's standard transforms: pad 12 (0.5), jitter 8, scale 0.90..1.10 in steps of 0.02,
/// rotate -10..10 degrees (0 weighted 6/26), jitter 4.
pub fn standard() -> Vec<Transform> {
    let scales = (0..11).map(|i| 1.0 + (i as f32 - 5.0) / 50.0).collect();
    let mut angles: Vec<f32> = (-10..=10).map(|a| a as f32).collect();
    angles.extend([0.0; 5]);
    vec![
        Transform::Pad {
            width: 12,
            value: 0.5,
        },
        Transform::Jitter(8),
        Transform::Scale(scales),
        Transform::Rotate(angles),
        Transform::Jitter(4),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maco_s_crops_see_the_middle_where_coverage_is_at_least_half() {
        let [from, to] = crop_region(&maco(6, 224)).unwrap();
        // Φ((d + s/2)/σ) − Φ((d − s/2)/σ) halves from 0.641 at d ≈ 0.2025 (σ 0.15, s ≈ 0.275).
        assert!((to - 0.5 - 0.2025).abs() < 0.003, "{from}..{to}");
        assert!((from + to - 1.0).abs() < 1e-6);
        assert_eq!(crop_region(&standard()), None);
        // Wider spread of sides, wider region.
        let wide = vec![Transform::Crops {
            count: 1,
            side: [0.5, 0.6],
            output: 8,
            noise: 0.0,
        }];
        assert!(crop_region(&wide).unwrap()[1] > to);
    }

    #[test]
    fn maco_crops_fill_the_batch_at_the_model_size() {
        let device = burn::tensor::Device::flex();
        let flat = Tensor::<4>::full([1, 3, 40, 40], 0.25, &device);
        let mut rng = rand::SeedableRng::seed_from_u64(1);
        let crops = Transform::Crops {
            count: 5,
            side: [0.25, 0.30],
            output: 16,
            noise: 0.0,
        };
        let out = crops.apply(flat, &mut rng);
        assert_eq!(out.dims(), [5, 3, 16, 16]);
        // A flat image crops to the same flat value wherever the boxes fall.
        let values = out.into_data().try_to_vec::<f32>().unwrap();
        assert!(values.iter().all(|v| (v - 0.25).abs() < 1e-5));
        // Crops of a gradient image differ from one another.
        let ramp = Tensor::<4>::from_data(
            TensorData::new(
                (0..1600).map(|i| (i % 40) as f32).collect::<Vec<_>>(),
                [1, 1, 40, 40],
            ),
            &device,
        );
        let out = crops.apply(ramp, &mut rng);
        let first = out.clone().narrow(0, 0, 1).mean().into_scalar::<f32>();
        let second = out.narrow(0, 1, 1).mean().into_scalar::<f32>();
        assert!((first - second).abs() > 1e-3);
    }
    use burn::tensor::Device;
    use rand::SeedableRng;

    #[test]
    fn standard_list_matches_lucid() {
        let t = standard();
        let Transform::Scale(s) = &t[2] else { panic!() };
        assert_eq!(s.len(), 11);
        assert!((s[0] - 0.90).abs() < 1e-6 && (s[10] - 1.10).abs() < 1e-6);
        let Transform::Rotate(a) = &t[3] else {
            panic!()
        };
        assert_eq!(a.len(), 26);
        assert_eq!(a.iter().filter(|&&v| v == 0.0).count(), 6);
    }

    #[test]
    fn shapes_follow_the_transforms() {
        let device = Device::flex();
        let x = Tensor::<4>::ones([2, 3, 64, 64], &device);
        let mut rng = StdRng::seed_from_u64(1);
        let padded = standard()[0].apply(x.clone(), &mut rng);
        assert_eq!(padded.dims(), [2, 3, 88, 88]);
        assert_eq!(
            Transform::Jitter(8).apply(x.clone(), &mut rng).dims(),
            [2, 3, 56, 56]
        );
        let scaled = Transform::Scale(vec![1.1]).apply(x.clone(), &mut rng);
        assert_eq!(scaled.dims(), [2, 3, 70, 70]);
    }

    #[test]
    fn the_input_size_is_what_the_transforms_yield() {
        let mut rng = StdRng::seed_from_u64(1);
        let x = Tensor::<4>::zeros([1, 3, 64, 64], &Device::flex());
        let fixed = fixed::apply_fixed(&standard(), x.clone(), &mut rng).unwrap();
        assert_eq!(
            input_size(&standard(), [64, 64], false),
            [fixed.dims()[2], fixed.dims()[3]]
        );
        // One after the other, the largest scale drawn bounds every draw.
        let [h, w] = input_size(&standard(), [64, 64], true);
        for _ in 0..20 {
            let [_, _, oh, ow] = apply_all(&standard(), x.clone(), &mut rng).dims();
            assert!(oh <= h && ow <= w, "{oh}x{ow} above {h}x{w}");
        }
        assert_eq!(input_size(&maco(6, 224), [448, 448], false), [224, 224]);
    }

    #[test]
    fn resize_is_bilinear_interpolation_with_aligned_corners() {
        use burn::tensor::module::interpolate;
        use burn::tensor::ops::InterpolateOptions;
        let device = Device::flex();
        let values: Vec<f32> = (0..2 * 3 * 9 * 7).map(|i| ((i * 13) % 17) as f32).collect();
        let x = Tensor::<4>::from_data(TensorData::new(values, [2, 3, 9, 7]), &device);
        for size in [[10, 8], [8, 6], [11, 7]] {
            let options = InterpolateOptions::new(InterpolateMode::Bilinear)
                .with_output_size(size)
                .with_align_corners(true);
            let expected = interpolate(x.clone(), options).into_data();
            let got = resize(x.clone(), size).into_data();
            expected.assert_approx_eq::<f32>(&got, burn::tensor::Tolerance::absolute(1e-4));
        }
    }

    #[test]
    fn scale_then_rotate_is_resampled_once_with_the_same_geometry() {
        let device = Device::flex();
        // A smooth image, so that one resampling and two differ only by a little blur.
        let (h, w) = (40, 48);
        let values: Vec<f32> = (0..h * w)
            .map(|i| {
                let (y, x) = ((i / w) as f32, (i % w) as f32);
                (x * 0.21).sin() * (y * 0.13).cos() + 0.01 * x
            })
            .collect();
        let x = Tensor::<4>::from_data(TensorData::new(values, [1, 1, h, w]), &device);
        let mut rng = StdRng::seed_from_u64(0);
        let fused = apply_all(
            &[Transform::Scale(vec![1.1]), Transform::Rotate(vec![9.0])],
            x.clone(),
            &mut rng,
        );
        let sequential = rotate(resize(x, [44, 53]), 9.0);
        assert_eq!(fused.dims(), [1, 1, 44, 53]);
        let worst = (fused - sequential).abs().max().into_scalar::<f32>();
        assert!(worst < 0.05, "fused and sequential differ by {worst}");
    }

    #[test]
    fn rotation_by_90_degrees_turns_the_image() {
        let device = Device::flex();
        // A 3x3 image with one bright pixel at the top centre.
        let mut v = vec![0f32; 9];
        v[1] = 1.0;
        let x = Tensor::<4>::from_data(TensorData::new(v, [1, 1, 3, 3]), &device);
        let r = rotate(x, 90.0).into_data().try_to_vec::<f32>().unwrap();
        let brightest = (0..9).max_by(|&a, &b| r[a].total_cmp(&r[b])).unwrap();
        // Counter-clockwise or clockwise, the pixel leaves the top row for the middle row.
        assert!(brightest == 3 || brightest == 5, "{r:?}");
        assert!(r[brightest] > 0.99);
    }
}
