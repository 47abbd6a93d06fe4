//! Renders on real models: the objective rises, a render beats a natural photo, the same seed
//! gives the same image, and bad objectives fail with clear errors.

use burn::tensor::{Device, Tensor};
use excite_core::image_io::{from_image, read_image};
use excite_core::objective::{channel, neuron};
use excite_core::{Error, ImageParam, Result, VisualModel};
use excite_model::OnnxModel;
use excite_viz::{RenderConfig, evaluate, render};

fn repo(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

fn short(steps: usize, seed: u64) -> RenderConfig {
    RenderConfig {
        steps,
        seed,
        ..RenderConfig::default()
    }
}

#[test]
fn objective_rises_on_tiny_cnn() {
    let device = Device::flex().autodiff();
    let model = OnnxModel::load(repo("testdata/tiny_cnn.onnx"), &device).unwrap();
    let objective = channel("concat", 5);
    let param = ImageParam::fourier(1, 48, 48, 1.0, &device);
    let start = evaluate(&model, &objective, param.image(param.init(0, &device))).unwrap();
    let out = render(
        &model,
        &objective,
        &param,
        &short(96, 0),
        &device,
        &mut |_| {},
    )
    .unwrap();
    let end = evaluate(&model, &objective, out.images).unwrap();
    assert_eq!(out.history.len(), 96);
    assert!(end > 3.0 * start.max(0.05), "{start} -> {end}");
}

#[test]
fn render_of_a_bundled_channel_beats_the_photo() {
    let device = Device::flex().autodiff();
    let (model, manifest) =
        OnnxModel::load_with_manifest(repo("models/efficientnet_lite0.onnx"), &device).unwrap();
    assert!(manifest.is_some(), "the bundled model has a manifest");
    let objective = channel("blocks.3", 7);
    let photo = from_image(
        &read_image(&repo("testdata/chelsea_224.png"), None).unwrap(),
        &device,
    );
    let on_photo = evaluate(&model, &objective, photo).unwrap();
    let param = ImageParam::fourier(1, 64, 64, 1.0, &device);
    let start = evaluate(&model, &objective, param.image(param.init(0, &device))).unwrap();
    let config = RenderConfig {
        thresholds: vec![8, 32],
        ..short(48, 0)
    };
    let out = render(&model, &objective, &param, &config, &device, &mut |_| {}).unwrap();
    assert_eq!(
        out.snapshots.iter().map(|s| s.0).collect::<Vec<_>>(),
        vec![8, 32]
    );
    let end = evaluate(&model, &objective, out.images).unwrap();
    assert!(end > 3.0 * start.max(0.1), "objective {start} -> {end}");
    assert!(end > on_photo, "render {end} vs photo {on_photo}");
}

#[test]
fn same_seed_same_image() {
    let device = Device::flex().autodiff();
    let model = OnnxModel::load(repo("testdata/tiny_cnn.onnx"), &device).unwrap();
    let param = ImageParam::fourier(2, 32, 32, 1.0, &device);
    let run = |seed| {
        render(
            &model,
            &channel("add", 1),
            &param,
            &short(12, seed),
            &device,
            &mut |_| {},
        )
        .unwrap()
        .images
        .into_data()
    };
    assert_eq!(run(4), run(4));
    assert_ne!(run(4), run(5));
}

#[test]
fn out_of_range_targets_are_clear_errors() {
    let device = Device::flex().autodiff();
    let model = OnnxModel::load(repo("testdata/tiny_cnn.onnx"), &device).unwrap();
    let param = ImageParam::pixels(1, 32, 32);
    let go = |objective| {
        render(
            &model,
            &objective,
            &param,
            &short(2, 0),
            &device,
            &mut |_| {},
        )
    };
    let err = go(channel("add", 99)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::ChannelOutOfRange {
                channel: 99,
                channels: 48,
                ..
            }
        ),
        "{err}"
    );
    let err = go(neuron("add", 0, Some((100, 0)))).unwrap_err();
    assert!(
        err.to_string().contains("(x=100, y=0) is out of range"),
        "{err}"
    );
    let err = go(neuron("gap", 0, Some((1, 1)))).unwrap_err();
    assert!(err.to_string().contains("not spatial"), "{err}");
    let err = go(channel("ad", 0)).unwrap_err();
    assert!(err.to_string().contains("did you mean add"), "{err}");
}

/// A model whose activations turn non-finite once the image brightens.
struct Exploding;

impl VisualModel for Exploding {
    fn activations(&self, images: Tensor<4>, _layers: &[&str]) -> Result<Vec<Tensor<4>>> {
        // log of a quantity that crosses zero: NaN as soon as the mean passes 0.55.
        Ok(vec![(images.mean_dim(1) * -1.0 + 0.55).log() * -1.0])
    }
}

#[test]
fn non_finite_objective_stops_with_a_clear_error() {
    let device = Device::flex().autodiff();
    let param = ImageParam::pixels(1, 8, 8);
    let err = render(
        &Exploding,
        &channel("x", 0),
        &param,
        &short(400, 0),
        &device,
        &mut |_| {},
    )
    .unwrap_err();
    assert!(matches!(err, Error::NonFinite { .. }), "{err}");
}

#[test]
fn rendering_needs_an_autodiff_device() {
    let device = Device::flex();
    let model = OnnxModel::load(repo("testdata/tiny_cnn.onnx"), &device).unwrap();
    let err = render(
        &model,
        &channel("add", 0),
        &ImageParam::pixels(1, 8, 8),
        &short(1, 0),
        &device,
        &mut |_| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("autodiff"), "{err}");
}
