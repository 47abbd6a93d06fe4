//! Models exported by the real exporters (PyTorch's TorchScript and dynamo exporters, tf2onnx
//! from Keras, paddle2onnx; see `testdata/exported/README.md`) compute what onnxruntime
//! computes: the graph output and several intermediate tensors of each (token tensors and
//! attention probabilities of the transformers among them), within 1e-4 relative, every
//! value, as the graph holds them (any rank, own layout).

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor, TensorData};
use excite_model::{BYTES_PER_VALUE, Layout, OnnxModel};
use serde_json::Value as Json;

use crate::gradient_check::check_gradient;

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

/// The fixture's input, `x[i] = ((i * 37 + 11) % 251) / 125 - 1` over the flat index of the
/// graph input's own shape (channels last for a channels-last model), as `forward_raw` takes it.
fn input(shape: &[usize], device: &Device) -> Tensor<4> {
    let count: usize = shape.iter().product();
    let values: Vec<f32> = (0..count)
        .map(|i| (((i * 37 + 11) % 251) as f64 / 125.0 - 1.0) as f32)
        .collect();
    Tensor::<4>::from_data(
        TensorData::new(values, [shape[0], shape[1], shape[2], shape[3]]),
        device,
    )
}

/// Every value of a recorded tensor, flat: `values` in the record, or `values_npy` (a slice of a
/// float32 `.npy` file in `dir`) for the largest.
pub fn recorded_values(want: &Json, dir: &Path) -> Vec<f64> {
    if let Some(all) = want["values"].as_array() {
        return all.iter().map(|v| v.as_f64().unwrap()).collect();
    }
    let npy = &want["values_npy"];
    let file = npy["file"]
        .as_str()
        .unwrap_or_else(|| panic!("the record holds neither `values` nor `values_npy`"));
    let bytes = std::fs::read(dir.join(file)).unwrap();
    let all = npyz::NpyFile::new(&bytes[..])
        .unwrap()
        .into_vec::<f32>()
        .unwrap();
    let offset = npy["offset"].as_u64().unwrap() as usize;
    let count = npy["count"].as_u64().unwrap() as usize;
    all[offset..offset + count]
        .iter()
        .map(|&v| f64::from(v))
        .collect()
}

