//! Directions read from files: a vector in a layer's feature space computed elsewhere (a CLIP
//! text embedding, a probe's weights, a difference of mean activations), so that the image
//! tower alone visualises it. Text: `direction:LAYER:FILE`.

use std::path::Path;

use super::{Objective, direction};
use crate::error::{Error, Result};

/// The objective of [`direction`] (plain dot product) along the vector stored in `file`:
/// a `.npy` array of `float32` or `float64` values (any shape, read flat) or a `.json` array of
/// numbers. Text: `direction:LAYER:FILE`.
pub fn direction_from_file(layer: &str, file: &str) -> Result<Objective> {
    let values = read_vector(Path::new(file))?;
    if values.is_empty() || values.iter().any(|v| !v.is_finite()) {
        return Err(Error::Invalid(format!(
            "direction file `{file}` must hold finite numbers, at least one"
        )));
    }
    let inner = direction(layer, values, 0.0);
    Ok(Objective::new(
        inner.layers().to_vec(),
        format!("direction:{layer}:{file}"),
        move |acts| inner.evaluate(acts),
    ))
}

/// The numbers of a `.npy` or `.json` file, flat.
fn read_vector(path: &Path) -> Result<Vec<f32>> {
    let bad = |why: String| Error::Invalid(format!("direction file `{}`: {why}", path.display()));
    let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    match path.extension().and_then(|e| e.to_str()) {
        Some("npy") => {
            let file = npyz::NpyFile::new(&bytes[..]).map_err(|e| bad(e.to_string()))?;
            let wide = matches!(file.dtype(), npyz::DType::Plain(t) if t.num_bytes() == Some(8));
            let values = if wide {
                file.into_vec::<f64>()
                    .map(|v| v.into_iter().map(|x| x as f32).collect())
            } else {
                file.into_vec::<f32>()
            };
            values.map_err(|e| bad(format!("{e} (float32 or float64 arrays are read)")))
        }
        Some("json") => serde_json::from_slice::<Vec<f32>>(&bytes)
            .map_err(|e| bad(format!("{e} (a JSON array of numbers is read)"))),
        _ => Err(bad("is neither `.npy` nor `.json`".into())),
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Tensor, TensorData};

    use super::*;
    use crate::activations::Activations;

    #[test]
    fn reads_npy_and_json_directions_and_prints_back() {
        let dir = std::env::temp_dir().join(format!("excite-direction-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // A float64 .npy written by hand: magic, version 1.0, header, 2 values.
        let header = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }";
        let mut padded = header.to_string();
        while !(10 + padded.len() + 1).is_multiple_of(64) {
            padded.push(' ');
        }
        padded.push('\n');
        let mut npy = b"\x93NUMPY\x01\x00".to_vec();
        npy.extend((padded.len() as u16).to_le_bytes());
        npy.extend(padded.as_bytes());
        for v in [2.0f64, -1.0] {
            npy.extend(v.to_le_bytes());
        }
        let npy_path = dir.join("d.npy");
        std::fs::write(&npy_path, npy).unwrap();
        let json_path = dir.join("d.json");
        std::fs::write(&json_path, "[2.0, -1.0]").unwrap();
        let device = Device::flex();
        // Channel 0 is 1 everywhere, channel 1 is 3: 2·1 − 1·3 = −1.
        let act = Tensor::<4>::from_data(
            TensorData::new(vec![1.0f32, 1.0, 3.0, 3.0], [1, 2, 1, 2]),
            &device,
        );
        let acts = Activations::new(Tensor::zeros([1, 3, 2, 2], &device), &["x"], vec![act]);
        for path in [&npy_path, &json_path] {
            let spec = format!("direction:x:{}", path.display());
            let objective: Objective = spec.parse().unwrap();
            assert_eq!(objective.to_string(), spec);
            let value = objective.evaluate(&acts).unwrap().into_scalar::<f32>();
            assert!((value + 1.0).abs() < 1e-6, "{value}");
        }
        let missing = "direction:x:nowhere.npy".parse::<Objective>().unwrap_err();
        assert!(missing.to_string().contains("nowhere.npy"), "{missing}");
        std::fs::write(dir.join("bad.json"), "{\"a\": 1}").unwrap();
        let bad = format!("direction:x:{}", dir.join("bad.json").display());
        assert!(bad.parse::<Objective>().is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
