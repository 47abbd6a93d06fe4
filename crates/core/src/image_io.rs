//! Tensor <-> image conversion, image files read and written (PNG atomically).

use std::path::Path;

use burn::tensor::{Device, Tensor, TensorData};
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ImageBuffer, Pixel, PixelWithColorType, Rgb, RgbImage, Rgba, RgbaImage};

use crate::error::{Error, Result};
use crate::files::read_limited;

/// Converts values in `[0, 1]` to 8-bit RGB images, one per batch item.
///
/// # Shapes
/// - images: `[B, 3, H, W]`
pub fn to_images(images: Tensor<4>) -> Result<Vec<RgbImage>> {
    let [b, c, h, w] = images.dims();
    if c != 3 {
        return Err(Error::Image(format!("expected 3 channels, got {c}")));
    }
    let data = images
        .clamp(0.0, 1.0)
        .into_data()
        .try_to_vec::<f32>()
        .map_err(|e| Error::Image(format!("{e:?}")))?;
    let plane = h * w;
    Ok((0..b)
        .map(|i| {
            RgbImage::from_fn(w as u32, h as u32, |x, y| {
                let at = |ch: usize| {
                    let v = data[(i * 3 + ch) * plane + y as usize * w + x as usize];
                    (v * 255.0).round() as u8
                };
                Rgb([at(0), at(1), at(2)])
            })
        })
        .collect())
}

/// Converts an RGB image to a tensor with values in `[0, 1]`.
///
/// # Shapes
/// - output: `[1, 3, H, W]`
pub fn from_image(image: &RgbImage, device: &Device) -> Tensor<4> {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let mut data = vec![0f32; 3 * w * h];
    for (x, y, p) in image.enumerate_pixels() {
        for c in 0..3 {
            data[c * w * h + y as usize * w + x as usize] = f32::from(p[c]) / 255.0;
        }
    }
    Tensor::from_data(TensorData::new(data, [1, 3, h, w]), device)
}

/// The largest image file read (a decoded image is bounded too, by the decoder's limits).
const MAX_IMAGE_FILE_BYTES: u64 = 256 << 20;

/// Reads an image file (PNG, JPEG, BMP or WebP, told by its content) as RGB, checking its size
/// when `size` is given. Only a regular file is read (see [`read_limited`]): a FIFO or a
/// device is refused at once.
pub fn read_image(path: &Path, size: Option<[u32; 2]>) -> Result<RgbImage> {
    let cannot = |why: String| Error::Image(format!("cannot read {}: {why}", path.display()));
    let bytes = read_limited(path, MAX_IMAGE_FILE_BYTES).map_err(|e| cannot(e.to_string()))?;
    let reader = image::ImageReader::new(std::io::Cursor::new(&bytes))
        .with_guessed_format()
        .map_err(|e| cannot(e.to_string()))?;
    // The JPEG decoder fills in what a truncated file lacks instead of failing, as the PNG
    // decoder does: a JPEG must end with its end-of-image marker (trailing padding aside).
    if reader.format() == Some(image::ImageFormat::Jpeg) && !ends_with_jpeg_end(&bytes) {
        return Err(cannot(
            "the JPEG file is truncated (no end-of-image marker)".into(),
        ));
    }
    let image = reader
        .decode()
        .map_err(|e| cannot(e.to_string()))?
        .to_rgb8();
    if let Some([w, h]) = size
        && image.dimensions() != (w, h)
    {
        return Err(Error::Image(format!(
            "{} is {}x{}, expected {w}x{h}",
            path.display(),
            image.width(),
            image.height()
        )));
    }
    Ok(image)
}

/// Whether JPEG `bytes` end with the end-of-image marker `FF D9`, before any zero or
/// whitespace padding.
fn ends_with_jpeg_end(bytes: &[u8]) -> bool {
    let end = bytes
        .iter()
        .rposition(|b| !matches!(b, 0 | b' ' | b'\n' | b'\r' | b'\t'))
        .map_or(0, |i| i + 1);
    bytes[..end].ends_with(&[0xFF, 0xD9])
}

/// Checks that `path` can be written before any work is spent on its content: its folder
/// takes a new file, and `path` is a regular file or does not exist (a link, a folder or a
/// device is never replaced).
pub fn check_writable(path: &Path) -> Result<()> {
    let tmp = temporary(path)?;
    let result = std::fs::write(&tmp, b"");
    let _ = std::fs::remove_file(&tmp);
    result.map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// The temporary file beside `path` that [`write_atomic`] renames into place, after checking
/// that `path` is a regular file or absent.
fn temporary(path: &Path) -> Result<std::path::PathBuf> {
    let name = path
        .file_name()
        .ok_or_else(|| Error::Invalid(format!("{} is not a file path", path.display())))?;
    if std::fs::symlink_metadata(path).is_ok_and(|m| !m.file_type().is_file()) {
        return Err(Error::FileRefused(format!(
            "{} exists and is not a regular file (a link, a folder or a device); it is not replaced",
            path.display()
        )));
    }
    // Unique across processes and machines sharing a folder (every pod of a job is PID 1).
    Ok(path.with_file_name(format!(
        ".{}.tmp{}-{:016x}",
        name.to_string_lossy(),
        std::process::id(),
        rand::random::<u64>()
    )))
}

/// Writes `bytes` to `path` through a temporary file and a rename, so readers never see a
/// partial file. `path` must be a regular file or absent (see [`check_writable`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let tmp = temporary(path)?;
    let result = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}

