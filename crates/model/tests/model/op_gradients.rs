//! Every operator of the table that has a backward pass, checked by finite differences: for
//! each op, the first node of it in the fixture models (op zoos, the tiny CNN, exported CNNs
//! and transformers), the gradient of a weighted sum of its output with respect to the input,
//! at the input values it depends on most, against central differences. The ops without a
//! gradient (integer and boolean results, constants, steps) are listed with why.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor, TensorData};
use excite_model::{OnnxModel, SUPPORTED_OPS};

/// Ops with no gradient to check, and why.
const NO_GRADIENT: [(&str, &str); 14] = [
    ("Ceil", "a step: zero almost everywhere"),
    ("Constant", "a constant"),
    ("ConstantOfShape", "a constant"),
    ("Equal", "a boolean"),
    ("Floor", "a step: zero almost everywhere"),
    ("Greater", "a boolean"),
    ("IsNaN", "a boolean"),
    ("Less", "a boolean"),
    ("Mod", "integer shape arithmetic on the host"),
    ("Not", "a boolean"),
    ("Range", "integers on the host"),
    ("Shape", "integers on the host"),
    ("Sign", "a step: zero almost everywhere"),
    ("Size", "an integer on the host"),
];

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(name)
}

/// The models searched for each op, with their input shape (NCHW graph inputs).
fn models() -> Vec<(PathBuf, [usize; 4])> {
    let mut out = vec![
        (testdata("op_zoo.onnx"), [1, 3, 16, 16]),
        (testdata("op_zoo2.onnx"), [1, 3, 16, 16]),
        (testdata("tiny_cnn.onnx"), [1, 3, 32, 32]),
        (testdata("op_zoo3.onnx"), [1, 3, 16, 16]),
        (testdata("op_zoo3_upsample.onnx"), [1, 3, 8, 8]),
    ];
    for stem in [
        "vit_dinov2_ts14",
        "vit_siglip_ts14",
        "vit_clip_ts17",
        "vit_hfvit_ts14",
        "vit_swin_ts17",
        "torch_convnext_ts17",
        "torch_googlenet_ts13",
        "torch_mobilenetv3_ts17",
        "paddle_mobilenetv3small_op17",
        "paddle_shufflenetv2_op13_dynbatch",
        "torch_squeezenet_ts13",
        "torch_alexnet_ts13",
        "torch_regnet_ts17",
        "torch_inception3_ts13",
    ] {
        let json = testdata(&format!("exported/{stem}.json"));
        let Ok(text) = std::fs::read_to_string(&json) else {
            continue;
        };
        let f: serde_json::Value = serde_json::from_str(&text).unwrap();
        let shape: Vec<usize> = serde_json::from_value(f["input_shape"].clone()).unwrap();
        out.push((
            testdata(&format!("exported/{stem}.onnx")),
            [shape[0], shape[1], shape[2], shape[3]],
        ));
    }
    out
}

/// A smooth input in `[-1, 1]`.
fn base(shape: [usize; 4]) -> Vec<f32> {
    let count: usize = shape.iter().product();
    (0..count)
        .map(|i| (((i * 37 + 11) % 251) as f32 / 125.0 - 1.0) * 0.8)
        .collect()
}

/// Fixed weights for the output's sum, so that no gradient is trivially uniform.
fn weights(count: usize, device: &Device) -> Tensor<1> {
    let values: Vec<f32> = (0..count)
        .map(|i| ((i * 53 + 7) % 97) as f32 / 97.0 - 0.3)
        .collect();
    Tensor::from_data(TensorData::new(values, [count]), device)
}

#[test]
fn every_op_with_a_backward_matches_finite_differences() {
    let device = Device::flex().autodiff();
    let plain = Device::flex();
    let mut checked: BTreeMap<String, String> = BTreeMap::new();
    for (path, shape) in models() {
        let model = OnnxModel::load(&path, &device).unwrap();
        let probe = OnnxModel::load(&path, &plain).unwrap();
        let x0 = base(shape);
        let input = |d: &Device| Tensor::<4>::from_data(TensorData::new(x0.clone(), shape), d);
        let output = probe.output_name().unwrap().to_string();
        let nodes = probe.profile(input(&plain), &[&output]).unwrap();
        for node in nodes {
            if checked.contains_key(&node.op) || NO_GRADIENT.iter().any(|(op, _)| *op == node.op) {
                continue;
            }
            // Integer results (shape arithmetic) have no gradient: skip them.
            let Ok(mut raw) = probe.forward_raw(input(&plain), &[&node.layer]) else {
                continue;
            };
            let count = raw.remove(0).0.iter().product::<usize>();
            let w = weights(count, &device);
            let value = |x: Tensor<4>| {
                let (_, flat) = model.forward_raw(x, &[&node.layer]).unwrap().remove(0);
                (flat * w.clone()).sum()
            };
            // The input values the output depends on most.
            let x = input(&device).require_grad();
            let grads = value(x.clone()).backward();
            let Some(grad) = x.grad(&grads) else {
                continue; // the node does not depend on the input
            };
            let grad = grad.into_data().try_to_vec::<f32>().unwrap();
            let mut order: Vec<usize> = (0..grad.len()).collect();
            order.sort_by(|&a, &b| grad[b].abs().total_cmp(&grad[a].abs()));
            if grad[order[0]].abs() < 1e-6 {
                continue;
            }
            let what = format!("{} `{}` in {}", node.op, node.layer, path.display());
            let stable = check_smooth_positions(
                &grad,
                &order[..16.min(order.len())],
                &x0,
                &|x| {
                    value(Tensor::from_data(TensorData::new(x, shape), &device))
                        .into_scalar::<f32>()
                },
                &what,
            );
            assert!(
                stable >= 2,
                "{what}: only {stable} positions away from kinks"
            );
            let model_name = path.file_name().unwrap().to_string_lossy().into_owned();
            checked.insert(node.op.clone(), format!("{model_name}: {}", node.layer));
        }
    }
    let missing: Vec<&str> = SUPPORTED_OPS
        .iter()
        .copied()
        .filter(|op| !checked.contains_key(*op) && !NO_GRADIENT.iter().any(|(o, _)| o == op))
        .collect();
    eprintln!("checked {} ops: {checked:#?}", checked.len());
    assert!(
        missing.is_empty(),
        "ops with no gradient check: {missing:?}"
    );
}

/// Compares `grad` with central differences at `candidates` (flat input indices), skipping the
/// positions where a kink upstream (ReLU, max pooling) makes the differences at two step sizes
/// disagree; returns how many positions were compared.
fn check_smooth_positions(
    grad: &[f32],
    candidates: &[usize],
    base: &[f32],
    value: &dyn Fn(Vec<f32>) -> f32,
    what: &str,
) -> usize {
    let difference = |i: usize, eps: f32| {
        let at = |delta: f32| {
            let mut moved = base.to_vec();
            moved[i] += delta;
            f64::from(value(moved))
        };
        ((at(eps) - at(-eps)) / (2.0 * f64::from(eps))) as f32
    };
    let mut compared = 0;
    for &i in candidates {
        let (coarse, fine) = (difference(i, 1e-2), difference(i, 2.5e-3));
        if (coarse - fine).abs() > 1e-3 + 0.02 * fine.abs() {
            continue;
        }
        assert!(
            (fine - grad[i]).abs() <= 2e-3 + 0.05 * grad[i].abs(),
            "{what}: d/dx[{i}] autodiff {} vs finite difference {fine}",
            grad[i]
        );
        compared += 1;
        if compared == 4 {
            break;
        }
    }
    compared
}
