//! Occlusion (Zeiler & Fergus 2014): how much the objective drops when a square window of the
//! photo is replaced by the baseline, each pixel getting the mean drop of the windows that
//! cover it — as Captum's `Occlusion` computes it.

use burn::tensor::{Tensor, TensorData};
use excite_core::{Progress, Result};

use super::method::{Reduce, SaliencyMethod};
use super::{Attribution, Input, values_per_image};

/// Occlusion by a sliding window (`--window`, `--stride`).
pub struct Occlusion;

impl SaliencyMethod for Occlusion {
    fn name(&self) -> &'static str {
        "occlusion"
    }
    fn about(&self) -> &'static str {
        "the objective's drop when a window of the photo turns to the baseline (Zeiler & \
         Fergus 2014); --window, --stride"
    }
    fn reduce(&self) -> Reduce {
        Reduce::Mean
    }
    fn compute(&self, input: &Input) -> Result<Attribution> {
        let config = input.config;
        let image = input.image.clone().detach();
        let [_, _, h, w] = image.dims();
        let (window, stride) = (config.window.min(h).min(w), config.stride);
        let rows = starts(h, window, stride);
        let cols = starts(w, window, stride);
        let windows: Vec<[usize; 2]> = rows
            .iter()
            .flat_map(|&r| cols.iter().map(move |&c| [r, c]))
            .collect();
        let mut drops = Vec::with_capacity(windows.len());
        for chunk in windows.chunks(config.batch) {
            let occluded: Vec<Tensor<4>> = chunk
                .iter()
                .map(|&[r, c]| {
                    let end = [(r + window).min(h), (c + window).min(w)];
                    image
                        .clone()
                        .slice_fill([0..1, 0..3, r..end[0], c..end[1]], config.baseline)
                })
                .collect();
            let values = values_per_image(input.model, input.objective, Tensor::cat(occluded, 0))?;
            drops.extend(values.into_iter().map(|v| input.value - v));
            config.observer.notify(Progress::Passes {
                done: drops.len(),
                total: windows.len(),
            });
        }
        let mut total = vec![0f32; h * w];
        let mut count = vec![0f32; h * w];
        for (&[r, c], drop) in windows.iter().zip(drops) {
            for y in r..(r + window).min(h) {
                for x in c..(c + window).min(w) {
                    total[y * w + x] += drop;
                    count[y * w + x] += 1.0;
                }
            }
        }
        let plane: Vec<f32> = total
            .iter()
            .zip(&count)
            .map(|(t, &n)| if n > 0.0 { t / n } else { 0.0 })
            .collect();
        let channels = [plane.as_slice(); 3].concat();
        let map = Tensor::from_data(TensorData::new(channels, [1, 3, h, w]), &image.device());
        Ok(Attribution::Pixels(map, None))
    }
}

/// Where the windows of a side start: every `stride` pixels, `ceil((side - window) / stride)
/// + 1` of them, the last cut at the edge (Captum's count).
fn starts(side: usize, window: usize, stride: usize) -> Vec<usize> {
    let count = (side - window).div_ceil(stride) + 1;
    (0..count).map(|i| i * stride).collect()
}

#[cfg(test)]
mod tests {
    use super::starts;

    #[test]
    fn windows_cover_the_side_as_captum_counts_them() {
        assert_eq!(starts(96, 16, 8), (0..=80).step_by(8).collect::<Vec<_>>());
        assert_eq!(starts(10, 4, 4), [0, 4, 8]);
        assert_eq!(starts(4, 4, 2), [0]);
    }
}
