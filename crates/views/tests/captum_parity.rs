//! Every saliency method that Captum or pytorch-grad-cam defines, against their maps of the
//! same torchvision ResNet (ReLUs, Bottleneck blocks) run in PyTorch, on its ONNX export:
//! `testdata/saliency/`, made by `make_saliency_refs.py` there. Each map must match within
//! 1e-4 of its scale (max |difference| ≤ 1e-4 · max(1, max |reference|)).

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use excite_core::Objective;
use excite_core::image_io::from_image;
use excite_model::OnnxModel;
use excite_views::{SaliencyConfig, saliency};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/saliency")
        .join(name)
}

fn npy(name: &str) -> Vec<f32> {
    let bytes = std::fs::read(fixture(name)).unwrap();
    npyz::NpyFile::new(&bytes[..])
        .unwrap()
        .into_vec::<f32>()
        .unwrap()
}

/// The largest difference, over the reference's scale.
fn error(ours: &[f32], reference: &[f32]) -> f32 {
    assert_eq!(ours.len(), reference.len());
    let scale = reference.iter().fold(1f32, |m, v| m.max(v.abs()));
    let diff = ours
        .iter()
        .zip(reference)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    diff / scale
}

#[test]
fn every_method_matches_captum_and_pytorch_grad_cam_on_a_resnet() {
    let refs: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture("refs.json")).unwrap()).unwrap();
    let device = Device::flex().autodiff();
    let model = OnnxModel::load(fixture("torch_resnet_relu.onnx"), &device).unwrap();
    let photo = image::open(fixture("input_96.png")).unwrap().to_rgb8();
    let image = from_image(&photo, &device);
    let target = refs["target"].as_u64().unwrap();
    let objective: Objective = format!("logit:{target}").parse().unwrap();
    let layer = refs["cam_layer"].as_str().unwrap();
    let occlusion = &refs["occlusion"];
    let config = SaliencyConfig {
        layer: Some(layer.into()),
        window: occlusion["sliding_window_shapes"][1].as_u64().unwrap() as usize,
        stride: occlusion["strides"][1].as_u64().unwrap() as usize,
        baseline: occlusion["baselines"].as_f64().unwrap() as f32,
        ..SaliencyConfig::default()
    };
    let mut report = Vec::new();
    for (method, file) in [
        ("gradient", "gradient.npy"),
        ("deconvnet", "deconvnet.npy"),
        ("guided-backprop", "guided_backprop.npy"),
        ("occlusion", "occlusion.npy"),
        ("grad-cam", "grad_cam.npy"),
        ("grad-cam++", "grad_cam_pp.npy"),
        ("layer-cam", "layer_cam.npy"),
        ("score-cam", "score_cam.npy"),
    ] {
        let config = SaliencyConfig {
            method: method.into(),
            ..config.clone()
        };
        let map = saliency(&model, &objective, image.clone(), &config).unwrap();
        let ours = match &map.layer_map {
            Some(layer_map) => &layer_map.values,
            None => &map.channels,
        };
        let err = error(ours, &npy(file));
        report.push(format!("{method} {err:.1e}"));
        assert!(err <= 1e-4, "{method}: error {err:e} against {file}");
    }
    println!("relative errors: {}", report.join(", "));
}
