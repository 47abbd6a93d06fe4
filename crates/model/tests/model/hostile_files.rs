//! Broken and hostile model files (`testdata/broken/`, made by `make_broken_models.py`): each
//! loads and runs to its logits, or fails with an error — never a panic, a hang, a huge
//! allocation, or a read outside the model's folder.

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor};
use excite_model::{Manifest, OnnxModel};

fn broken(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/broken")
        .join(file)
}

/// Loads a model and runs it to its output on zeros of its declared input shape (at most
/// 64 px a side); the error as text.
fn load_and_run(path: &Path) -> Result<Vec<f32>, String> {
    let device = Device::flex();
    let model = OnnxModel::load(path, &device).map_err(|e| e.to_string())?;
    let shape = model.input_shape();
    let dim = |i: usize| shape.get(i).copied().flatten().unwrap_or(8).min(64);
    let input = Tensor::<4>::zeros([1, dim(1), dim(2), dim(3)], &device);
    let out = model.forward(input).map_err(|e| e.to_string())?;
    out.into_data()
        .try_to_vec::<f32>()
        .map_err(|e| format!("{e:?}"))
}

/// Every case of `cases.json`: the legitimate ones run (to the logits of `valid.onnx`, which
/// they all compute), the others are refused at load with one line that names the problem.
#[test]
fn every_broken_model_is_one_clear_error() {
    let cases: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(broken("cases.json")).unwrap()).unwrap();
    assert!(cases.len() >= 30);
    let reference = load_and_run(&broken("valid.onnx")).unwrap();
    for case in &cases {
        let file = case["file"].as_str().unwrap();
        let outcome = load_and_run(&broken(file));
        match (case["expect"].as_str().unwrap(), outcome) {
            ("ok", Ok(logits)) => assert_eq!(logits, reference, "{file}"),
            ("error", Err(e)) => {
                // Refused at load, before any activation exists.
                assert!(
                    OnnxModel::load(broken(file), &Device::flex()).is_err(),
                    "{file}: {e}"
                );
                assert!(!e.is_empty() && !e.contains('\n'), "{file}: {e:?}");
                assert!(!e.contains("root:"), "{file}: {e}");
            }
            (expect, outcome) => panic!("{file}: expected {expect}, got {outcome:?}"),
        }
    }
}

#[test]
fn external_data_stays_inside_the_model_folder() {
    let reference = load_and_run(&broken("valid.onnx")).unwrap();
    assert_eq!(load_and_run(&broken("ext_ok.onnx")).unwrap(), reference);
    for file in [
        "ext_abs_path.onnx",
        "ext_dev_zero.onnx",
        "escape/ext_parent_dir.onnx",
        "escape/ext_symlink.onnx",
        "ext_short_file.onnx",
        "ext_offset_past_end.onnx",
        "ext_length_mismatch.onnx",
    ] {
        let err = load_and_run(&broken(file)).unwrap_err();
        assert!(err.contains("keeps its data in"), "{file}: {err}");
        // Nothing read from a file shows up in the error.
        assert!(!err.contains("root:"), "{file}: {err}");
    }
}

#[test]
fn manifest_labels_stay_inside_the_manifest_folder() {
    let dir = std::env::temp_dir().join(format!("excite-labels-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("labels.txt"), "cat\ndog\n").unwrap();
    let manifest = |labels: &str| {
        let text = format!(
            "name = \"t\"\nonnx = \"m.onnx\"\ninput_size = 8\nlabels = \"{labels}\"\n[normalization]\nmean = [0.0, 0.0, 0.0]\nstd = [1.0, 1.0, 1.0]\n"
        );
        std::fs::write(dir.join("m.toml"), text).unwrap();
        Manifest::read(dir.join("m.toml")).unwrap().labels()
    };
    assert_eq!(manifest("labels.txt").unwrap().unwrap(), ["cat", "dog"]);
    for bad in ["../../../../etc/passwd", "/etc/passwd", "/dev/zero"] {
        let err = manifest(bad).unwrap_err().to_string();
        assert!(err.contains("cannot read labels"), "{bad}: {err}");
        assert!(!err.contains("root:"), "{bad}: {err}");
    }
}

#[test]
fn manifest_values_are_checked() {
    let dir = std::env::temp_dir().join(format!("excite-manifest-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (size, mean, std) in [
        ("0", "0.0", "1.0"),
        ("200000", "0.0", "1.0"),
        ("8", "nan", "1.0"),
        ("8", "0.0", "0.0"),
        ("8", "0.0", "-1.0"),
    ] {
        let text = format!(
            "name = \"t\"\nonnx = \"m.onnx\"\ninput_size = {size}\n[normalization]\nmean = [{mean}, 0.0, 0.0]\nstd = [{std}, 1.0, 1.0]\n"
        );
        std::fs::write(dir.join("m.toml"), text).unwrap();
        assert!(
            Manifest::read(dir.join("m.toml")).is_err(),
            "{size} {mean} {std}"
        );
    }
    assert!(Manifest::read("/dev/zero").is_err());
}
