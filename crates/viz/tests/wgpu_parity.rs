//! The wgpu backend computes what the CPU backend computes (run with `--features wgpu`; CI uses
//! Mesa's software Vulkan driver, lavapipe).
#![cfg(feature = "wgpu")]

use burn::tensor::{Device, DeviceKind, Tensor, TensorData};
use excite_core::ImageParam;
use excite_core::objective::channel;
use excite_core::transform::Transform;
use excite_model::OnnxModel;
use excite_viz::{RenderConfig, render};

fn tiny() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/tiny_cnn.onnx")
}

fn input(device: &Device) -> Tensor<4> {
    let values: Vec<f32> = (0..3 * 32 * 32)
        .map(|i| ((i * 37 % 101) as f32 / 101.0) - 0.5)
        .collect();
    Tensor::from_data(TensorData::new(values, [1, 3, 32, 32]), device)
}

fn close(a: Vec<f32>, b: Vec<f32>, tolerance: f32, what: &str) {
    assert_eq!(a.len(), b.len());
    let worst = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max);
    assert!(worst < tolerance, "{what}: max difference {worst}");
}

#[test]
fn forward_and_a_short_render_match_the_cpu() {
    let cpu = Device::flex().autodiff();
    let gpu = Device::wgpu(DeviceKind::DefaultDevice).autodiff();
    let values = |device: &Device| {
        let model = OnnxModel::load(tiny(), device).unwrap();
        let logits = model
            .forward(input(device))
            .unwrap()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let config = RenderConfig {
            steps: 4,
            transforms: vec![
                Transform::Pad {
                    width: 4,
                    value: 0.5,
                },
                Transform::Jitter(4),
                // Resampling: one bilinear grid sample (a GPU backend's bilinear `interpolate`
                // has no backward).
                Transform::Scale(vec![1.1]),
                Transform::Rotate(vec![7.0]),
                Transform::Jitter(2),
            ],
            ..RenderConfig::default()
                .with_param(ImageParam::fourier().with_size(32, 32).with_batch(2))
        };
        let out = render(&model, &channel("add", 3), &config, device).unwrap();
        (
            logits,
            out.images.into_data().try_to_vec::<f32>().unwrap(),
            out.history,
        )
    };
    let (l_cpu, i_cpu, h_cpu) = values(&cpu);
    let (l_gpu, i_gpu, h_gpu) = values(&gpu);
    close(l_cpu, l_gpu, 1e-3, "logits");
    close(h_cpu, h_gpu, 1e-2, "objective history");
    // Adam divides by the root of the squared gradients, so where a gradient is tiny, rounding
    // differences between backends move a parameter by up to a step; a couple of grey levels.
    close(i_cpu, i_gpu, 1e-2, "rendered images");
}
