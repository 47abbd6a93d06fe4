//! The importer computes what onnxruntime computes, on the recorded fixtures.

use burn::tensor::{Device, Tensor, TensorData};
use excite_model::OnnxModel;

use crate::exported_models::recorded_values;
use crate::gradient_check::check_gradient;
use serde_json::Value as Json;

fn testdata(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(name)
}

fn fixture(name: &str) -> Json {
    serde_json::from_str(&std::fs::read_to_string(testdata(name)).unwrap()).unwrap()
}

fn floats(v: &Json) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn dims(v: &Json) -> Vec<usize> {
    serde_json::from_value(v.clone()).unwrap()
}

/// The largest error of `got` against every recorded value of `want`, relative to the value
/// plus the tensor's mean magnitude (as the exported models' parity measures it).
fn worst_error(name: &str, got: &[f32], want: &Json) -> f64 {
    let expected = recorded_values(want, &testdata(""));
    assert_eq!(got.len(), expected.len(), "{name}: count");
    let scale = expected.iter().map(|v| v.abs()).sum::<f64>() / expected.len() as f64 + 1e-6;
    got.iter()
        .zip(&expected)
        .map(|(&g, &e)| (f64::from(g) - e).abs() / (e.abs() + scale))
        .fold(0.0, f64::max)
}

fn tiny_input(device: &Device) -> Tensor<4> {
    let f = fixture("tiny_cnn_fixture.json");
    Tensor::from_data(TensorData::new(floats(&f["input"]), [1, 3, 32, 32]), device)
}

/// Runs `model` on the fixture's input and compares every float node output with onnxruntime's
/// (shape, sum, every value within 1e-4 relative). `rename` maps fixture node names to layer
/// names.
fn every_node_matches(model_file: &str, fixture_file: &str, rename: &[(&str, &str)]) {
    let f = fixture(fixture_file);
    let device = Device::flex();
    let model = OnnxModel::load(testdata(model_file), &device).unwrap();
    let order = f["node_order"].as_array().unwrap();
    let layer = |n: &str| {
        rename
            .iter()
            .find(|(from, _)| *from == n)
            .map_or(n.to_string(), |(_, to)| to.to_string())
    };
    // Every float tensor computed from the image's values is a layer, in graph order; shape
    // arithmetic (integers) and what the fixture lists as `not_layers` are not.
    let not_layers: Vec<&str> = f["not_layers"].as_array().map_or(Vec::new(), |v| {
        v.iter().map(|n| n.as_str().unwrap()).collect()
    });
    let listed: Vec<&str> = model.layer_names().collect();
    let in_order: Vec<String> = order
        .iter()
        .map(|n| layer(n[0].as_str().unwrap()))
        .filter(|n| listed.contains(&n.as_str()))
        .collect();
    let first_outputs: Vec<&str> = listed
        .iter()
        .copied()
        .filter(|l| in_order.iter().any(|o| o == l))
        .collect();
    assert_eq!(first_outputs, in_order, "layers in graph order");
    let intermediates = f["intermediates"].as_object().unwrap();
    for name in intermediates.keys() {
        let is_layer = listed.contains(&layer(name).as_str());
        assert_eq!(
            is_layer,
            !not_layers.contains(&name.as_str()),
            "float tensor {name} listed as a layer: {is_layer}"
        );
    }
    let names: Vec<&str> = intermediates
        .keys()
        .map(String::as_str)
        .filter(|n| !not_layers.contains(n))
        .collect();
    let layers: Vec<String> = names.iter().map(|n| layer(n)).collect();
    let layer_refs: Vec<&str> = layers.iter().map(String::as_str).collect();
    let shape = dims(&f["input_shape"]);
    let input = Tensor::from_data(
        TensorData::new(
            floats(&f["input"]),
            [shape[0], shape[1], shape[2], shape[3]],
        ),
        &device,
    );
    let outputs = model.forward_to(input, &layer_refs).unwrap();
    let infos = model.layers();
    for ((name, layer), output) in names.iter().zip(&layers).zip(outputs) {
        let expected = &f["intermediates"][*name];
        let info = infos.iter().find(|l| &l.name == layer).unwrap();
        assert_eq!(info.shape, dims(&expected["shape"]), "shape of {name}");
        let values = output.into_data().try_to_vec::<f32>().unwrap();
        let sum: f64 = values.iter().map(|&v| f64::from(v)).sum();
        let want_sum = expected["sum"].as_f64().unwrap();
        let abs_sum = expected["abs_sum"].as_f64().unwrap();
        assert!(
            (sum - want_sum).abs() <= 1e-4 * abs_sum.max(1.0),
            "{name}: sum {sum} vs {want_sum}"
        );
        let worst = worst_error(name, &values, expected);
        assert!(worst <= 1e-4, "{name}: relative error {worst:.2e}");
    }
}

