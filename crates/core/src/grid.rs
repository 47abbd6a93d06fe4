//! Labelled grids of images.

use image::{Rgb, RgbImage};

/// 3x5 glyphs for the characters a label usually holds (digits, letters in capitals, a few
/// symbols); others are drawn as a box.
fn glyph(c: char) -> [u8; 5] {
    match c {
        '0' => [0b111, 0b101, 0b101, 0b101, 0b111],
        '1' => [0b010, 0b110, 0b010, 0b010, 0b111],
        '2' => [0b111, 0b001, 0b111, 0b100, 0b111],
        '3' => [0b111, 0b001, 0b111, 0b001, 0b111],
        '4' => [0b101, 0b101, 0b111, 0b001, 0b001],
        '5' => [0b111, 0b100, 0b111, 0b001, 0b111],
        '6' => [0b111, 0b100, 0b111, 0b101, 0b111],
        '7' => [0b111, 0b001, 0b010, 0b010, 0b010],
        '8' => [0b111, 0b101, 0b111, 0b101, 0b111],
        '9' => [0b111, 0b101, 0b111, 0b001, 0b111],
        '.' => [0b000, 0b000, 0b000, 0b000, 0b010],
        ':' => [0b000, 0b010, 0b000, 0b010, 0b000],
        '-' => [0b000, 0b000, 0b111, 0b000, 0b000],
        ' ' => [0; 5],
        'A' | 'a' => [0b010, 0b101, 0b111, 0b101, 0b101],
        'B' | 'b' => [0b110, 0b101, 0b110, 0b101, 0b110],
        'C' | 'c' => [0b011, 0b100, 0b100, 0b100, 0b011],
        'D' | 'd' => [0b110, 0b101, 0b101, 0b101, 0b110],
        'E' | 'e' => [0b111, 0b100, 0b110, 0b100, 0b111],
        'F' | 'f' => [0b111, 0b100, 0b110, 0b100, 0b100],
        'G' | 'g' => [0b011, 0b100, 0b101, 0b101, 0b011],
        'H' | 'h' => [0b101, 0b101, 0b111, 0b101, 0b101],
        'I' | 'i' => [0b111, 0b010, 0b010, 0b010, 0b111],
        'J' | 'j' => [0b001, 0b001, 0b001, 0b101, 0b010],
        'K' | 'k' => [0b101, 0b101, 0b110, 0b101, 0b101],
        'L' | 'l' => [0b100, 0b100, 0b100, 0b100, 0b111],
        'M' | 'm' => [0b101, 0b111, 0b111, 0b101, 0b101],
        'N' | 'n' => [0b110, 0b101, 0b101, 0b101, 0b101],
        'O' | 'o' => [0b010, 0b101, 0b101, 0b101, 0b010],
        'P' | 'p' => [0b110, 0b101, 0b110, 0b100, 0b100],
        'Q' | 'q' => [0b010, 0b101, 0b101, 0b110, 0b011],
        'R' | 'r' => [0b110, 0b101, 0b110, 0b101, 0b101],
        'S' | 's' => [0b011, 0b100, 0b010, 0b001, 0b110],
        'T' | 't' => [0b111, 0b010, 0b010, 0b010, 0b010],
        'U' | 'u' => [0b101, 0b101, 0b101, 0b101, 0b111],
        'V' | 'v' => [0b101, 0b101, 0b101, 0b101, 0b010],
        'W' | 'w' => [0b101, 0b101, 0b111, 0b111, 0b101],
        'X' | 'x' => [0b101, 0b101, 0b010, 0b101, 0b101],
        'Y' | 'y' => [0b101, 0b101, 0b010, 0b010, 0b010],
        'Z' | 'z' => [0b111, 0b001, 0b010, 0b100, 0b111],
        '+' => [0b000, 0b010, 0b111, 0b010, 0b000],
        '_' => [0b000, 0b000, 0b000, 0b000, 0b111],
        _ => [0b111, 0b101, 0b101, 0b101, 0b111],
    }
}

const SCALE: u32 = 2;
const LABEL_HEIGHT: u32 = 5 * SCALE + 4;

/// Draws `text` with its top-left corner at `(x, y)`.
fn draw_text(canvas: &mut RgbImage, text: &str, x: u32, y: u32, color: Rgb<u8>) {
    for (i, c) in text.chars().enumerate() {
        let rows = glyph(c);
        let left = x + i as u32 * 4 * SCALE;
        for (r, bits) in rows.iter().enumerate() {
            for col in 0..3 {
                if bits & (0b100 >> col) != 0 {
                    for dy in 0..SCALE {
                        for dx in 0..SCALE {
                            let (px, py) = (left + col * SCALE + dx, y + r as u32 * SCALE + dy);
                            if px < canvas.width() && py < canvas.height() {
                                canvas.put_pixel(px, py, color);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Lays `images` (all the size of the first) out in rows of `columns`, each with its label
/// (if any) underneath, on a white background.
pub fn grid(images: &[RgbImage], labels: &[String], columns: usize) -> RgbImage {
    let Some(first) = images.first() else {
        return RgbImage::new(1, 1);
    };
    let columns = columns.clamp(1, images.len()) as u32;
    let rows = (images.len() as u32).div_ceil(columns);
    let (w, h) = first.dimensions();
    let gap = 4;
    let label = if labels.is_empty() { 0 } else { LABEL_HEIGHT };
    let cell = (w + gap, h + label + gap);
    let mut canvas = RgbImage::from_pixel(
        columns * cell.0 + gap,
        rows * cell.1 + gap,
        Rgb([255, 255, 255]),
    );
    for (i, img) in images.iter().enumerate() {
        let (x, y) = (
            gap + (i as u32 % columns) * cell.0,
            gap + (i as u32 / columns) * cell.1,
        );
        image::imageops::replace(&mut canvas, img, i64::from(x), i64::from(y));
        if let Some(text) = labels.get(i) {
            draw_text(&mut canvas, text, x, y + h + 2, Rgb([0, 0, 0]));
        }
    }
    canvas
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_places_tiles_and_labels() {
        let tile = RgbImage::from_pixel(10, 10, Rgb([255, 0, 0]));
        let g = grid(
            &[tile.clone(), tile.clone(), tile],
            &["0".into(), "1".into(), "2".into()],
            2,
        );
        assert_eq!(g.dimensions(), (4 + 2 * 14, 4 + 2 * (14 + LABEL_HEIGHT)));
        assert_eq!(*g.get_pixel(4, 4), Rgb([255, 0, 0]));
        // Some label pixel is black.
        assert!(g.pixels().any(|p| *p == Rgb([0, 0, 0])));
    }
}
