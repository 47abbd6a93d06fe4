//! Every model exported by the real exporters (`testdata/exported/`) works from the command
//! line as a user would use it: `layers` lists its deep layer, `classify` gives five classes
//! of the photo at the model's own input size and layout, and `render-layer` renders the
//! deep layer (two channels, four steps) into PNGs.

use std::path::{Path, PathBuf};
use std::process::Command;

fn exported() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/exported")
}

/// Runs the CLI; its stdout, or the failure with stderr.
fn xtask(args: &[&str]) -> Result<String, String> {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() && !stderr.contains("warning") {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!("{args:?}: {stderr}"))
    }
}

/// The commands on one model; the failures.
fn check(stem: &str, deep: &str, logits: bool, out: &Path) -> Vec<String> {
    let model = exported().join(format!("{stem}.onnx"));
    let model = model.to_str().unwrap();
    let photo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/chelsea_224.png");
    let mut failures = Vec::new();
    match xtask(&["layers", "--model", model]) {
        Ok(text) if text.lines().any(|l| l.starts_with(deep)) => {}
        Ok(text) => failures.push(format!("{stem}: layers lacks {deep}:\n{text}")),
        Err(e) => failures.push(e),
    }
    match xtask(&[
        "classify",
        "--model",
        model,
        "--image",
        photo.to_str().unwrap(),
    ]) {
        Ok(text) if logits && text.lines().count() == 5 && text.contains('%') => {}
        Ok(text) => failures.push(format!("{stem}: classify printed {text}")),
        // A transformer exported without its head gives tokens, which are no class logits.
        Err(e) if !logits && e.lines().count() == 1 && e.contains("not class logits") => {}
        Err(e) => failures.push(e),
    }
    let dir = out.join(stem);
    let result = xtask(&[
        "render-layer",
        "--model",
        model,
        "--layer",
        deep,
        "--channels",
        "0..2",
        "--steps",
        "4",
        "--out",
        dir.to_str().unwrap(),
    ]);
    match result {
        Ok(_) if dir.join("grid.png").is_file() && dir.join("record.json").is_file() => {}
        Ok(text) => failures.push(format!("{stem}: render-layer wrote no grid: {text}")),
        Err(e) => failures.push(e),
    }
    failures
}

#[test]
fn every_exported_model_lists_classifies_and_renders() {
    let out = std::env::temp_dir().join(format!("excite-exported-{}", std::process::id()));
    let mut failures = Vec::new();
    let mut count = 0;
    let mut entries: Vec<PathBuf> = std::fs::read_dir(exported())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    entries.sort();
    for path in entries {
        let record: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        let deep = record["deep_layer"].as_str().unwrap();
        let logits = record["graph_output"] != "tokens";
        failures.extend(check(&stem, deep, logits, &out));
        count += 1;
    }
    let _ = std::fs::remove_dir_all(&out);
    assert!(count >= 50, "only {count} exported models");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