#[test]
fn tiny_cnn_every_node_matches_onnxruntime() {
    // Layers are named by their output tensors: node `fc` writes the graph output `logits`.
    every_node_matches(
        "tiny_cnn.onnx",
        "tiny_cnn_fixture.json",
        &[("fc", "logits")],
    );
}

/// Conv (dilated, grouped, strided, SAME_UPPER), BatchNormalization, Relu, LRN, MaxPool,
/// AveragePool, LeakyRelu, Sigmoid, Tanh, HardSigmoid, HardSwish, Concat, Mul, Sub, Div with
/// broadcasting, Pad, Clip, Sum, Dropout, Identity, Transpose, Shape/Gather/Unsqueeze/Concat
/// shape arithmetic, Reshape, Gemm, Softmax, GlobalMaxPool, Flatten, MatMul, Squeeze,
/// GlobalAveragePool, Add: the ops of classic ImageNet CNNs.
#[test]
fn op_zoo_every_node_matches_onnxruntime() {
    every_node_matches("op_zoo.onnx", "op_zoo_fixture.json", &[]);
}

/// Gelu (exact and tanh, opset 20) and Mish (opset 18); Upsample, nearest and linear (opset 9).
#[test]
fn op_zoo3_every_node_matches_onnxruntime() {
    every_node_matches("op_zoo3.onnx", "op_zoo3_fixture.json", &[]);
    every_node_matches(
        "op_zoo3_upsample.onnx",
        "op_zoo3_upsample_fixture.json",
        &[],
    );
}

#[test]
fn tiny_cnn_logits_match_onnxruntime() {
    let f = fixture("tiny_cnn_fixture.json");
    let device = Device::flex();
    let model = OnnxModel::load(testdata("tiny_cnn.onnx"), &device).unwrap();
    let logits = model.forward(tiny_input(&device)).unwrap();
    assert_eq!(logits.dims(), [1, 10, 1, 1]);
    let got = logits.into_data().try_to_vec::<f32>().unwrap();
    for (g, w) in got.iter().zip(floats(&f["logits"])) {
        assert!((g - w).abs() < 1e-4, "{g} vs {w}");
    }
}

/// The chelsea photo as the bundled model's input: `(pixel - 127) / 128`, NCHW.
fn chelsea(device: &Device) -> Tensor<4> {
    let img = image::open(testdata("chelsea_224.png")).unwrap().to_rgb8();
    let (w, h) = img.dimensions();
    let mut data = vec![0f32; 3 * (w * h) as usize];
    for (x, y, p) in img.enumerate_pixels() {
        for c in 0..3 {
            data[c * (w * h) as usize + (y * w + x) as usize] = (f32::from(p[c]) - 127.0) / 128.0;
        }
    }
    Tensor::from_data(
        TensorData::new(data, [1, 3, h as usize, w as usize]),
        device,
    )
}

fn bundled_model(device: &Device) -> OnnxModel {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../models/efficientnet_lite0.onnx");
    OnnxModel::load(path, device).unwrap()
}

