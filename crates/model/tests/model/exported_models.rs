//! Models exported by the real exporters (PyTorch's TorchScript and dynamo exporters, tf2onnx
//! from Keras, paddle2onnx; see `testdata/exported/README.md`) compute what onnxruntime
//! computes: the graph output and several intermediate tensors of each, within 1e-4
//! relative, with channels-last tensors compared after moving their channels first.

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor, TensorData};
use excite_model::{Layout, OnnxModel};
use serde_json::Value as Json;

fn exported() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/exported")
}

/// Every fixture: its JSON record.
fn fixtures() -> Vec<(String, Json)> {
    let mut out: Vec<(String, Json)> = std::fs::read_dir(exported())
        .unwrap()
        .filter_map(|e| {
            let path = e.unwrap().path();
            (path.extension()? == "json").then(|| {
                let json: Json =
                    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
                (
                    path.file_stem().unwrap().to_string_lossy().into_owned(),
                    json,
                )
            })
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(out.len() >= 10, "the exported fixtures are missing");
    out
}

fn dims(v: &Json) -> Vec<usize> {
    serde_json::from_value(v.clone()).unwrap()
}

/// The fixture's input (`x[i] = ((i * 37 + 11) % 251) / 125 - 1` in the model's own layout),
/// as the NCHW tensor that `forward_to` takes.
fn input(shape: &[usize], layout: Layout, device: &Device) -> Tensor<4> {
    let count: usize = shape.iter().product();
    let values: Vec<f32> = (0..count)
        .map(|i| (((i * 37 + 11) % 251) as f64 / 125.0 - 1.0) as f32)
        .collect();
    let t = Tensor::<4>::from_data(
        TensorData::new(values, [shape[0], shape[1], shape[2], shape[3]]),
        device,
    );
    t.permute(layout.to_nchw())
}

/// The NCHW flat index of a flat index into a tensor of `shape` in `layout`.
fn nchw_index(flat: usize, shape: &[usize], layout: Layout) -> usize {
    if shape.len() != 4 || layout == Layout::Nchw {
        return flat;
    }
    let [_, h, w, c] = [shape[0], shape[1], shape[2], shape[3]];
    let (n, rest) = (flat / (h * w * c), flat % (h * w * c));
    let (y, rest) = (rest / (w * c), rest % (w * c));
    let (x, ch) = (rest / c, rest % c);
    ((n * c + ch) * h + y) * w + x
}

/// Checks one model against its record; the failures, one line each.
fn check(stem: &str, f: &Json, device: &Device) -> Vec<String> {
    let mut failures = Vec::new();
    let model = match OnnxModel::load(exported().join(format!("{stem}.onnx")), device) {
        Ok(m) => m,
        Err(e) => return vec![format!("{stem}: load: {e}")],
    };
    if !model.unsupported().is_empty() {
        failures.push(format!("{stem}: unsupported {}", model.unsupported()));
    }
    let want_layout = if f["layout"] == "nhwc" {
        Layout::Nhwc
    } else {
        Layout::Nchw
    };
    if model.input_layout() != want_layout {
        failures.push(format!("{stem}: layout {:?}", model.input_layout()));
    }
    let x = input(&dims(&f["input_shape"]), want_layout, device);
    for (name, want) in f["outputs"].as_object().unwrap() {
        let got = match model.forward_to(x.clone(), &[name]) {
            Ok(mut v) => v.remove(0),
            Err(e) => {
                failures.push(format!("{stem}: {name}: {e}"));
                continue;
            }
        };
        let raw = dims(&want["shape"]);
        let layout = model
            .layers()
            .iter()
            .find(|l| &l.name == name)
            .map_or(Layout::Nchw, |l| l.layout);
        let values = got.into_data().try_to_vec::<f32>().unwrap();
        let count: usize = raw.iter().product();
        if values.len() != count {
            failures.push(format!(
                "{stem}: {name}: {} values, want shape {raw:?}",
                values.len()
            ));
            continue;
        }
        let abs_sum = want["abs_sum"].as_f64().unwrap();
        let scale = abs_sum / count as f64 + 1e-6;
        let sum: f64 = values.iter().map(|&v| f64::from(v)).sum();
        let want_sum = want["sum"].as_f64().unwrap();
        if (sum - want_sum).abs() > 1e-4 * abs_sum.max(1.0) {
            failures.push(format!("{stem}: {name}: sum {sum} != {want_sum}"));
        }
        for sample in want["samples"].as_array().unwrap() {
            let flat = sample[0].as_u64().unwrap() as usize;
            let expected = sample[1].as_f64().unwrap();
            let value = f64::from(values[nchw_index(flat, &raw, layout)]);
            if (value - expected).abs() > 1e-4 * (expected.abs() + scale) {
                failures.push(format!(
                    "{stem}: {name}[{flat}] = {value}, onnxruntime {expected}"
                ));
                break;
            }
        }
    }
    failures
}

#[test]
fn every_exported_model_matches_onnxruntime() {
    let device = Device::flex();
    let failures: Vec<String> = fixtures()
        .iter()
        .flat_map(|(stem, f)| check(stem, f, &device))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_exported_model_lists_only_image_layers_and_its_logits() {
    let device = Device::flex();
    for (stem, f) in fixtures() {
        let model = OnnxModel::load(exported().join(format!("{stem}.onnx")), &device).unwrap();
        let output = f["graph_output"].as_str().unwrap();
        assert_eq!(model.output_name().unwrap(), output, "{stem}");
        let deep = f["deep_layer"].as_str().unwrap();
        assert!(model.layer_names().any(|l| l == deep), "{stem}: {deep}");
        // Shape arithmetic and weight-only nodes are folded or integer: never layers.
        for layer in model.layers() {
            assert!(
                !matches!(layer.op.as_str(), "Shape" | "Constant" | "ConstantOfShape"),
                "{stem}: {} ({}) is listed as a layer",
                layer.name,
                layer.op
            );
        }
        let side = model.input_size().expect("the fixtures declare their size");
        model.check_input_size(side).unwrap();
    }
}
