//! Decorrelated colour: optimise in a space whose axes are ImageNet's principal colour axes.

use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor, TensorData};

/// Lucid's square root of ImageNet's colour covariance, rows = R, G, B.
pub const COLOR_CORRELATION_SVD_SQRT: [[f32; 3]; 3] =
    [[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]];

/// The largest column norm of [`COLOR_CORRELATION_SVD_SQRT`].
pub fn max_column_norm() -> f32 {
    (0..3)
        .map(|j| {
            (0..3)
                .map(|i| COLOR_CORRELATION_SVD_SQRT[i][j].powi(2))
                .sum::<f32>()
                .sqrt()
        })
        .fold(0.0, f32::max)
}

/// The normalised colour matrix `C / max_column_norm`.
pub fn color_matrix() -> [[f32; 3]; 3] {
    let n = max_column_norm();
    COLOR_CORRELATION_SVD_SQRT.map(|row| row.map(|v| v / n))
}

/// Maps decorrelated channels to RGB: `rgb[i] = sum_j C[i][j] * x[j]` at every pixel
/// (`pixels @ Cᵀ` in Lucid's NHWC terms), as a 1x1 convolution.
///
/// # Shapes
/// - x and output: `[B, 3, H, W]`
pub fn decorrelated_to_rgb(x: Tensor<4>) -> Tensor<4> {
    let weight = matrix_weight(color_matrix(), &x.device());
    conv2d(x, weight, None, ConvOptions::new([1, 1], [0, 0], [1, 1], 1))
}

/// The inverse of [`decorrelated_to_rgb`], for starting from a given image.
///
/// # Shapes
/// - x and output: `[B, 3, H, W]`
pub fn rgb_to_decorrelated(x: Tensor<4>) -> Tensor<4> {
    let weight = matrix_weight(invert(color_matrix()), &x.device());
    conv2d(x, weight, None, ConvOptions::new([1, 1], [0, 0], [1, 1], 1))
}

fn matrix_weight(m: [[f32; 3]; 3], device: &Device) -> Tensor<4> {
    let values: Vec<f32> = m.iter().flatten().copied().collect();
    Tensor::from_data(TensorData::new(values, [3, 3, 1, 1]), device)
}

fn invert(m: [[f32; 3]; 3]) -> [[f32; 3]; 3] {
    let cof = |r: usize, c: usize| {
        let (r1, r2) = ((r + 1) % 3, (r + 2) % 3);
        let (c1, c2) = ((c + 1) % 3, (c + 2) % 3);
        m[r1][c1] * m[r2][c2] - m[r1][c2] * m[r2][c1]
    };
    let det: f32 = (0..3).map(|c| m[0][c] * cof(0, c)).sum();
    std::array::from_fn(|i| std::array::from_fn(|j| cof(j, i) / det))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_matches_lucid() {
        assert!((max_column_norm() - 0.461_952_4).abs() < 1e-6);
        let m = color_matrix();
        assert!((m[0][0] - 0.26 / 0.461_952_4).abs() < 1e-6);
    }

    #[test]
    fn inverse_inverts() {
        let m = color_matrix();
        let inv = invert(m);
        for (i, row) in m.iter().enumerate() {
            for j in 0..3 {
                let v: f32 = row
                    .iter()
                    .zip(&inv)
                    .map(|(a, inv_row)| a * inv_row[j])
                    .sum();
                assert!((v - f32::from(u8::from(i == j))).abs() < 1e-5);
            }
        }
    }
}
