//! The one normal sampler of the workspace, seeded through `StdRng` (Box–Muller: `rand_distr`
//! for the `rand` 0.9 that the workspace uses is not in the lock file, and Burn's own sampler
//! draws from its device's generator, which a seed per call cannot reach).

use rand::Rng;
use rand::rngs::StdRng;

/// A standard normal draw.
pub fn normal(rng: &mut StdRng) -> f32 {
    normal_sd(rng, 1.0)
}

/// `n` draws of N(0, sd²).
pub fn normals(rng: &mut StdRng, n: usize, sd: f32) -> Vec<f32> {
    (0..n).map(|_| normal_sd(rng, sd)).collect()
}

/// One draw of N(0, sd²), `sd` multiplied first (the order the renders' seeds were fixed in).
fn normal_sd(rng: &mut StdRng, sd: f32) -> f32 {
    let u: f32 = rng.random_range(f32::EPSILON..1.0);
    let v: f32 = rng.random();
    sd * (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn draws_have_the_asked_spread() {
        let draws = normals(&mut StdRng::seed_from_u64(3), 20_000, 2.0);
        let mean = draws.iter().sum::<f32>() / draws.len() as f32;
        let var = draws.iter().map(|d| (d - mean).powi(2)).sum::<f32>() / draws.len() as f32;
        assert!(mean.abs() < 0.05, "mean {mean}");
        assert!((var.sqrt() - 2.0).abs() < 0.05, "sd {}", var.sqrt());
    }
}
