//! The render scores separate what they claim to, on the tiny model and the demo photos:
//! a render made on the model follows the top photos' path more closely than a render made on
//! the same model with every weight below the unit re-drawn; pixel noise optimised without
//! transforms (an adversarial pattern) is less plausible than the Fourier render of the
//! same unit. If a score did not separate these, it would not be shipped.

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use excite_core::transform::standard;
use excite_core::{ImageParam, Objective, RandomisableModel, VisualModel};
use excite_model::OnnxModel;
use excite_views::photos::list_photos;
use excite_views::{Reference, Scores, score_render, top_photos};
use excite_viz::{RenderConfig, render};
use image::RgbImage;

const LAYER: &str = "concat";
const SIDE: usize = 32;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

fn render_with(
    model: &dyn VisualModel,
    objective: &Objective,
    param: ImageParam,
    transforms: bool,
    device: &Device,
) -> RgbImage {
    let config = RenderConfig {
        param: param.with_size(SIDE, SIDE),
        steps: 96,
        transforms: if transforms { standard() } else { Vec::new() },
        ..RenderConfig::default()
    };
    render(model, objective, &config, device)
        .unwrap()
        .to_images()
        .unwrap()
        .remove(0)
}

/// The unit's scores against its top 6 photos and 9 others of the demo set.
fn scores(
    model: &dyn VisualModel,
    objective: &Objective,
    image: &RgbImage,
    device: &Device,
) -> Scores {
    let photos = list_photos(&repo("testdata/demo_images")).unwrap();
    let top: Vec<PathBuf> = top_photos(model, objective, &photos, 6, SIDE, device)
        .unwrap()
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    let reference = Reference::new(top, &photos, 9, SIDE);
    score_render(model, objective, image, &reference, device).unwrap()
}

#[test]
fn path_similarity_falls_when_the_weights_below_the_unit_are_redrawn() {
    let device = Device::flex().autodiff();
    let model = OnnxModel::load(repo("testdata/tiny_cnn.onnx"), &device).unwrap();
    let mut margins = Vec::new();
    for channel in [3, 40, 100] {
        let objective: Objective = format!("{LAYER}:{channel}").parse().unwrap();
        let trained = render_with(&model, &objective, ImageParam::fourier(), true, &device);
        let mut redrawn = OnnxModel::load(repo("testdata/tiny_cnn.onnx"), &device).unwrap();
        let layers = redrawn.weighted_layers();
        for (i, layer) in layers
            .iter()
            .enumerate()
            .filter(|(_, l)| l.as_str() != "logits")
        {
            redrawn.randomise(layer, 7 + i as u64).unwrap();
        }
        let elsewhere = render_with(&redrawn, &objective, ImageParam::fourier(), true, &device);
        let on_model = scores(&model, &objective, &trained, &device);
        let off_model = scores(&model, &objective, &elsewhere, &device);
        let (a, b) = (
            on_model.path_similarity.unwrap(),
            off_model.path_similarity.unwrap(),
        );
        eprintln!("{objective}: path similarity {a:.3} on the model, {b:.3} re-drawn below");
        margins.push(a - b);
    }
    assert!(
        margins.iter().all(|&m| m > 0.0),
        "the path score did not separate the renders: {margins:?}"
    );
}

#[test]
fn pixel_noise_is_less_plausible_than_a_fourier_render() {
    let device = Device::flex().autodiff();
    let model = OnnxModel::load(repo("testdata/tiny_cnn.onnx"), &device).unwrap();
    for channel in [3, 40, 100] {
        let objective: Objective = format!("{LAYER}:{channel}").parse().unwrap();
        let fourier = render_with(&model, &objective, ImageParam::fourier(), true, &device);
        let noise = render_with(&model, &objective, ImageParam::pixels(), false, &device);
        let (f, n) = (
            scores(&model, &objective, &fourier, &device),
            scores(&model, &objective, &noise, &device),
        );
        eprintln!(
            "{objective}: plausibility {:.2} Fourier, {:.2} pixels without transforms",
            f.plausibility, n.plausibility
        );
        assert!(
            n.plausibility > f.plausibility,
            "{objective}: pixel noise {} is not less plausible than Fourier {}",
            n.plausibility,
            f.plausibility
        );
    }
}
