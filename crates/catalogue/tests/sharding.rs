//! A unit's images do not depend on how the catalogue is sharded or rerun: the same layer made
//! whole, in 3 shards, and in 7 shards with one shard's unit deleted and the shard rerun, gives
//! the same bytes for every file of every unit.

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use excite_catalogue::{CatalogueConfig, LayerSelection, PhotoSet, Plan, Shard, Store, run};
use excite_model::OnnxModel;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("excite-sharding-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Every file of every unit folder below `root`, by path relative to it, with its bytes.
fn unit_files(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.join("units")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "png" || e == "jpg") {
                let bytes = std::fs::read(&path).unwrap();
                out.push((path.strip_prefix(root).unwrap().to_path_buf(), bytes));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn images_are_the_same_however_the_catalogue_is_sharded_or_rerun() {
    let device = Device::flex().autodiff();
    let tiny = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/tiny_cnn.onnx");
    let model = OnnxModel::load(&tiny, &device).unwrap();
    let config = CatalogueConfig {
        size: 32,
        steps: 2,
        batch: 4,
        diverse: 0,
        negative: false,
        ..CatalogueConfig::default()
    };
    let selection = LayerSelection::parse("add").unwrap();
    let plan = Plan::new(
        &model,
        "tiny",
        &selection,
        Some("0..22".parse().unwrap()),
        &config,
    )
    .unwrap();
    assert_eq!(plan.batches().len(), 6, "22 units in batches of 4");
    let make = |name: &str, shards: usize| {
        let store = Store::new(scratch(name));
        store.write_plan(&plan).unwrap();
        for index in 0..shards {
            let shard = Shard {
                index,
                count: shards,
            };
            run(&model, &plan, shard, &store, &PhotoSet::default(), &device).unwrap();
        }
        store
    };
    let whole = make("whole", 1);
    let three = make("three", 3);
    let seven = make("seven", 7);
    // One shard's task dies after some of its units: delete one from the middle of a batch
    // and rerun that shard.
    let shard = Shard { index: 2, count: 7 };
    let unit = &plan.units[plan.shard_units(shard).start + 1];
    std::fs::remove_dir_all(seven.unit_dir(&plan, unit)).unwrap();
    let rerun = run(&model, &plan, shard, &seven, &PhotoSet::default(), &device).unwrap();
    assert_eq!(rerun.stored, 1, "only the missing unit is stored again");
    let expected = unit_files(whole.root());
    assert_eq!(expected.len(), 2 * 22, "a render and a thumbnail per unit");
    for store in [&three, &seven] {
        let got = unit_files(store.root());
        assert_eq!(got.len(), expected.len());
        for ((path, a), (_, b)) in expected.iter().zip(&got) {
            assert!(
                a == b,
                "{} differs in {}",
                path.display(),
                store.root().display()
            );
        }
    }
    for store in [whole, three, seven] {
        let _ = std::fs::remove_dir_all(store.root());
    }
}

/// The one-call form makes the units and the site.
#[test]
fn make_plans_renders_and_builds_the_site_in_one_call() {
    use excite_catalogue::{Catalogue, make};
    let device = Device::flex().autodiff();
    let tiny = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/tiny_cnn.onnx");
    let model = OnnxModel::load(&tiny, &device).unwrap();
    let out = scratch("make");
    let config = CatalogueConfig {
        size: 32,
        steps: 2,
        diverse: 0,
        ..CatalogueConfig::default()
    };
    let catalogue = Catalogue::new(&out, "conv1")
        .unwrap()
        .with_channels("0..3".parse().unwrap())
        .with_config(config);
    let summary = make(&model, &catalogue, &device).unwrap();
    assert_eq!((summary.stored, summary.skipped), (3, 0));
    assert!(out.join("index.html").is_file() && out.join("units/conv1/2/render.png").is_file());
    let again = make(&model, &catalogue, &device).unwrap();
    assert_eq!(
        (again.stored, again.skipped),
        (0, 3),
        "a second call finds them done"
    );
    let _ = std::fs::remove_dir_all(out);
}
