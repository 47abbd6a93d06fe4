//! The input-dependent views against direct computation: top-K rankings against sorting every
//! activation, a unit's saliency inside its receptive field, Integrated Gradients' completeness,
//! and maps of the right shape and finite on the bundled and a tiny model.

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor};
use excite_core::image_io::from_image;
use excite_core::{Objective, VisualModel};
use excite_model::OnnxModel;
use excite_views::photos::{list_photos, load_square};
use excite_views::{ExamplesConfig, METHODS, SaliencyConfig, dataset_examples, saliency};
use image::RgbImage;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

fn tiny(device: &Device) -> OnnxModel {
    OnnxModel::load(repo("testdata/tiny_cnn.onnx"), device).unwrap()
}

/// Eleven random photos of assorted sizes in a fresh folder.
fn random_photos(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("excite-views-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut rng = StdRng::seed_from_u64(7);
    for i in 0..11 {
        let (w, h) = (32 + 4 * i, 40 - i);
        let img = RgbImage::from_fn(w, h, |_, _| image::Rgb(rng.random::<[u8; 3]>()));
        img.save(dir.join(format!("p{i:02}.png"))).unwrap();
    }
    dir
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

#[test]
fn top_k_matches_sorting_every_activation() {
    let device = Device::flex();
    let model = tiny(&device);
    let photos = list_photos(&random_photos("topk")).unwrap();
    let config = ExamplesConfig {
        channels: [2, 6],
        top: 3,
        batch: 4,
        size: 32,
        ..ExamplesConfig::default()
    };
    let got = dataset_examples(&model, "add", &photos, &config, &device).unwrap();
    // Brute force: all photos in one batch, every score sorted.
    let all: Vec<Tensor<4>> = photos
        .iter()
        .map(|p| from_image(&load_square(p, 32).unwrap(), &device))
        .collect();
    let act = model
        .activations(Tensor::cat(all, 0), &["add"])
        .unwrap()
        .remove(0);
    let [n, c, h, w] = act.dims();
    let flat = values(act.reshape([n, c, h * w]));
    for (k, ch) in (2..6).enumerate() {
        let plane = |i: usize| &flat[(i * c + ch) * h * w..(i * c + ch + 1) * h * w];
        let mut means: Vec<(f32, usize)> = (0..n)
            .map(|i| (plane(i).iter().sum::<f32>() / (h * w) as f32, i))
            .collect();
        means.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut maxes: Vec<(f32, usize)> = (0..n)
            .map(|i| (plane(i).iter().fold(f32::MIN, |m, &v| m.max(v)), i))
            .collect();
        maxes.sort_by(|a, b| b.0.total_cmp(&a.0));
        let ranked = &got.channels[k];
        assert_eq!(ranked.channel, ch);
        for (hit, (score, i)) in ranked.top_mean.iter().zip(&means) {
            assert_eq!(hit.image, photos[*i]);
            assert!((hit.score - score).abs() < 1e-5);
        }
        for (hit, (score, i)) in ranked.bottom_mean.iter().zip(means.iter().rev()) {
            assert_eq!(hit.image, photos[*i]);
            assert!((hit.score - score).abs() < 1e-5);
        }
        for (hit, (score, i)) in ranked.top_max.iter().zip(&maxes) {
            assert_eq!(hit.image, photos[*i]);
            assert!((hit.score - score).abs() < 1e-5);
            let [y, x] = hit.position.unwrap();
            assert_eq!(plane(*i)[y * w + x], *score);
        }
        assert_eq!(ranked.top_mean.len(), 3);
    }
}

#[test]
fn a_neurons_saliency_stays_inside_its_receptive_field() {
    let device = Device::flex().autodiff();
    let model = tiny(&device);
    let mut rng = StdRng::seed_from_u64(3);
    let photo = RgbImage::from_fn(32, 32, |_, _| image::Rgb(rng.random::<[u8; 3]>()));
    let image = from_image(&photo, &device);
    for (layer, x, y) in [("relu1", 5, 9), ("add", 3, 6), ("pool1", 0, 7)] {
        let field = model
            .receptive_field(layer, [32, 32])
            .unwrap()
            .expect("a local layer");
        let objective: Objective = format!("neuron:{layer}:1@{x},{y}").parse().unwrap();
        let config = SaliencyConfig::default();
        let map = saliency(&model, &objective, image.clone(), &config).unwrap();
        let [y0, x0, y1, x1] = field.box_at([y, x], [32, 32]);
        let mut support = [usize::MAX, usize::MAX, 0, 0];
        for (i, &v) in map.pixels.iter().enumerate() {
            let (py, px) = (i / 32, i % 32);
            if v != 0.0 {
                assert!(
                    (y0..y1).contains(&py) && (x0..x1).contains(&px),
                    "{layer}: pixel ({py}, {px}) moves the unit but is outside {:?}",
                    [y0, x0, y1, x1]
                );
                support = [
                    support[0].min(py),
                    support[1].min(px),
                    support[2].max(py + 1),
                    support[3].max(px + 1),
                ];
            }
        }
        // The field is not loose: the gradient reaches most of it.
        assert!(
            (support[2] - support[0]) * 2 >= y1 - y0 && (support[3] - support[1]) * 2 >= x1 - x0,
            "{layer}: support {support:?} in field {:?}",
            [y0, x0, y1, x1]
        );
    }
    assert!(model.receptive_field("gap", [32, 32]).unwrap().is_none());
}

#[test]
fn integrated_gradients_add_up_to_the_change_of_the_objective() {
    let device = Device::flex().autodiff();
    let model = tiny(&device);
    let photo = load_square(&repo("testdata/chelsea_224.png"), 32).unwrap();
    let image = from_image(&photo, &device);
    for spec in ["logit:4", "add:3"] {
        let objective: Objective = spec.parse().unwrap();
        let config = SaliencyConfig::new("integrated-gradients").with_samples(64);
        let map = saliency(&model, &objective, image.clone(), &config).unwrap();
        let total: f32 = map.pixels.iter().sum();
        let change = map.value - map.baseline_value.unwrap();
        assert!(
            (total - change).abs() <= 0.02 * change.abs() + 1e-3,
            "{spec}: attributions sum to {total}, the objective changes by {change}"
        );
    }
}

#[test]
fn every_method_gives_a_finite_map_of_the_photo_size() {
    let device = Device::flex().autodiff();
    let bundled = OnnxModel::load(repo("models/efficientnet_lite0.onnx"), &device).unwrap();
    let tiny = tiny(&device);
    let cat = load_square(&repo("testdata/chelsea_224.png"), 224).unwrap();
    for (model, spec, size, layer) in [
        (&bundled, "logit:282", 224, "blocks.6"),
        (&tiny, "logit:4", 32, "add"),
    ] {
        let image = from_image(
            &image::imageops::resize(&cat, size, size, image::imageops::FilterType::Triangle),
            &device,
        );
        for method in METHODS {
            let config = SaliencyConfig {
                samples: Some(4),
                layer: Some(layer.into()),
                window: size as usize / 4,
                stride: size as usize / 4,
                ..SaliencyConfig::new(method.name())
            };
            let objective: Objective = spec.parse().unwrap();
            let map = saliency(model, &objective, image.clone(), &config).unwrap();
            let name = method.name();
            let size = size as usize;
            assert_eq!(map.method, name);
            assert_eq!(map.size, [size, size]);
            assert_eq!(map.pixels.len(), size * size);
            match &map.layer_map {
                Some(layer_map) => {
                    assert!(method.reads_layer(), "{name}");
                    assert!(map.channels.is_empty(), "{name}");
                    assert_eq!(
                        layer_map.values.len(),
                        layer_map.size[0] * layer_map.size[1]
                    );
                }
                None => assert_eq!(map.channels.len(), 3 * size * size, "{name}"),
            }
            assert!(map.pixels.iter().all(|v| v.is_finite()), "{spec} {name}");
            assert!(
                map.pixels.iter().any(|&v| v != 0.0),
                "{spec} {name} is all zero"
            );
        }
    }
}
