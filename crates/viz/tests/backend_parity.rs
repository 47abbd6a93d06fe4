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

/// How far a backend may stray from flex: each difference over the change the render makes
/// (the largest change of a pixel from the initial image; the objective's change over the
/// steps) or over the largest magnitude (logits, the rule gradients).
struct Bounds {
    logits: f32,
    rules: f32,
    history: f32,
    /// The largest pixel difference, and the mean one (over the mean pixel change).
    images: (f32, f32),
}

/// The largest and the mean absolute difference of `a` and `b`.
fn differences(a: &[f32], b: &[f32]) -> (f32, f32) {
    assert_eq!(a.len(), b.len());
    let d: Vec<f32> = a.iter().zip(b).map(|(x, y)| (x - y).abs()).collect();
    (
        d.iter().copied().fold(0f32, f32::max),
        d.iter().sum::<f32>() / d.len() as f32,
    )
}

/// The largest magnitude of `a`.
fn largest(a: &[f32]) -> f32 {
    a.iter().fold(0f32, |m, v| m.max(v.abs()))
}

/// Asserts that `error` (a difference over its scale) is within `bound`, printing both.
fn within(error: f32, bound: f32, what: &str) {
    eprintln!("{what}: relative difference {error:.2e} (bound {bound:.0e})");
    assert!(
        error <= bound,
        "{what}: relative difference {error:.2e} above {bound:.0e}"
    );
}

/// The logits of a fixed input, a 4-step render of two images (Fourier parameterization, pad,
/// jitter, scale, rotate, jitter) and the deconvnet and guided-backprop input gradients on
/// `backend`, against the same on `flex`.
fn matches_flex(backend: Backend, bounds: Bounds) {
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
        let (generator, raw) = config.param.init(config.seed, device).unwrap();
        let start = generator
            .image(raw)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
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
            start,
        )
    };
    let (l_cpu, i_cpu, h_cpu, r_cpu, start) = values(&cpu);
    let (l_other, i_other, h_other, r_other, _) = values(&other);
    within(
        differences(&l_cpu, &l_other).0 / largest(&l_cpu),
        bounds.logits,
        "logits",
    );
    within(
        differences(&r_cpu, &r_other).0 / largest(&r_cpu),
        bounds.rules,
        "deconvnet and guided-backprop gradients",
    );
    let objective_change = (h_cpu[h_cpu.len() - 1] - h_cpu[0]).abs();
    within(
        differences(&h_cpu, &h_other).0 / objective_change,
        bounds.history,
        "objective history",
    );
    // Adam divides by the root of the squared gradients, so where a gradient is tiny, rounding
    // differences between backends move a parameter by up to a step.
    let (change_max, change_mean) = differences(&i_cpu, &start);
    let (worst, mean) = differences(&i_cpu, &i_other);
    within(
        worst / change_max,
        bounds.images.0,
        "rendered images, largest",
    );
    within(mean / change_mean, bounds.images.1, "rendered images, mean");
}

#[cfg(feature = "ndarray")]
#[test]
fn ndarray_matches_flex() {
    // Measured (2-core AVX-512 Xeon): logits 2.3e-7, rule gradients 3.3e-7, history
    // 2.4e-4, images 7.9e-2 largest and 1.7e-2 mean.
    matches_flex(
        Backend::Ndarray,
        Bounds {
            logits: 1e-6,
            rules: 2e-6,
            history: 1e-3,
            images: (0.3, 0.07),
        },
    );
}

#[cfg(feature = "wgpu")]
#[test]
fn wgpu_matches_flex() {
    // Measured (lavapipe, Mesa's software Vulkan, as in CI): logits 2.5e-7, rule gradients
    // 4.7e-7, history 6.7e-5, images 1.8e-2 largest and 3.9e-3 mean.
    matches_flex(
        Backend::Wgpu,
        Bounds {
            logits: 1e-6,
            rules: 2e-6,
            history: 5e-4,
            images: (0.1, 0.02),
        },
    );
}

#[cfg(feature = "vulkan")]
#[test]
fn vulkan_matches_flex() {
    // wgpu's kernels through Vulkan: wgpu's bounds (not built in CI, not measured).
    matches_flex(
        Backend::Vulkan,
        Bounds {
            logits: 1e-6,
            rules: 2e-6,
            history: 5e-4,
            images: (0.1, 0.02),
        },
    );
}

#[cfg(feature = "tch")]
#[test]
fn tch_matches_flex() {
    // Measured (2-core AMD EPYC, PyTorch 2.9.0's LibTorch, with LibTorch's own kernels for
    // the custom ops; not in CI, which has no LibTorch): logits 1.8e-7, rule gradients
    // 1.2e-7, history 6.9e-5, images 1.8e-2 largest and 3.9e-3 mean.
    matches_flex(
        Backend::Tch,
        Bounds {
            logits: 1e-6,
            rules: 2e-6,
            history: 5e-4,
            images: (0.1, 0.02),
        },
    );
}