/// `image` with `alpha` (`[0, 1]`, one value a pixel, row-major) as its alpha channel.
pub fn with_alpha(image: &RgbImage, alpha: &[f32]) -> RgbaImage {
    let width = image.width() as usize;
    RgbaImage::from_fn(image.width(), image.height(), |x, y| {
        let [r, g, b] = image.get_pixel(x, y).0;
        let a = alpha[y as usize * width + x as usize].clamp(0.0, 1.0);
        Rgba([r, g, b, (a * 255.0).round() as u8])
    })
}

/// Saves an RGBA image as PNG (best compression), atomically.
pub fn save_rgba_png(image: &RgbaImage, path: impl AsRef<Path>) -> Result<()> {
    write_atomic(path.as_ref(), &encode(image)?)
}

/// Encodes an image as PNG (best compression).
pub fn encode_png(image: &RgbImage) -> Result<Vec<u8>> {
    encode(image)
}

/// Encodes an RGB image as JPEG at `quality` (1–100), for photos and thumbnails.
pub fn encode_jpeg(image: &RgbImage, quality: u8) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality);
    image
        .write_with_encoder(encoder)
        .map_err(|e| Error::Image(e.to_string()))?;
    Ok(bytes)
}

/// Encodes an 8-bit image of any colour type as PNG (best compression).
fn encode<P>(image: &ImageBuffer<P, Vec<u8>>) -> Result<Vec<u8>>
where
    P: Pixel<Subpixel = u8> + PixelWithColorType,
{
    let mut bytes = Vec::new();
    let encoder =
        PngEncoder::new_with_quality(&mut bytes, CompressionType::Best, FilterType::Adaptive);
    image
        .write_with_encoder(encoder)
        .map_err(|e| Error::Image(e.to_string()))?;
    Ok(bytes)
}

/// Saves an image as PNG (best compression), atomically.
pub fn save_png(image: &RgbImage, path: impl AsRef<Path>) -> Result<()> {
    write_atomic(path.as_ref(), &encode_png(image)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("excite-image-io-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    #[test]
    fn png_round_trip_and_size_check() {
        let path = scratch("tile.png");
        let image = RgbImage::from_fn(5, 4, |x, y| Rgb([x as u8 * 40, y as u8 * 60, 7]));
        save_png(&image, &path).unwrap();
        assert_eq!(read_image(&path, Some([5, 4])).unwrap(), image);
        let err = read_image(&path, Some([224, 224])).unwrap_err();
        assert!(
            err.to_string().contains("is 5x4, expected 224x224"),
            "{err}"
        );
        let tensor = from_image(&image, &Device::flex());
        assert_eq!(to_images(tensor).unwrap()[0], image);
    }

    #[test]
    fn a_truncated_jpeg_is_one_error_not_a_partial_image() {
        let path = scratch("whole.jpg");
        let image = RgbImage::from_fn(64, 48, |x, y| Rgb([x as u8 * 4, y as u8 * 5, 90]));
        image.save(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let mut padded = bytes.clone();
        padded.extend([0, 0, b'\n']);
        std::fs::write(&path, &padded).unwrap();
        assert!(read_image(&path, None).is_ok(), "trailing padding is fine");
        let cut = scratch("cut.jpg");
        std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
        let err = read_image(&cut, None).unwrap_err().to_string();
        assert!(err.contains("truncated") && !err.contains('\n'), "{err}");
    }

    #[test]
    fn jpeg_bmp_and_webp_files_are_read() {
        let image = RgbImage::from_fn(16, 8, |x, y| Rgb([x as u8 * 16, y as u8 * 30, 200]));
        for name in ["photo.jpg", "photo.bmp", "photo.webp"] {
            let path = scratch(name);
            image.save(&path).unwrap();
            let back = read_image(&path, Some([16, 8])).unwrap();
            let worst = back
                .pixels()
                .zip(image.pixels())
                .flat_map(|(a, b)| (0..3).map(move |c| a[c].abs_diff(b[c])))
                .max()
                .unwrap();
            assert!(worst < 40, "{name}: off by {worst}");
        }
    }

    #[test]
    fn unreadable_and_unwritable_files_are_errors() {
        let text = scratch("not_an_image.png");
        std::fs::write(&text, "hello").unwrap();
        assert!(matches!(read_image(&text, None), Err(Error::Image(_))));
        // A folder of its own, where no other test writes temporary files.
        let dir = scratch("failed");
        std::fs::create_dir_all(&dir).unwrap();
        let blocked = dir.join("a_file");
        std::fs::write(&blocked, "x").unwrap();
        let err = write_atomic(&blocked.join("inside.png"), b"data").unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err}");
        // A failed write leaves neither the target nor a temporary file behind.
        let names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.contains(".tmp")), "{names:?}");
    }

    #[test]
    fn links_folders_and_devices_are_never_replaced() {
        // A folder of its own: checking a path writes a temporary file, which the test of
        // failed writes must not see.
        let dir = scratch("links");
        std::fs::create_dir_all(&dir).unwrap();
        let scratch = |name: &str| dir.join(name);
        let link = scratch("link.png");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink("/dev/null", &link).unwrap();
        let folder = scratch("folder.png");
        std::fs::create_dir_all(&folder).unwrap();
        for path in [link.as_path(), folder.as_path(), Path::new("/dev/null")] {
            assert!(check_writable(path).is_err(), "{}", path.display());
            assert!(write_atomic(path, b"x").is_err(), "{}", path.display());
        }
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert!(check_writable(&scratch("fresh.png")).is_ok());
        assert!(check_writable(Path::new("/proc/no/such/dir/x.png")).is_err());
    }

    #[test]
    fn atomic_write_replaces_the_whole_file() {
        let path = scratch("record.json");
        write_atomic(&path, b"first version, rather long").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
    }
}
