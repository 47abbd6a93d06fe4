//! Lucid's geometric transforms as one resampling at one output size for the whole render (as
//! Lucent's `fixed_image_size`): the pads and jitters become a translation and a frame, the
//! scale a zoom about the centre, the rotation a rotation, and the image is sampled once. The
//! model then sees one input shape per render: no recompiling of shape-specialised kernels,
//! one bilinear sampling instead of pads, crops and a resampling.

use burn::tensor::Tensor;
use burn::tensor::ops::GridSamplePaddingMode;
use rand::Rng;
use rand::rngs::StdRng;

use super::{Transform, pick, sample_affine};

/// The composed draw: output size, the pixel-space map from output to input (about the
/// centres), the translation in input pixels, and the fill value outside the image.
struct Composed {
    size: [usize; 2],
    scale: f32,
    degrees: f32,
    shift: [f32; 2],
    fill: f32,
}

/// Applies `transforms` as one resampling at a size that does not depend on the draws
/// (`H + 2·pads − jitters`, the size the chain yields at scale 1), drawing their random
/// parameters in the same order as [`super::apply_all`]. `None` when the list holds a
/// transform that is not a pad, jitter, scale or rotation (MACO's crops).
///
/// # Shapes
/// - x: `[B, C, H, W]`
/// - output: `[B, C, H', W']`, the same for every draw
pub fn apply_fixed(transforms: &[Transform], x: Tensor<4>, rng: &mut StdRng) -> Option<Tensor<4>> {
    let [_, _, h, w] = x.dims();
    let composed = compose(transforms, [h, w], rng)?;
    Some(sample(x, &composed))
}

/// Draws the transforms' parameters and composes them; `None` for a non-geometric one.
fn compose(transforms: &[Transform], [h, w]: [usize; 2], rng: &mut StdRng) -> Option<Composed> {
    let (mut grow, mut shrink) = (0usize, 0usize);
    let mut composed = Composed {
        size: [h, w],
        scale: 1.0,
        degrees: 0.0,
        shift: [0.0; 2],
        fill: 0.5,
    };
    for t in transforms {
        match t {
            Transform::Pad { width, value } => {
                grow += 2 * width;
                composed.fill = *value;
            }
            Transform::Jitter(d) => {
                let d = (*d).min(h + grow - shrink - 1).min(w + grow - shrink - 1);
                if d > 0 {
                    let dy = rng.random_range(0..d) as f32;
                    let dx = rng.random_range(0..d) as f32;
                    let half = d as f32 / 2.0;
                    composed.shift[0] += dy - half;
                    composed.shift[1] += dx - half;
                    shrink += d;
                }
            }
            Transform::Scale(scales) => composed.scale *= pick(scales, rng),
            Transform::Rotate(angles) => composed.degrees += pick(angles, rng),
            Transform::Crops { .. } => return None,
        }
    }
    composed.size = [h + grow - shrink, w + grow - shrink];
    Some(composed)
}

/// Samples `x` once: output pixel `u` (about the output's centre) reads input pixel
/// `R(θ)·u / s + centre + shift`, bilinear, `fill` outside the image.
///
/// # Shapes
/// - x: `[B, C, H, W]`
/// - output: `[B, C, composed.size[0], composed.size[1]]`
fn sample(x: Tensor<4>, composed: &Composed) -> Tensor<4> {
    let [n, _, h, w] = x.dims();
    let [oh, ow] = composed.size;
    let (sin, cos) = composed.degrees.to_radians().sin_cos();
    let s = composed.scale;
    // Pixel-space map (x, y order) from output offsets to input offsets.
    let map = [cos / s, -sin / s, sin / s, cos / s];
    // Normalised coordinates (corners at -1 and 1): in = Din · map · Dout · out + Din · shift.
    let span = |size: usize| (size.max(2) - 1) as f32 / 2.0;
    let (dout, din) = ([span(ow), span(oh)], [1.0 / span(w), 1.0 / span(h)]);
    let theta_one = [
        din[0] * map[0] * dout[0],
        din[0] * map[1] * dout[1],
        din[0] * composed.shift[1],
        din[1] * map[2] * dout[0],
        din[1] * map[3] * dout[1],
        din[1] * composed.shift[0],
    ];
    let theta: Vec<f32> = (0..n).flat_map(|_| theta_one).collect();
    // Zeros outside, shifted: the fill value outside, the image inside.
    let shifted = x - composed.fill;
    sample_affine(shifted, theta, [oh, ow], GridSamplePaddingMode::Zeros) + composed.fill
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Distribution};
    use rand::SeedableRng;

    use super::super::{apply_all, standard};
    use super::*;

    #[test]
    fn the_output_size_does_not_depend_on_the_draws() {
        let device = Device::flex();
        let x = Tensor::<4>::random([2, 3, 40, 30], Distribution::Default, &device);
        let mut rng = StdRng::seed_from_u64(0);
        for _ in 0..20 {
            let y = apply_fixed(&standard(), x.clone(), &mut rng).unwrap();
            assert_eq!(y.dims(), [2, 3, 52, 42]);
        }
        let crops = super::super::maco(2, 16);
        assert!(apply_fixed(&crops, x, &mut rng).is_none());
    }

    /// Without scale and rotation the chain is pads and crops: the same pixels.
    #[test]
    fn at_scale_one_it_is_the_pads_and_crops_of_the_chain() {
        let device = Device::flex();
        let x = Tensor::<4>::random([1, 3, 20, 24], Distribution::Default, &device);
        let chain = vec![
            Transform::Pad {
                width: 12,
                value: 0.5,
            },
            Transform::Jitter(8),
            Transform::Scale(vec![1.0]),
            Transform::Rotate(vec![0.0]),
            Transform::Jitter(4),
        ];
        for seed in 0..5 {
            let fixed = apply_fixed(&chain, x.clone(), &mut StdRng::seed_from_u64(seed)).unwrap();
            let steps = apply_all(&chain, x.clone(), &mut StdRng::seed_from_u64(seed));
            assert_eq!(fixed.dims(), steps.dims());
            let diff = (fixed - steps).abs().max().into_scalar::<f32>();
            assert!(diff < 1e-5, "seed {seed}: {diff}");
        }
    }
}
