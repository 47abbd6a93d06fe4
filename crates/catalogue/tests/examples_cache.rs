//! A layer's dataset examples are ranked once per photo set: the shards and a rerun for one
//! missing unit read them from the catalogue's folder; another photo set ranks again.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use burn::tensor::Device;
use excite_catalogue::{CatalogueConfig, LayerSelection, PhotoSet, Plan, Shard, Store, run};
use excite_core::{Observer, Progress};
use excite_model::OnnxModel;
use excite_views::photos::list_photos;

#[test]
fn photos_are_ranked_once_per_layer_and_photo_set() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let device = Device::flex().autodiff();
    let model = OnnxModel::load(root.join("testdata/tiny_cnn.onnx"), &device).unwrap();
    let listed = list_photos(&root.join("testdata/demo_images")).unwrap();
    let photos = PhotoSet::new(&listed).unwrap();
    let ranked = Arc::new(AtomicUsize::new(0));
    let counter = ranked.clone();
    let config = CatalogueConfig {
        size: 32,
        steps: 1,
        batch: 4,
        diverse: 0,
        negative: false,
        observer: Observer::new(move |p| {
            if let Progress::Photos { done, total, .. } = p
                && done == total
            {
                counter.fetch_add(1, Ordering::SeqCst);
            }
        }),
        ..CatalogueConfig::default()
    };
    let selection = LayerSelection::parse("add").unwrap();
    let plan = Plan::new(
        &model,
        "tiny",
        &selection,
        Some("0..8".parse().unwrap()),
        &config,
    )
    .unwrap();
    let dir = std::env::temp_dir().join(format!("excite-examples-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = Store::new(&dir);
    store.write_plan(&plan).unwrap();
    let shards = |count| {
        (0..count)
            .map(|index| {
                let shard = Shard { index, count };
                run(&model, &plan, shard, &store, &photos, &device)
                    .unwrap()
                    .stored
            })
            .sum::<usize>()
    };
    assert_eq!(shards(2), 8);
    assert_eq!(
        ranked.load(Ordering::SeqCst),
        1,
        "the second shard reads the first's ranking"
    );
    let cached: Vec<_> = std::fs::read_dir(dir.join("examples")).unwrap().collect();
    assert_eq!(
        cached.len(),
        1,
        "one file per layer and photo set, no lock left"
    );
    // A rerun for one missing unit does not rank again, and gives the unit its examples.
    let unit = &plan.units[5];
    std::fs::remove_dir_all(store.unit_dir(&plan, unit)).unwrap();
    assert_eq!(shards(1), 1);
    assert_eq!(ranked.load(Ordering::SeqCst), 1);
    let record = store.read_unit(&plan, unit).unwrap().unwrap();
    assert!(record.examples.is_some(), "the rerun unit has its examples");
    // Another photo set (one photo fewer) is ranked anew.
    std::fs::remove_dir_all(store.unit_dir(&plan, unit)).unwrap();
    let fewer = PhotoSet::new(&listed[1..]).unwrap();
    run(&model, &plan, Shard::WHOLE, &store, &fewer, &device).unwrap();
    assert_eq!(ranked.load(Ordering::SeqCst), 2);
    let _ = std::fs::remove_dir_all(&dir);
}
