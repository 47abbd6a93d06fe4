//! Every backend compiled in computes what `flex` computes: the model's logits, and a short
//! render's objective history and images. Run with the backends' features, e.g.
//! `--features ndarray,wgpu,vulkan`; CI runs the GPU ones on Mesa's software Vulkan driver
//! (lavapipe).
#![cfg(any(
    feature = "ndarray",
    feature = "wgpu",
    feature = "vulkan",
    feature = "tch"
))]

use burn::tensor::{Device, Tensor, TensorData};
use excite_core::objective::channel;
use excite_core::transform::Transform;
use excite_core::{ImageParam, RectifierRule};
use excite_model::OnnxModel;
use excite_viz::{Backend, RenderConfig, render};

fn tiny() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/tiny_cnn.onnx")
}

fn input(device: &Device) -> Tensor<4> {
    let values: Vec<f32> = (0..3 * 32 * 32)
        .map(|i| ((i * 37 % 101) as f32 / 101.0) - 0.5)
        .collect();
    Tensor::from_data(TensorData::new(values, [1, 3, 32, 32]), device)
}

/// Asserts that `a` and `b` differ by under `worst` anywhere and by under `mean` on average.
fn close(a: Vec<f32>, b: Vec<f32>, worst: f32, mean: f32, what: &str) {
    assert_eq!(a.len(), b.len());
    let differences: Vec<f32> = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).collect();
    let max = differences.iter().copied().fold(0f32, f32::max);
    let average = differences.iter().sum::<f32>() / differences.len() as f32;
    eprintln!("{what}: max difference {max}, mean {average}");
    assert!(
        max < worst && average < mean,
        "{what}: max difference {max} (limit {worst}), mean {average} (limit {mean})"
    );
}

/// The logits of a fixed input, then a 4-step render of two images (Fourier parameterization,
/// pad, jitter, scale, rotate, jitter) on `backend`, against the same on `flex`; the images
/// within `image_worst` anywhere (backends whose kernels round differently move more pixels by
/// a step of Adam, see below).
fn matches_flex(backend: Backend, image_worst: f32) {
    let cpu = Backend::Flex.device().unwrap();
    let other = backend.device().unwrap();
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
        // The modified rectifier rules (one custom autodiff op): the input's gradient.
        let rules: Vec<f32> = [RectifierRule::Deconvnet, RectifierRule::GuidedBackprop]
            .into_iter()
            .flat_map(|rule| {
                let x = input(device).require_grad();
                let y = model.forward_by_rule(x.clone(), &["add"], rule).unwrap();
                let grads = y[0].clone().sum().backward();
                x.grad(&grads)
                    .unwrap()
                    .into_data()
                    .try_to_vec::<f32>()
                    .unwrap()
            })
            .collect();
        (
            logits,
            out.images.into_data().try_to_vec::<f32>().unwrap(),
            out.history,
            rules,
        )
    };
    let (l_cpu, i_cpu, h_cpu, r_cpu) = values(&cpu);
    let (l_other, i_other, h_other, r_other) = values(&other);
    close(l_cpu, l_other, 1e-3, 1e-4, "logits");
    close(
        r_cpu,
        r_other,
        1e-3,
        1e-4,
        "deconvnet and guided-backprop gradients",
    );
    close(h_cpu, h_other, 1e-2, 1e-3, "objective history");
    // Adam divides by the root of the squared gradients, so where a gradient is tiny, rounding
    // differences between backends move a parameter by up to a step; a couple of grey levels.
    close(i_cpu, i_other, image_worst, 5e-3, "rendered images");
}

#[cfg(feature = "ndarray")]
#[test]
fn ndarray_matches_flex() {
    matches_flex(Backend::Ndarray, 2e-2);
}

#[cfg(feature = "wgpu")]
#[test]
fn wgpu_matches_flex() {
    matches_flex(Backend::Wgpu, 1e-2);
}

#[cfg(feature = "vulkan")]
#[test]
fn vulkan_matches_flex() {
    matches_flex(Backend::Vulkan, 1e-2);
}

#[cfg(feature = "tch")]
#[test]
fn tch_matches_flex() {
    matches_flex(Backend::Tch, 5e-2);
}
