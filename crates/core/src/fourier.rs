//! The inverse 2-D real DFT, valid at any image size (one custom autodiff op: FFTs on the CPU
//! backend, matrix products elsewhere); the forward one on the host; and Lucid's 1/f spectrum
//! scaling.

use std::f64::consts::PI;

use burn::tensor::{Device, Tensor, TensorData};
use rustfft::FftPlanner;
use rustfft::num_complex::Complex;

use crate::inverse_dft::irfft2;

/// Precomputed matrices of `irfft2(·, norm = "ortho")` for one image size.
#[derive(Clone, Debug)]
pub struct InverseRfft2 {
    h: usize,
    w: usize,
    /// `cos(2π ky y / h) / sqrt(h)`, `[h, h]` (rows y, columns ky).
    cy: Tensor<4>,
    /// `sin(2π ky y / h) / sqrt(h)`, `[h, h]`.
    sy: Tensor<4>,
    /// `c_kx cos(2π kx x / w) / sqrt(w)`, `[w/2+1, w]`, with `c` = 1 at DC and Nyquist, else 2.
    cx: Tensor<4>,
    /// `c_kx sin(2π kx x / w) / sqrt(w)`, `[w/2+1, w]`.
    sx: Tensor<4>,
}

impl InverseRfft2 {
    /// Matrices for `h x w` images on `device`.
    pub fn new(h: usize, w: usize, device: &Device) -> Self {
        let wf = w / 2 + 1;
        let (sh, sw) = ((h as f64).sqrt(), (w as f64).sqrt());
        let mat = |rows: usize, cols: usize, f: &dyn Fn(usize, usize) -> f64| {
            let values: Vec<f32> = (0..rows * cols)
                .map(|i| f(i / cols, i % cols) as f32)
                .collect();
            Tensor::<4>::from_data(TensorData::new(values, [1, 1, rows, cols]), device)
        };
        let angle_y = |y: usize, ky: usize| 2.0 * PI * ((ky * y) % h) as f64 / h as f64;
        let weight = |kx: usize| {
            if kx == 0 || (w.is_multiple_of(2) && kx == w / 2) {
                1.0
            } else {
                2.0
            }
        };
        let angle_x = |kx: usize, x: usize| 2.0 * PI * ((kx * x) % w) as f64 / w as f64;
        Self {
            h,
            w,
            cy: mat(h, h, &|y, ky| angle_y(y, ky).cos() / sh),
            sy: mat(h, h, &|y, ky| angle_y(y, ky).sin() / sh),
            cx: mat(wf, w, &|kx, x| weight(kx) * angle_x(kx, x).cos() / sw),
            sx: mat(wf, w, &|kx, x| weight(kx) * angle_x(kx, x).sin() / sw),
        }
    }

    /// The image of a half spectrum given as real and imaginary parts (one custom autodiff op,
    /// whose backward is the transform's adjoint).
    ///
    /// # Shapes
    /// - re, im: `[B, C, h, w/2+1]`
    /// - output: `[B, C, h, w]`
    pub fn apply(&self, re: Tensor<4>, im: Tensor<4>) -> Tensor<4> {
        debug_assert_eq!(re.dims()[2..], [self.h, self.w / 2 + 1]);
        irfft2(re, im, self.matrices())
    }

    /// `[cy, sy, cx, sx]`.
    pub(crate) fn matrices(&self) -> [Tensor<4>; 4] {
        [&self.cy, &self.sy, &self.cx, &self.sx].map(Tensor::clone)
    }
}

/// The half spectrum `[h, w/2+1]` (row-major) of a real `h x w` image (row-major),
/// unnormalised: numpy's `rfft2`.
pub fn rfft2(values: &[f64], h: usize, w: usize) -> Vec<Complex<f64>> {
    let wf = w / 2 + 1;
    let mut planner = FftPlanner::<f64>::new();
    let (rows, columns) = (planner.plan_fft_forward(w), planner.plan_fft_forward(h));
    let mut grid: Vec<Complex<f64>> = values.iter().map(|&v| Complex::new(v, 0.0)).collect();
    for row in grid.chunks_mut(w) {
        rows.process(row);
    }
    let mut half = vec![Complex::new(0.0, 0.0); h * wf];
    for kx in 0..wf {
        let mut column: Vec<Complex<f64>> = (0..h).map(|y| grid[y * w + kx]).collect();
        columns.process(&mut column);
        for (ky, v) in column.into_iter().enumerate() {
            half[ky * wf + kx] = v;
        }
    }
    half
}