/// The values of a tensor that differ from onnxruntime's by more than `1e-4` relative (to
/// the value plus the tensor's mean magnitude), over every value. The first failure, if any.
fn compare(name: &str, got: &[f32], want: &Json) -> Option<String> {
    let count = got.len();
    let abs_sum = want["abs_sum"].as_f64().unwrap();
    let scale = abs_sum / count as f64 + 1e-6;
    let sum: f64 = got.iter().map(|&v| f64::from(v)).sum();
    let want_sum = want["sum"].as_f64().unwrap();
    if (sum - want_sum).abs() > 1e-4 * abs_sum.max(1.0) {
        return Some(format!("{name}: sum {sum} != {want_sum}"));
    }
    let expected: Vec<(usize, f64)> = recorded_values(want, &exported())
        .into_iter()
        .enumerate()
        .collect();
    if expected.len() != count {
        return Some(format!("{name}: {count} values, want {}", expected.len()));
    }
    let (worst, at) = expected
        .iter()
        .map(|&(i, e)| ((f64::from(got[i]) - e).abs() / (e.abs() + scale), i))
        .fold((0.0, 0), |a, b| if b.0 > a.0 { b } else { a });
    (worst > 1e-4).then(|| {
        format!(
            "{name}[{at}] = {}, onnxruntime {} (relative error {worst:.2e})",
            got[at],
            expected.iter().find(|e| e.0 == at).unwrap().1
        )
    })
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
    let x = input(&dims(&f["input_shape"]), device);
    for (name, want) in f["outputs"].as_object().unwrap() {
        if want["initializer"] == true {
            continue; // folded into a weight by the exporter: nothing runs
        }
        if name.ends_with("embeddings/Resize_output_0") {
            // DINOv2's resized position embedding is folded at load into the embedding it
            // is concatenated into (`pos_embed`), which is compared whole.
            continue;
        }
        let (shape, got) = match model.forward_raw(x.clone(), &[name]) {
            Ok(mut v) => v.remove(0),
            Err(e) => {
                failures.push(format!("{stem}: {name}: {e}"));
                continue;
            }
        };
        if shape != dims(&want["shape"]) {
            failures.push(format!(
                "{stem}: {name}: shape {shape:?}, want {}",
                want["shape"]
            ));
            continue;
        }
        let values = got.into_data().try_to_vec::<f32>().unwrap();
        failures.extend(compare(&format!("{stem}: {name}"), &values, want));
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

/// Every exported vision transformer knows its token layers (prefix tokens and patch grid, as
/// the exporter's model has them), and objectives see a token layer's grid as `[N, D, h, w]`
/// and its prefix tokens as `[N, D, 1, P]`, the same values as the graph's `[N, T, D]`.
#[test]
fn every_exported_transformer_lays_its_tokens_out_as_a_grid() {
    let device = Device::flex();
    let mut checked = 0;
    for (stem, f) in fixtures() {
        let Some(want) = f.get("tokens") else {
            continue;
        };
        let model = OnnxModel::load(exported().join(format!("{stem}.onnx")), &device).unwrap();
        let block = f["intermediates"]["last_block"].as_str().unwrap();
        if stem.contains("swin") {
            // Swin's blocks are channels-last images, `[1, h, w, C]`; its only token layers
            // are the patch grid's, without prefix.
            for layer in model.layers() {
                if let Some(t) = &layer.tokens {
                    assert_eq!((t.prefix, t.grid), (0, [16, 16]), "{stem}: {}", layer.name);
                }
            }
            continue;
        }
        let (prefix, grid) = (
            want["prefix"].as_u64().unwrap() as usize,
            dims(&want["grid"]),
        );
        let dim = want["dim"].as_u64().unwrap() as usize;
        let tokens = model
            .tokens(block)
            .unwrap_or_else(|| panic!("{stem}: {block}"));
        assert_eq!(
            (tokens.prefix, tokens.grid.to_vec(), tokens.dim),
            (prefix, grid.clone(), dim),
            "{stem}"
        );
        let info = model.layers().iter().find(|l| l.name == block).unwrap();
        assert_eq!(info.shape, [1, dim, grid[0], grid[1]], "{stem}");
        // Its patches (8 px) cover a side exactly at multiples of 8: 5 more pixels would be
        // dropped, so images are resampled to the side they cover.
        let side = dims(&f["input_shape"])[2];
        assert_eq!(
            model.patch_cover([side + 5, side + 13]),
            Some([side, side + 8]),
            "{stem}"
        );
        let x = input(&dims(&f["input_shape"]), &device);
        let raw = model.forward_raw(x.clone(), &[block]).unwrap().remove(0).1;
        let raw = raw.into_data().try_to_vec::<f32>().unwrap();
        let mut layers = vec![block.to_string()];
        if prefix > 0 {
            layers.push(excite_model::prefix_layer(block));
        }
        let names: Vec<&str> = layers.iter().map(String::as_str).collect();
        let seen = model.forward_to(x, &names).unwrap();
        let at = |t: usize, d: usize| raw[t * dim + d];
        let grid_values = seen[0].clone().into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(seen[0].dims(), [1, dim, grid[0], grid[1]]);
        for d in [0, dim / 2, dim - 1] {
            for (y, x) in [(0, 0), (grid[0] - 1, 1), (1, grid[1] - 1)] {
                let got = grid_values[(d * grid[0] + y) * grid[1] + x];
                assert_eq!(
                    got,
                    at(prefix + y * grid[1] + x, d),
                    "{stem} d{d} ({x},{y})"
                );
            }
        }
        if prefix > 0 {
            assert_eq!(seen[1].dims(), [1, dim, 1, prefix]);
            let values = seen[1].clone().into_data().try_to_vec::<f32>().unwrap();
            for d in [0, dim - 1] {
                for k in 0..prefix {
                    assert_eq!(values[d * prefix + k], at(k, d), "{stem} prefix {k}");
                }
            }
        } else {
            let err = model
                .forward_to(
                    input(&dims(&f["input_shape"]), &device),
                    &[&excite_model::prefix_layer(block)],
                )
                .unwrap_err();
            assert!(
                err.to_string().contains("no prefix tokens"),
                "{stem}: {err}"
            );
        }
        checked += 1;
    }
    assert!(checked >= 15, "{checked} transformers checked");
}

/// Gradients through a vision transformer (patch embedding, LayerNormalization, attention's
/// MatMul and Softmax, Erf-GELU, the class token's Concat) match central finite differences,
/// for a grid feature's mean and for a class-token feature.
#[test]
fn gradients_through_a_transformer_match_finite_differences() {
    let device = Device::flex().autodiff();
    let stem = "vit_hfvit_ts17";
    let model = OnnxModel::load(exported().join(format!("{stem}.onnx")), &device).unwrap();
    let block = "/model/layers.1/Add_1_output_0";
    let cls = excite_model::prefix_layer(block);
    let shape = [1, 3, 32, 32];
    let base = input(&shape, &Device::flex())
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    for (layer, feature, index) in [(block, 5, None), (cls.as_str(), 7, Some(0))] {
        let nonzero = check_gradient(
            shape,
            &base,
            &[3, 200, 517, 1024 + 333, 2048 + 1000, 3071],
            &device,
            |x| {
                let act = model.forward_to(x, &[layer]).unwrap().remove(0);
                let act = act.narrow(1, feature, 1);
                match index {
                    Some(k) => act.narrow(3, k, 1).mean(),
                    None => act.mean(),
                }
            },
        );
        assert!(
            nonzero >= 4,
            "{layer}: the gradient is zero almost everywhere"
        );
    }
}

/// The memory estimate of a render counts attention's `[N, heads, T, T]` tensors: asking for
/// the attention probabilities instead of the scores they are computed from adds one
/// `heads × T × T` tensor per image (`BYTES_PER_VALUE` a value: the value, its gradient and
/// copies).
#[test]
fn the_memory_estimate_counts_attention_s_token_by_token_tensors() {
    let device = Device::flex();
    let model = OnnxModel::load(exported().join("vit_hfvit_ts17.onnx"), &device).unwrap();
    let scores = "/model/layers.0/attention/MatMul_output_0";
    let probs = "/model/layers.0/attention/Softmax_output_0";
    let (heads, tokens) = (4u64, 17u64);
    for batch in [1, 3] {
        let before = model.estimate_memory(&[scores], batch, [32, 32]).unwrap();
        let after = model.estimate_memory(&[probs], batch, [32, 32]).unwrap();
        let added = BYTES_PER_VALUE * batch as u64 * heads * tokens * tokens;
        assert_eq!(after - before, added);
    }
}
