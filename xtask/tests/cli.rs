//! The command line: bad input gives one readable error line and a non-zero exit; an
//! interrupted `render-layer` resumes to exactly the images of an uninterrupted run.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("excite-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn xtask(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .output()
        .unwrap()
}

/// Runs a command that must fail, and returns its single error line.
fn fails(args: &[&str]) -> String {
    let out = xtask(args);
    assert!(!out.status.success(), "{args:?} succeeded");
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{args:?} printed {stderr:?}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    lines[0].to_string()
}

#[test]
fn bad_input_is_one_readable_line() {
    let tiny = repo("testdata/tiny_cnn.onnx");
    let tiny = tiny.to_str().unwrap();
    let line = fails(&["layers", "--model", "no/such/model.onnx"]);
    assert!(line.contains("cannot read model file"), "{line}");
    let line = fails(&[
        "render-layer",
        "--model",
        tiny,
        "--layer",
        "ad",
        "--steps",
        "1",
    ]);
    assert!(line.contains("did you mean add"), "{line}");
    let line = fails(&[
        "render-layer",
        "--model",
        tiny,
        "--layer",
        "add",
        "--channels",
        "40..60",
    ]);
    assert!(line.contains("the layer has channels 0..48"), "{line}");
    let line = fails(&[
        "render",
        "--model",
        tiny,
        "--objective",
        "add:x",
        "--steps",
        "1",
    ]);
    assert!(line.contains("cannot parse objective"), "{line}");
    let line = fails(&[
        "classify",
        "--model",
        tiny,
        "--image",
        repo("Cargo.toml").to_str().unwrap(),
    ]);
    assert!(line.contains("bad image"), "{line}");
    let file = scratch("not-a-dir").join("plain-file");
    std::fs::write(&file, "x").unwrap();
    let out = file.join("renders");
    let line = fails(&[
        "render-layer",
        "--model",
        tiny,
        "--layer",
        "add",
        "--channels",
        "0..1",
        "--steps",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(line.contains("cannot create"), "{line}");
}

fn render_layer_args<'a>(tiny: &'a str, out: &'a str) -> Vec<&'a str> {
    vec![
        "render-layer",
        "--model",
        tiny,
        "--layer",
        "add",
        "--channels",
        "0..6",
        "--batch",
        "2",
        "--size",
        "64",
        "--steps",
        "300",
        "--out",
        out,
    ]
}

fn channels_done(record: &Path) -> usize {
    std::fs::read_to_string(record)
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .map_or(0, |json| json["channels"].as_array().map_or(0, Vec::len))
}

#[test]
fn interrupted_render_layer_resumes_to_the_same_images() {
    let tiny = repo("testdata/tiny_cnn.onnx");
    let tiny = tiny.to_str().unwrap();
    let whole = scratch("whole");
    let out = xtask(&render_layer_args(tiny, whole.to_str().unwrap()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(channels_done(&whole.join("record.json")), 6);

    let resumed = scratch("resumed");
    let mut child = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(render_layer_args(tiny, resumed.to_str().unwrap()))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while channels_done(&resumed.join("record.json")) == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no batch finished"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let done = channels_done(&resumed.join("record.json"));
    assert!(done < 6, "the run finished before it could be interrupted");
    // No temporary or partial files are left behind as results.
    for entry in std::fs::read_dir(&resumed).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            !name.ends_with(".png") || image::open(resumed.join(&name)).is_ok(),
            "{name} is corrupt"
        );
    }

    let mut args = render_layer_args(tiny, resumed.to_str().unwrap());
    args.push("--resume");
    let out = xtask(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for c in 0..6 {
        let name = format!("channel_{c:04}.png");
        let a = image::open(whole.join(&name)).unwrap().to_rgb8();
        let b = image::open(resumed.join(&name)).unwrap().to_rgb8();
        assert!(a == b, "{name} differs after resuming");
    }
    assert_eq!(channels_done(&resumed.join("record.json")), 6);
}

#[test]
fn a_failing_batch_is_recorded_and_the_others_still_run() {
    let tiny = repo("testdata/tiny_cnn.onnx");
    let out = scratch("nan");
    // A learning rate this large overflows the spectrum to infinity: the objective turns NaN.
    let result = xtask(&[
        "render-layer",
        "--model",
        tiny.to_str().unwrap(),
        "--layer",
        "add",
        "--channels",
        "0..4",
        "--batch",
        "2",
        "--size",
        "32",
        "--steps",
        "5",
        "--lr",
        "1e38",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!result.status.success());
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(
        stderr.contains("channels [0, 1] failed") && stderr.contains("channels [2, 3] failed"),
        "{stderr}"
    );
    assert!(
        stderr
            .lines()
            .last()
            .unwrap()
            .contains("error: 4 channels failed"),
        "{stderr}"
    );
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("record.json")).unwrap()).unwrap();
    let failures = record["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 4);
    assert!(
        failures[0][1].as_str().unwrap().contains("NaN"),
        "{failures:?}"
    );
}