#[test]
fn efficientnet_lite0_classifies_chelsea_like_onnxruntime() {
    let f = fixture("efficientnet_lite0_fixture.json");
    let device = Device::flex();
    let model = bundled_model(&device);
    let stats: Vec<&str> = f["intermediates"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut layers = stats.clone();
    layers.push("logits");
    let mut outputs = model.forward_to(chelsea(&device), &layers).unwrap();
    let logits = outputs
        .pop()
        .unwrap()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let want = floats(&f["logits"]);
    assert_eq!(logits.len(), 1000);
    let max_diff = logits
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(max_diff < 1e-3, "max logit difference {max_diff}");
    let top = (0..1000)
        .max_by(|&a, &b| logits[a].total_cmp(&logits[b]))
        .unwrap();
    assert_eq!(top, 282, "tiger cat");
    for (name, output) in stats.iter().zip(outputs) {
        let expected = &f["intermediates"][*name];
        let mut shape = output.dims().to_vec();
        shape.truncate(dims(&expected["shape"]).len());
        assert_eq!(shape, dims(&expected["shape"]), "{name}");
        let values = output.into_data().try_to_vec::<f32>().unwrap();
        let sum: f64 = values.iter().map(|&v| f64::from(v)).sum();
        let want_sum = expected["sum"].as_f64().unwrap();
        assert!(
            (sum - want_sum).abs() < 1e-4 * want_sum.abs().max(1.0),
            "{name}: {sum} vs {want_sum}"
        );
        // Measured: 1.3e-5 at `blocks.3.dw.relu6` to 1.03e-4 at `head.relu6`, the 50th
        // convolution, whose float32 sums onnxruntime orders differently (it fuses Conv+Clip).
        let worst = worst_error(name, &values, expected);
        eprintln!("{name}: relative error {worst:.2e}");
        assert!(worst <= 2e-4, "{name}: relative error {worst:.2e}");
    }
}

#[test]
fn truncated_forward_evaluates_only_what_the_layer_needs() {
    let device = Device::flex();
    let model = bundled_model(&device);
    let early = model.plan(&["blocks.5"]).unwrap();
    let all = model.plan(&["logits"]).unwrap();
    assert_eq!(all.len(), model.node_count());
    assert!(
        early.len() < all.len() / 2,
        "{} of {}",
        early.len(),
        all.len()
    );
    assert_eq!(early.last(), model.plan(&["blocks.5"]).unwrap().last());
    let tiny = OnnxModel::load(testdata("tiny_cnn.onnx"), &device).unwrap();
    // `pool1` feeds both branches; `pw` is on one branch only, so `dw` and friends are skipped
    // for `conv2`.
    let plan = tiny.plan(&["conv2"]).unwrap();
    assert_eq!(plan, vec![0, 1, 2, 3]);
}

#[test]
fn gradient_of_a_channel_mean_matches_finite_differences() {
    let device = Device::flex().autodiff();
    let model = OnnxModel::load(testdata("tiny_cnn.onnx"), &device).unwrap();
    let base = tiny_input(&Device::flex())
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let checked = check_gradient(
        [1, 3, 32, 32],
        &base,
        &[0, 37, 300, 1024 + 500, 2048 + 999, 3071],
        &device,
        |x| {
            let act = model.forward_to(x, &["add"]).unwrap().remove(0);
            act.narrow(1, 3, 1).mean()
        },
    );
    assert!(checked >= 3, "the gradient is zero almost everywhere");
}

/// The rest of the op table (`testdata/make_op_zoo2.py`): Resize in its nearest and linear
/// forms (scales, and sizes computed at run time), Where/Equal/Greater/Less, Expand, Tile,
/// ConstantOfShape, Instance- and LayerNormalization, PRelu and the other activations,
/// Pow/Sqrt/Exp/Log/Erf, n-ary Min/Max/Mean/Sum, every Reduce* with axes as attribute or
/// input, Softmax/LogSoftmax, Split with three outputs, Slice with negative and strided
/// steps, Gather of floats, Pad reflect and edge, Cast.
#[test]
fn op_zoo2_every_node_matches_onnxruntime() {
    every_node_matches("op_zoo2.onnx", "op_zoo2_fixture.json", &[]);
}
