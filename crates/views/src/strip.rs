//! One picture per channel of its dataset examples: the photos of highest mean activation,
//! the patches that the strongest positions see, and the photos of lowest mean activation,
//! a row each, with their scores (the grid's labels are numbers only).

use excite_core::Result;
use excite_core::grid::grid;
use image::RgbImage;
use image::imageops::{FilterType, crop_imm, resize};

use crate::examples::ChannelExamples;
use crate::photos::load_square;

/// The strip of `examples`: three rows (top by mean, strongest patches, bottom by mean) of
/// `thumb`-pixel squares; the photos are read again and cropped as the model saw them
/// (`size` pixels).
pub fn strip(examples: &ChannelExamples, size: u32, thumb: u32) -> Result<RgbImage> {
    let columns = examples
        .top_mean
        .len()
        .max(examples.top_max.len())
        .max(examples.bottom_mean.len())
        .max(1);
    let mut tiles = Vec::new();
    let mut labels = Vec::new();
    for hits in [&examples.top_mean, &examples.top_max, &examples.bottom_mean] {
        for column in 0..columns {
            match hits.get(column) {
                Some(hit) => {
                    let photo = load_square(&hit.image, size)?;
                    let picture = match hit.crop {
                        Some([y0, x0, y1, x1]) => crop_imm(
                            &photo,
                            x0 as u32,
                            y0 as u32,
                            (x1 - x0).max(1) as u32,
                            (y1 - y0).max(1) as u32,
                        )
                        .to_image(),
                        None => photo,
                    };
                    tiles.push(resize(&picture, thumb, thumb, FilterType::Triangle));
                    labels.push(format!("{:.2}", hit.score));
                }
                None => {
                    tiles.push(RgbImage::from_pixel(thumb, thumb, image::Rgb([255; 3])));
                    labels.push(String::new());
                }
            }
        }
    }
    Ok(grid(&tiles, &labels, columns))
}
