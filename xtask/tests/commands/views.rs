//! `examples` over the demo photos and `saliency` of the cat photo, as the README runs them,
//! on the tiny model (fast) and the bundled one.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

fn xtask(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn examples_write_a_strip_per_channel_and_a_record() {
    let out = std::env::temp_dir().join(format!("excite-examples-{}", std::process::id()));
    let line = xtask(&[
        "examples",
        "--model",
        repo("testdata/tiny_cnn.onnx").to_str().unwrap(),
        "--layer",
        "add",
        "--channels",
        "0..3",
        "--top",
        "4",
        "--images",
        repo("testdata/demo_images").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(line.contains("images/s"), "{line}");
    for c in 0..3 {
        let strip = image::open(out.join(format!("channel_{c:04}.png"))).unwrap();
        assert_eq!(strip.width() % 4, 0);
    }
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("examples.json")).unwrap()).unwrap();
    let channels = record["channels"].as_array().unwrap();
    assert_eq!(channels.len(), 3);
    let hit = &channels[0]["top_max"][0];
    let [y0, x0, y1, x1] = [0, 1, 2, 3].map(|i| hit["crop"][i].as_u64().unwrap());
    assert!(y0 < y1 && x0 < x1 && y1 <= 32 && x1 <= 32, "{hit}");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn saliency_writes_a_heatmap_and_the_raw_map() {
    let dir = std::env::temp_dir().join(format!("excite-saliency-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let png = dir.join("cat.png");
    let line = xtask(&[
        "saliency",
        "--image",
        repo("testdata/chelsea_224.png").to_str().unwrap(),
        "--objective",
        "logit:282",
        "--method",
        "integrated-gradients",
        "--samples",
        "8",
        "--out",
        png.to_str().unwrap(),
    ]);
    assert!(line.contains("attributions sum to"), "{line}");
    assert_eq!(image::open(&png).unwrap().width(), 224);
    let map: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("cat.json")).unwrap()).unwrap();
    assert_eq!(map["pixels"].as_array().unwrap().len(), 224 * 224);
    assert_eq!(map["method"], "integrated-gradients");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every method of the table on the exported torchvision ResNet, with its faithfulness, as one
/// panel: the `--method` values come from the library's table.
#[test]
fn every_saliency_method_runs_on_an_exported_resnet_with_its_metrics() {
    let dir = std::env::temp_dir().join(format!("excite-methods-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let panel = dir.join("panel.png");
    let methods: Vec<&str> = excite::views::METHODS.iter().map(|m| m.name()).collect();
    let out = xtask(&[
        "saliency",
        "--model",
        repo("testdata/saliency/torch_resnet_relu.onnx")
            .to_str()
            .unwrap(),
        "--image",
        repo("testdata/saliency/input_96.png").to_str().unwrap(),
        "--objective",
        "logit:4",
        "--method",
        &methods.join(","),
        "--layer",
        "/layer3/layer3.0/relu3/Relu_output_0",
        "--samples",
        "4",
        "--metrics",
        "--out",
        panel.to_str().unwrap(),
    ]);
    assert!(
        out.contains(&format!("panel of {} methods", methods.len())),
        "{out}"
    );
    assert!(image::open(&panel).unwrap().width() > 96 * 5);
    let mut all_deleted = Vec::new();
    for method in methods {
        let json = dir.join(format!("panel_{method}.json"));
        let map: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        assert_eq!(map["method"], method);
        let metrics = &map["metrics"];
        let deletion = metrics["curves"]["deletion"]["values"].as_array().unwrap();
        assert_eq!(deletion.len(), 17, "{method}");
        all_deleted.push(deletion[16].as_f64().unwrap());
        assert!(
            metrics["randomisation"].as_array().unwrap().len() >= 2,
            "{method}"
        );
    }
    // Deleting every pixel leaves the same black photo, whatever the order.
    assert!(
        all_deleted
            .iter()
            .all(|v| (v - all_deleted[0]).abs() < 1e-4),
        "{all_deleted:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn render_with_alpha_writes_an_rgba_picture() {
    let dir = std::env::temp_dir().join(format!("excite-alpha-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("neuron.png");
    let line = xtask(&[
        "render",
        "--model",
        repo("testdata/tiny_cnn.onnx").to_str().unwrap(),
        "--objective",
        "neuron:conv2:5",
        "--alpha",
        "--steps",
        "64",
        "--size",
        "48",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(line.contains("optimised alpha"), "{line}");
    let rgba = image::open(dir.join("neuron_alpha.png")).unwrap();
    assert_eq!(rgba.color(), image::ColorType::Rgba8);
    let alpha: Vec<u8> = rgba.to_rgba8().pixels().map(|p| p[3]).collect();
    assert!(alpha.iter().any(|&a| a < 128) && alpha.iter().any(|&a| a > 128));
    assert_eq!(image::open(&out).unwrap().color(), image::ColorType::Rgb8);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn render_scores_accentuates_and_checks_transfer_on_the_tiny_model() {
    let dir = std::env::temp_dir().join(format!("excite-trust-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let tiny = repo("testdata/tiny_cnn.onnx");
    let photos = repo("testdata/demo_images");
    let out = dir.join("render.png");
    let common = [
        "--model",
        tiny.to_str().unwrap(),
        "--steps",
        "24",
        "--out",
        out.to_str().unwrap(),
    ];
    // Scores against the photos, a line each.
    let text = xtask(
        &[
            &["render", "--objective", "concat:3", "--images"],
            &[photos.to_str().unwrap()][..],
            &common[..],
        ]
        .concat(),
    );
    for line in ["activation vs photos:", "path similarity:", "plausibility:"] {
        assert!(text.contains(line), "{text}");
    }
    // Accentuation from a photo rises the objective above the photo's.
    let photo = photos.join("flower.jpg");
    let text = xtask(
        &[
            &["render", "--objective", "concat:3", "--start-image"],
            &[
                photo.to_str().unwrap(),
                "--accentuate",
                "--stay-close",
                "conv2",
            ][..],
            &common[..],
        ]
        .concat(),
    );
    let numbers: Vec<f32> = text
        .lines()
        .find(|l| l.starts_with("accentuated:"))
        .unwrap_or_else(|| panic!("{text}"))
        .split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
        .filter_map(|w| w.parse().ok())
        .collect();
    assert!(numbers[1] > numbers[0], "{text}");
    // Transferability: the rendering model and another (the same file) rank the class.
    let text = xtask(
        &[
            &["render", "--objective", "logit:4", "--check-with"],
            &[tiny.to_str().unwrap()][..],
            &common[..],
        ]
        .concat(),
    );
    assert!(text.contains("the rendering model: rank 1"), "{text}");
    // render-layer scores every render into `scores.json`.
    let layer_out = dir.join("layer");
    let text = xtask(&[
        "render-layer",
        "--model",
        tiny.to_str().unwrap(),
        "--layer",
        "concat",
        "--channels",
        "0..4",
        "--steps",
        "8",
        "--images",
        photos.to_str().unwrap(),
        "--out",
        layer_out.to_str().unwrap(),
    ]);
    assert!(
        text.contains("scores of 4 renders against 33 photos"),
        "{text}"
    );
    let scores: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(layer_out.join("scores.json")).unwrap())
            .unwrap();
    assert_eq!(scores.as_object().unwrap().len(), 4, "{scores}");
    assert!(scores["2"]["path_similarity"].is_number(), "{scores}");
    // Mistakes are one line each, before any rendering.
    let one = dir.join("one_photo");
    std::fs::create_dir_all(&one).unwrap();
    std::fs::copy(&photo, one.join("flower.jpg")).unwrap();
    for (args, message) in [
        (
            vec!["--objective", "concat:3", "--images", one.to_str().unwrap()],
            "needs at least two",
        ),
        (
            vec!["--objective", "concat:3", "--check-with", "x.onnx"],
            "needs a class logit objective",
        ),
        (
            vec![
                "--objective",
                "concat:3",
                "--param",
                "maco",
                "--start-image",
                photo.to_str().unwrap(),
                "--accentuate",
            ],
            "cannot start from an image",
        ),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args([&["render"][..], &args[..], &common[..]].concat())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success() && err.contains(message), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
