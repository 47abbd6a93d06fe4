//! The percentile that heatmaps and alpha maps are scaled by: saliency and gradient maps are
//! heavy-tailed, so scaled by their maximum a few pixels would hide the rest.

/// The value below which `percent`% of `values` lie (the sorted value at index
/// `len * percent / 100`); 0 for no values.
pub fn percentile(values: &[f32], percent: usize) -> f32 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f32::total_cmp);
    sorted
        .get((sorted.len() * percent / 100).min(sorted.len().saturating_sub(1)))
        .copied()
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_99th_of_a_hundred_is_the_largest() {
        let values: Vec<f32> = (0..100).rev().map(|v| v as f32).collect();
        assert_eq!(percentile(&values, 99), 99.0);
        assert_eq!(percentile(&values, 50), 50.0);
        assert_eq!(percentile(&[], 99), 0.0);
    }
}