/// `|f|` of each half-spectrum bin, `[h, w/2+1]` row-major (numpy's `fftfreq` along each axis).
pub fn frequencies(h: usize, w: usize) -> Vec<f32> {
    let freq = |k: usize, n: usize| {
        let k = if k <= (n - 1) / 2 {
            k as f64
        } else {
            k as f64 - n as f64
        };
        k / n as f64
    };
    let wf = w / 2 + 1;
    (0..h * wf)
        .map(|i| {
            let (fy, fx) = (freq(i / wf, h), (i % wf) as f64 / w as f64);
            (fy * fy + fx * fx).sqrt() as f32
        })
        .collect()
}

/// Lucid's spectrum scale `1 / max(|f|, 1 / max(h, w))^decay`, `[h, w/2+1]`.
pub fn spectrum_scale(h: usize, w: usize, decay: f32) -> Vec<f32> {
    let floor = 1.0 / h.max(w) as f32;
    frequencies(h, w)
        .into_iter()
        .map(|f| 1.0 / f.max(floor).powf(decay))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct evaluation of numpy's `irfft2(X, norm="ortho")` at one pixel.
    fn reference(re: &[f32], im: &[f32], h: usize, w: usize, y: usize, x: usize) -> f64 {
        let wf = w / 2 + 1;
        let mut total = 0.0;
        for ky in 0..h {
            for kx in 0..w {
                // Hermitian extension of the half spectrum.
                let (k2y, k2x, sign) = if kx < wf {
                    (ky, kx, 1.0)
                } else {
                    ((h - ky) % h, w - kx, -1.0)
                };
                let (a, b) = (re[k2y * wf + k2x] as f64, sign * im[k2y * wf + k2x] as f64);
                let angle =
                    2.0 * PI * (ky as f64 * y as f64 / h as f64 + kx as f64 * x as f64 / w as f64);
                total += a * angle.cos() - b * angle.sin();
            }
        }
        total / ((h * w) as f64).sqrt()
    }

    #[test]
    fn matches_a_direct_inverse_dft() {
        for (h, w) in [(4, 6), (5, 7), (6, 5)] {
            let wf = w / 2 + 1;
            let n = h * wf;
            // A Hermitian-consistent spectrum: the spectrum of a real image.
            let img: Vec<f64> = (0..h * w)
                .map(|i| ((i * 7919) % 13) as f64 / 13.0 - 0.5)
                .collect();
            let mut re = vec![0f32; n];
            let mut im = vec![0f32; n];
            for ky in 0..h {
                for kx in 0..wf {
                    let (mut a, mut b) = (0.0, 0.0);
                    for y in 0..h {
                        for x in 0..w {
                            let angle = -2.0
                                * PI
                                * (ky as f64 * y as f64 / h as f64
                                    + kx as f64 * x as f64 / w as f64);
                            a += img[y * w + x] * angle.cos();
                            b += img[y * w + x] * angle.sin();
                        }
                    }
                    let s = ((h * w) as f64).sqrt();
                    re[ky * wf + kx] = (a / s) as f32;
                    im[ky * wf + kx] = (b / s) as f32;
                }
            }
            let device = Device::flex();
            let t = |v: &Vec<f32>| {
                Tensor::<4>::from_data(TensorData::new(v.clone(), [1, 1, h, wf]), &device)
            };
            let out = InverseRfft2::new(h, w, &device).apply(t(&re), t(&im));
            let out = out.into_data().try_to_vec::<f32>().unwrap();
            for y in 0..h {
                for x in 0..w {
                    let want = reference(&re, &im, h, w, y, x);
                    assert!(
                        (out[y * w + x] as f64 - want).abs() < 1e-4,
                        "{h}x{w} ({y},{x})"
                    );
                    assert!((want - img[y * w + x]).abs() < 1e-4, "round trip {h}x{w}");
                }
            }
        }
    }

    #[test]
    fn scale_follows_lucid() {
        let s = spectrum_scale(4, 4, 1.0);
        // DC is floored at 1 / max(h, w) = 0.25 -> scale 4; bin (0, 1) has |f| = 0.25 -> 4;
        // bin (1, 1) has |f| = sqrt(2) / 4.
        assert!((s[0] - 4.0).abs() < 1e-6);
        assert!((s[1] - 4.0).abs() < 1e-6);
        assert!((s[3 + 1] - 4.0 / 2f32.sqrt()).abs() < 1e-5);
        assert_eq!(frequencies(4, 4)[2], 0.5);
    }
}
