//! Random, differentiable image transforms applied before every step (transformation
//! robustness), seeded for reproducibility.

use burn::tensor::grid::affine_grid_2d;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{
    GridSampleOptions, GridSamplePaddingMode, InterpolateMode, InterpolateOptions, PadMode,
};
use burn::tensor::{Tensor, TensorData};
use rand::Rng;
use rand::rngs::StdRng;

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
}

impl Transform {
    /// Applies the transform to `[B, C, H, W]` images.
    pub fn apply(&self, x: Tensor<4>, rng: &mut StdRng) -> Tensor<4> {
        let [_, _, h, w] = x.dims();
        match self {
            Transform::Pad { width, value } => x.pad(
                [(*width, *width), (*width, *width)],
                PadMode::Constant(*value),
            ),
            Transform::Jitter(d) => {
                let d = (*d).min(h - 1).min(w - 1);
                if d == 0 {
                    return x;
                }
                let dy = rng.random_range(0..d);
                let dx = rng.random_range(0..d);
                x.narrow(2, dy, h - d).narrow(3, dx, w - d)
            }
            Transform::Scale(scales) => {
                let s = pick(scales, rng);
                let size = [
                    ((h as f32 * s).round() as usize).max(1),
                    ((w as f32 * s).round() as usize).max(1),
                ];
                if size == [h, w] {
                    return x;
                }
                let options =
                    InterpolateOptions::new(InterpolateMode::Bilinear).with_output_size(size);
                interpolate(x, options)
            }
            Transform::Rotate(angles) => {
                let degrees = pick(angles, rng);
                if degrees == 0.0 {
                    return x;
                }
                rotate(x, degrees)
            }
        }
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
pub fn rotate(x: Tensor<4>, degrees: f32) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    let (sin, cos) = degrees.to_radians().sin_cos();
    // The affine grid works in normalised coordinates; keep the rotation rigid in pixels.
    let aspect = w as f32 / h as f32;
    let theta: Vec<f32> = (0..b)
        .flat_map(|_| [cos, -sin / aspect, 0.0, sin * aspect, cos, 0.0])
        .collect();
    let theta = Tensor::<3>::from_data(TensorData::new(theta, [b, 2, 3]), &x.device());
    let grid = affine_grid_2d(theta, [b, c, h, w]);
    let options = GridSampleOptions::new(InterpolateMode::Bilinear)
        .with_padding_mode(GridSamplePaddingMode::Border)
        .with_align_corners(true);
    x.grid_sample_2d(grid, options)
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

/// Applies `transforms` in order.
pub fn apply_all(transforms: &[Transform], x: Tensor<4>, rng: &mut StdRng) -> Tensor<4> {
    transforms.iter().fold(x, |x, t| t.apply(x, rng))
}

#[cfg(test)]
mod tests {
    use super::*;
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
