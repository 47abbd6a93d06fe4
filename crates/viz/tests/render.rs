//! Renders on real models: the objective rises, a render beats a natural photo, the same seed
//! gives the same image, and bad objectives fail with clear errors.

use burn::tensor::{Device, Tensor};
use excite_core::image_io::{from_image, read_image};
use excite_core::objective::{OUTPUT, channel, channels_per_image, logit, neuron};
use excite_core::{Error, ImageParam, Objective, Result, VisualModel};
use excite_model::{ModelError, OnnxModel};
use excite_viz::{RenderConfig, render, render_channels};

fn repo(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

fn short(steps: usize, seed: u64, param: ImageParam) -> RenderConfig {
    RenderConfig::default()
        .with_steps(steps)
        .with_seed(seed)
        .with_param(param)
}

/// The objective on the images, without transforms or gradient.
fn score(model: &dyn VisualModel, objective: &Objective, images: Tensor<4>) -> f32 {
    objective
        .evaluate_on(model, images.detach())
        .unwrap()
        .into_scalar::<f32>()
}

/// The images a parameterization starts from.
fn first_images(param: &ImageParam, device: &Device) -> Tensor<4> {
    let (generator, raw) = param.init(0, device).unwrap();
    generator.image(raw)
}

#[test]
fn objective_rises_on_tiny_cnn() {
    let device = Device::flex().autodiff();
    let model = OnnxModel::load(repo("testdata/tiny_cnn.onnx"), &device).unwrap();
    let objective = channel("concat", 5);
    let param = ImageParam::fourier().with_size(48, 48);
    let start = score(&model, &objective, first_images(&param, &device));
    let out = render(&model, &objective, &short(96, 0, param), &device).unwrap();
    let end = score(&model, &objective, out.images);
    assert_eq!(out.history.len(), 96);
    assert!(end > 3.0 * start.max(0.05), "{start} -> {end}");
}

#[test]
fn render_of_a_bundled_channel_beats_the_photo() {
    let device = Device::flex().autodiff();
    let model = OnnxModel::load(repo("models/efficientnet_lite0.onnx"), &device).unwrap();
    assert!(
        model.manifest().is_some(),
        "the bundled model has a manifest"
    );
    let objective = channel("blocks.3", 7);
    let photo = from_image(
        &read_image(&repo("testdata/chelsea_224.png"), None).unwrap(),
        &device,
    );
    let on_photo = score(&model, &objective, photo);
    let param = ImageParam::fourier().with_size(64, 64);
    let start = score(&model, &objective, first_images(&param, &device));
    let config = RenderConfig {
        thresholds: vec![8, 32],
        ..short(48, 0, param)
    };
    let out = render(&model, &objective, &config, &device).unwrap();
    assert_eq!(
        out.snapshots.iter().map(|s| s.0).collect::<Vec<_>>(),
        vec![8, 32]
    );
    let end = score(&model, &objective, out.images);
    assert!(end > 3.0 * start.max(0.1), "objective {start} -> {end}");
    assert!(end > on_photo, "render {end} vs photo {on_photo}");
}

#[test]
fn same_seed_same_image() {
    let device = Device::flex().autodiff();
    let model = OnnxModel::load(repo("testdata/tiny_cnn.onnx"), &device).unwrap();
    let param = ImageParam::fourier().with_size(32, 32).with_batch(2);
    let run = |seed| {
        render(
            &model,
            &channel("add", 1),
            &short(12, seed, param.clone()),
            &device,
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
    let config = short(2, 0, ImageParam::pixels().with_size(32, 32));
    let go = |objective| render(&model, &objective, &config, &device);
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
    // The model's own error travels as the source, with its structure.
    let Error::Model(source) = err else {
        panic!("not a model error: {err}")
    };
    let Some(ModelError::UnknownLayer { suggestions, .. }) = source.downcast_ref::<ModelError>()
    else {
        panic!("not an unknown layer: {source}")
    };
    assert_eq!(suggestions.first().map(String::as_str), Some("add"));
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
    let config = short(400, 0, ImageParam::pixels().with_size(8, 8));
    let err = render(&Exploding, &channel("x", 0), &config, &device).unwrap_err();
    assert!(matches!(err, Error::NonFinite { .. }), "{err}");
}

#[test]
fn rendering_needs_an_autodiff_device() {
    let device = Device::flex();
    let model = OnnxModel::load(repo("testdata/tiny_cnn.onnx"), &device).unwrap();
    let config = short(1, 0, ImageParam::pixels().with_size(8, 8));
    let err = render(&model, &channel("add", 0), &config, &device).unwrap_err();
    assert!(err.to_string().contains("autodiff"), "{err}");
}

/// Channel 0: the image's grey level; channel 1: a unit that never responds (dead).
struct HalfDead;

impl VisualModel for HalfDead {
    fn activations(&self, images: Tensor<4>, _layers: &[&str]) -> Result<Vec<Tensor<4>>> {
        let grey = images.mean_dim(1);
        Ok(vec![Tensor::cat(vec![grey.clone(), grey * 0.0], 1)])
    }
}

#[test]
fn objectives_without_a_gradient_are_reported() {
    let device = Device::flex().autodiff();
    let model = OnnxModel::load(repo("testdata/tiny_cnn.onnx"), &device).unwrap();
    let one = short(12, 0, ImageParam::fourier().with_size(32, 32));
    for spec in ["0*add:1", "diversity:add"] {
        let objective: Objective = spec.parse().unwrap();
        let err = render(&model, &objective, &one, &device).unwrap_err();
        assert!(matches!(err, Error::NoGradient), "{spec}: {err}");
    }
    // A diversity term has a gradient once the batch holds two images.
    let two = short(12, 0, ImageParam::fourier().with_size(32, 32).with_batch(2));
    let objective: Objective = "diversity:add".parse().unwrap();
    assert!(render(&model, &objective, &two, &device).is_ok());

    let renders = render_channels(&HalfDead, "x", &[0, 1], &one, &device).unwrap();
    let dead: Vec<bool> = renders.iter().map(|r| r.dead).collect();
    assert_eq!(dead, [false, true]);
    // A batch of dead units stops early and still returns an image for each.
    let renders = render_channels(&HalfDead, "x", &[1, 1], &one, &device).unwrap();
    assert!(renders.iter().all(|r| r.dead) && renders.len() == 2);
}

/// A model whose activation panics inside the backend (a reshape to the wrong size).
struct Panicking;

impl VisualModel for Panicking {
    fn activations(&self, images: Tensor<4>, _layers: &[&str]) -> Result<Vec<Tensor<4>>> {
        let [b, c, h, w] = images.dims();
        Ok(vec![images.reshape([b, c, h + 1, w])])
    }
}

#[test]
fn a_panic_in_the_backend_is_an_error() {
    let device = Device::flex().autodiff();
    let config = short(2, 0, ImageParam::pixels().with_size(8, 8));
    let err = render(&Panicking, &channel("x", 0), &config, &device).unwrap_err();
    assert!(matches!(err, Error::Backend(_)), "{err}");
    assert!(!err.to_string().contains('\n'), "{err}");
}

/// MACO as published on the tiny model: the objective on the crops rises (MACO optimises what
/// the crops see, not the whole image at once), and the transparency map is where the crops
/// looked, as alpha.
#[test]
fn maco_rises_and_maps_where_the_model_looked() {
    let device = Device::flex().autodiff();
    let model = OnnxModel::load(repo("testdata/tiny_cnn.onnx"), &device).unwrap();
    let objective = channel("concat", 5);
    let config = RenderConfig::maco(64, 32, None).with_steps(48);
    let out = render(&model, &objective, &config, &device).unwrap();
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
    let (start, end) = (mean(&out.history[..8]), mean(&out.history[40..]));
    assert!(end > 1.3 * start && start > 0.0, "{start} -> {end}");
    assert_eq!(out.transparency.as_ref().unwrap().dims(), [1, 3, 64, 64]);
    let rgba = out.to_rgba_images().unwrap().unwrap();
    let alpha: Vec<u8> = rgba[0].pixels().map(|p| p[3]).collect();
    assert_eq!(alpha.iter().max(), Some(&255));
    // The crops centre on the middle: the centre is looked at more than the corners.
    let at = |x: usize, y: usize| alpha[y * 64 + x] as u32;
    let centre: u32 = (28..36)
        .flat_map(|y| (28..36).map(move |x| (x, y)))
        .map(|(x, y)| at(x, y))
        .sum();
    let corner: u32 = (0..8)
        .flat_map(|y| (0..8).map(move |x| (x, y)))
        .map(|(x, y)| at(x, y))
        .sum();
    assert!(centre > corner, "centre {centre}, corner {corner}");
}

/// A MACO canvas has no saturated corners after 16 steps on the bundled model (standardised
/// phases at sd 1, as MACO's reference leaves them, add up in phase at the origin: the corners
/// were 0.97 against 0.48 in the middle), and the picture shown is the middle the crops saw,
/// at the size asked for. The crops never see the canvas's border, which drifts brighter than
/// the optimised middle (0.4-0.65 against 0.42, varying with the rounding of the gradients), so
/// the corners are compared with the border's other unseen parts, the middles of the edges.
#[test]
fn maco_canvas_corners_are_not_brighter_than_its_middle_and_the_seen_part_is_shown() {
    let device = Device::flex().autodiff();
    let model = OnnxModel::load(repo("models/efficientnet_lite0.onnx"), &device).unwrap();
    let side = 448;
    let config = RenderConfig::maco(side, 224, None).with_steps(16);
    let out = render(&model, &logit(OUTPUT, 1), &config, &device).unwrap();
    let pixels: Vec<f32> = out.images.clone().into_data().try_to_vec::<f32>().unwrap();
    let mean_over = |xs: std::ops::Range<usize>, ys: std::ops::Range<usize>| {
        let values: Vec<f32> = (0..3)
            .flat_map(|c| {
                let (xs, pixels) = (xs.clone(), &pixels);
                ys.clone()
                    .flat_map(move |y| xs.clone().map(move |x| pixels[(c * side + y) * side + x]))
            })
            .collect();
        values.iter().sum::<f32>() / values.len() as f32
    };
    let (near, far, mid) = (0..8, side - 8..side, side / 2 - 4..side / 2 + 4);
    let corners = [
        (near.clone(), near.clone()),
        (far.clone(), near.clone()),
        (near.clone(), far.clone()),
        (far.clone(), far.clone()),
    ]
    .map(|(xs, ys)| mean_over(xs, ys));
    let edges = [
        (mid.clone(), near.clone()),
        (mid.clone(), far.clone()),
        (near, mid.clone()),
        (far, mid),
    ]
    .map(|(xs, ys)| mean_over(xs, ys));
    let mean = |v: [f32; 4]| v.iter().sum::<f32>() / 4.0;
    assert!(
        corners.iter().all(|&c| c < 0.85) && mean(corners) < mean(edges) + 0.1,
        "corners {corners:?} against the edges' middles {edges:?}"
    );
    let [from, to] = out.region.expect("MACO's crops see a part");
    assert!((from - 0.2975).abs() < 0.003 && (to - 0.7025).abs() < 0.003);
    assert_eq!(out.seen(224).dims(), [1, 3, 224, 224]);
    // At its own size the seen part is the canvas's middle, pixel for pixel.
    let (start, end) = (
        (from * side as f32).round() as usize,
        (to * side as f32).round() as usize,
    );
    let own = out
        .seen(end - start)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    assert_eq!(own[0], pixels[start * side + start]);
}

/// A whole layer with MACO: each channel's crops (6 a step, the batch repeated) drive that
/// channel, so the objective on the crops rises, and each picture is the part its crops saw,
/// at the model's input size.
#[test]
fn maco_renders_a_layer_s_channels_in_one_batch() {
    let device = Device::flex().autodiff();
    let model = OnnxModel::load(repo("testdata/tiny_cnn.onnx"), &device).unwrap();
    let config = RenderConfig::maco(64, 32, None).with_steps(32);
    let renders = render_channels(&model, "concat", &[2, 5], &config, &device).unwrap();
    for r in &renders {
        assert_eq!(r.image.dimensions(), (32, 32), "channel {}", r.channel);
        assert!(r.activation.is_finite() && !r.dead, "channel {}", r.channel);
    }
    let batch = RenderConfig {
        param: config.param.clone().with_batch(2),
        ..config
    };
    let out = render(
        &model,
        &channels_per_image("concat", vec![2, 5]),
        &batch,
        &device,
    )
    .unwrap();
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
    let (start, end) = (mean(&out.history[..4]), mean(&out.history[28..]));
    assert!(end > 1.2 * start && start > 0.0, "{start} -> {end}");
}

/// Lucid's transparency objective on the tiny model: a neuron's render rises, its optimised
/// alpha stays opaque where the neuron looks (the centre) and turns transparent outside its
/// receptive field, where nothing but the opacity penalty reaches the alpha.
#[test]
fn alpha_render_is_opaque_only_where_the_neuron_looks() {
    let device = Device::flex().autodiff();
    let model = OnnxModel::load(repo("testdata/tiny_cnn.onnx"), &device).unwrap();
    let objective = neuron("conv2", 5, None);
    let param = ImageParam::fourier().with_size(48, 48).with_alpha(true);
    let out = render(&model, &objective, &short(160, 0, param), &device).unwrap();
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
    let (start, end) = (mean(&out.history[..8]), mean(&out.history[150..]));
    assert!(end > 2.0 * start.max(0.05), "{start} -> {end}");
    let alpha = out.alpha.as_ref().unwrap();
    assert_eq!(alpha.dims(), [1, 1, 48, 48]);
    let alpha: Vec<f32> = alpha.clone().into_data().try_to_vec::<f32>().unwrap();
    let region = |x0: usize, y0: usize| {
        let values: Vec<f32> = (y0..y0 + 8)
            .flat_map(|y| (x0..x0 + 8).map(move |x| (x, y)))
            .map(|(x, y)| alpha[y * 48 + x])
            .collect();
        mean(&values)
    };
    let (centre, corner) = (region(20, 20), region(0, 0));
    assert!(
        centre > 0.5 && corner < 0.2,
        "centre {centre}, corner {corner}"
    );
    let rgba = out.to_rgba_images().unwrap().unwrap();
    assert_eq!(rgba[0].dimensions(), (48, 48));
}

/// The alpha channel with MACO's transparency map: both backward passes carry the penalty.
#[test]
fn alpha_and_the_transparency_map_render_together() {
    let device = Device::flex().autodiff();
    let model = OnnxModel::load(repo("testdata/tiny_cnn.onnx"), &device).unwrap();
    let mut config = RenderConfig::maco(48, 32, None).with_steps(12);
    config.param = config.param.clone().with_alpha(true);
    let out = render(&model, &neuron("conv2", 5, None), &config, &device).unwrap();
    assert!(out.alpha.is_some() && out.transparency.is_some());
    assert!(out.history.iter().all(|v| v.is_finite()));
}
