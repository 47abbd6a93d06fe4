//! The catalogue at the bundled model's full size: 44,792 units (35 layers of up to 1,280),
//! their records written through the store as a run writes them. The site is built from one
//! listing of each layer's folder, in seconds and in memory that does not grow with the
//! number of units; a 1,280-unit layer page loads only the thumbnails near the viewport in
//! chromium; the search box finds a unit by layer and channel.

use std::path::{Path, PathBuf};
use std::time::Instant;

use excite::catalogue::{
    CatalogueConfig, ExampleSummary, LayerEntry, Plan, Store, Unit, UnitFiles, UnitRecord, site,
};
use excite::views::Hit;
use excite::views::scores::{PathPoint, Scores};

use crate::catalogue::{CHECKER, check_page, chromium, console_errors};

/// The bundled model's unit count, in layers of 1,280.
const UNITS: usize = 44_792;
const PER_LAYER: usize = 1_280;

fn plan() -> Plan {
    let layers: Vec<LayerEntry> = (0..UNITS.div_ceil(PER_LAYER))
        .map(|l| LayerEntry {
            name: format!("blocks.{l}/conv"),
            op: "Conv".into(),
            shape: vec![1, PER_LAYER, 7, 7],
            channels: [0, PER_LAYER.min(UNITS - l * PER_LAYER)],
            folder: format!("blocks.{l}_conv"),
        })
        .collect();
    let units = layers
        .iter()
        .flat_map(|l| {
            (l.channels[0]..l.channels[1]).map(|channel| Unit {
                layer: l.name.clone(),
                channel,
            })
        })
        .collect();
    Plan {
        model: "scale.onnx".into(),
        model_sha256: "0".into(),
        images: Some("photos".into()),
        photo_size: 224,
        layers,
        settings: CatalogueConfig::default(),
        units,
    }
}

/// A record the size of a real one with dataset examples (9 + 9 photos named).
fn record(unit: &Unit) -> UnitRecord {
    let hits: Vec<Hit> = (0..9)
        .map(|k| Hit {
            image: PathBuf::from(format!("/data/imagenet/val/ILSVRC2012_val_{k:08}.JPEG")),
            score: k as f32,
            position: Some([k, k]),
            crop: Some([0, 0, 64, 64]),
        })
        .collect();
    let files = ["render", "thumb"]
        .iter()
        .map(|f| (f.to_string(), vec!["thumb.png".to_string()]))
        .collect();
    UnitRecord {
        layer: unit.layer.clone(),
        channel: unit.channel,
        seed: 0,
        batch: (0..16).collect(),
        activation: 1.0 + unit.channel as f32,
        negative_activation: Some(-1.0),
        diverse_activations: vec![0.5; 4],
        dead: false,
        examples: Some(ExampleSummary {
            top: hits.clone(),
            top_max: hits,
            photos: 50_000,
            ratio: Some(2.0),
            saliency_value: 0.5,
            saliency_method: "gradient".into(),
            scores: Some(Scores {
                activation_vs_photos: Some(1.5),
                path: (0..8)
                    .map(|k| PathPoint {
                        layer: format!("blocks.{k}/conv"),
                        render: 0.5,
                        baseline: 0.2,
                    })
                    .collect(),
                path_similarity: Some(0.3),
                feature_layer: "head.relu6".into(),
                plausibility: 1.2,
            }),
        }),
        files: UnitFiles(files),
        settings: CatalogueConfig::default(),
        backend: "flex".into(),
        seconds: 1.0,
    }
}

/// The process's peak resident memory, in MiB (Linux).
fn peak_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

#[test]
fn a_full_size_catalogue_indexes_in_seconds_and_bounded_memory() {
    let dir = std::env::temp_dir().join(format!("excite-scale-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (plan, store) = (plan(), Store::new(&dir));
    store.write_plan(&plan).unwrap();
    let mut thumb = Vec::new();
    image::RgbImage::from_pixel(96, 96, image::Rgb([90, 140, 200]))
        .write_to(
            &mut std::io::Cursor::new(&mut thumb),
            image::ImageFormat::Png,
        )
        .unwrap();
    let files = vec![("thumb.png".to_string(), thumb)];
    let started = Instant::now();
    // Every unit but one, written as a run writes them.
    for unit in &plan.units[1..] {
        assert!(store.write_unit(&plan, &record(unit), &files).unwrap());
    }
    let written = started.elapsed().as_secs_f64();
    let before = peak_mib();
    let started = Instant::now();
    let status = site::build(&store, &plan).unwrap();
    let seconds = started.elapsed().as_secs_f64();
    let grown = before.zip(peak_mib()).map(|(a, b)| b - a);
    eprintln!(
        "{UNITS} units: written in {written:.1}s, site built in {seconds:.1}s, peak memory grew {grown:?} MiB"
    );
    assert_eq!((status.total, status.done), (UNITS, UNITS - 1));
    assert_eq!(status.missing, vec!["blocks.0/conv:0".to_string()]);
    assert!(seconds < 60.0, "the site took {seconds:.1}s");
    // Holding every record at once would take 44,792 of them (~4 KiB each in JSON); one
    // layer at a time holds 1,280.
    if let Some(grown) = grown {
        assert!(
            grown < 48.0,
            "building the site grew memory by {grown:.0} MiB"
        );
    }
    check_layer_page(&dir);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A 1,280-unit layer page in chromium: every card there, few thumbnails fetched before
/// scrolling, no error; and the search box.
fn check_layer_page(site: &Path) {
    let Some(browser) = chromium() else { return };
    let checker = site.join("check.html");
    std::fs::write(&checker, CHECKER).unwrap();
    let started = Instant::now();
    let (result, log) = check_page(
        &browser,
        &checker,
        "layers/blocks.3_conv.html&&blocks.20/conv:1279&&blocks.34:5&&blocks.34/conv:1275&&blocks.0/conv:0",
    );
    let seconds = started.elapsed().as_secs_f64();
    let requested = result["requested"].as_u64().unwrap();
    eprintln!(
        "1,280-unit layer page: {requested} thumbnails loaded unscrolled, {seconds:.1}s in chromium"
    );
    assert_eq!(result["units"], PER_LAYER, "{}", result["title"]);
    assert_eq!(result["broken"], serde_json::json!([]));
    assert!(console_errors(&log).is_empty(), "{log}");
    assert!(
        requested > 0 && requested < 400,
        "lazy loading: {requested} of {PER_LAYER} thumbnails loaded before scrolling"
    );
    let search = &result["search"];
    assert_eq!(
        search[0]["href"], "units/blocks.20_conv/1279.html",
        "{search}"
    );
    // "blocks.34" names one layer by containment, but "blocks.3" would name several.
    assert_eq!(search[1]["href"], "units/blocks.34_conv/5.html", "{search}");
    assert_eq!(
        search[3]["error"], "blocks.0/conv:0 is not rendered yet",
        "{search}"
    );
    assert_eq!(
        search[2]["error"], "blocks.34/conv has channels 0..1272",
        "{search}"
    );
}
