//! Saliency maps as pictures: a colour scale, and the map blended over its photo.

use excite_core::grid::grid;
use excite_core::percentile::percentile;
use image::{Rgb, RgbImage};

use crate::saliency::SaliencyMap;

/// The colour scale (dark blue through red to yellow), as stops from 0 to 1.
const STOPS: [[f32; 3]; 5] = [
    [0.0, 0.0, 0.2],
    [0.3, 0.0, 0.6],
    [0.85, 0.1, 0.3],
    [1.0, 0.6, 0.0],
    [1.0, 1.0, 0.6],
];

/// The colour of `t` in `[0, 1]`.
fn colour(t: f32) -> [f32; 3] {
    let t = t.clamp(0.0, 1.0) * (STOPS.len() - 1) as f32;
    let i = (t.floor() as usize).min(STOPS.len() - 2);
    let f = t - i as f32;
    std::array::from_fn(|c| STOPS[i][c] * (1.0 - f) + STOPS[i + 1][c] * f)
}

/// The magnitude that maps to the top of the scale: the 99th percentile of `|map|` (saliency
/// is heavy-tailed: scaled by its maximum, a few pixels would hide the rest), or the maximum
/// when that is zero.
fn scale(map: &[f32]) -> f32 {
    let magnitudes: Vec<f32> = map.iter().map(|v| v.abs()).collect();
    let high = percentile(&magnitudes, 99);
    if high > 0.0 {
        high
    } else {
        magnitudes.iter().fold(0f32, |m, &v| m.max(v))
    }
}

/// `map` (`height * width` values, row-major) as colours, its magnitude scaled so that the
/// 99th percentile is 1 (a map of zeros is dark).
pub fn colorize(map: &[f32], size: [usize; 2]) -> RgbImage {
    colorize_scaled(map, size, scale(map))
}

/// `map` as colours, `top` at the top of the scale.
fn colorize_scaled(map: &[f32], [height, width]: [usize; 2], top: f32) -> RgbImage {
    RgbImage::from_fn(width as u32, height as u32, |x, y| {
        let v = map[y as usize * width + x as usize].abs();
        let t = if top > 0.0 { v / top } else { 0.0 };
        Rgb(colour(t).map(|c| (c * 255.0).round() as u8))
    })
}

/// The map's colours over a dimmed grey copy of `photo` (same size as the map): where the map
/// is strong the colour covers the photo.
pub fn overlay(photo: &RgbImage, map: &[f32], size: [usize; 2]) -> RgbImage {
    let top = scale(map);
    let heat = colorize_scaled(map, size, top);
    RgbImage::from_fn(photo.width(), photo.height(), |x, y| {
        let p = photo.get_pixel(x, y);
        let grey = (0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32) * 0.6;
        let v = map[y as usize * size[1] + x as usize].abs();
        let alpha = if top > 0.0 {
            (v / top).sqrt().min(1.0)
        } else {
            0.0
        };
        let h = heat.get_pixel(x, y);
        Rgb(std::array::from_fn(|c| {
            (grey * (1.0 - alpha) + h[c] as f32 * alpha).round() as u8
        }))
    })
}

/// The heatmaps of `maps` (of one photo, each the photo's size) over `photo` side by side,
/// `columns` to a row, each labelled with its method.
pub fn panel(photo: &RgbImage, maps: &[SaliencyMap], columns: usize) -> RgbImage {
    let heatmaps: Vec<RgbImage> = maps
        .iter()
        .map(|m| overlay(photo, &m.pixels, m.size))
        .collect();
    let labels: Vec<String> = maps.iter().map(|m| m.method.clone()).collect();
    grid(&heatmaps, &labels, columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scale_runs_from_dark_to_bright() {
        let img = colorize(&[0.0, 0.5, -1.0], [1, 3]);
        let brightness = |x: u32| img.get_pixel(x, 0).0.iter().map(|&c| c as u32).sum::<u32>();
        assert!(brightness(0) < brightness(1) && brightness(1) < brightness(2));
    }
}
