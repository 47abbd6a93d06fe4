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
fn a_backend_that_is_unknown_or_not_compiled_in_is_one_readable_line() {
    let line = fails(&["--backend", "cuda", "layers"]);
    assert!(line.contains("unknown backend `cuda`"), "{line}");
    assert!(
        line.contains("flex, ndarray, wgpu, vulkan, tch, tch-cuda"),
        "{line}"
    );
    let missing = excite::viz::Backend::ALL
        .into_iter()
        .find(|b| !b.is_compiled());
    if let Some(backend) = missing {
        let line = fails(&["--backend", backend.name(), "layers"]);
        assert!(line.contains("is not compiled in"), "{line}");
        assert!(
            line.contains(&format!("--features {}", backend.feature())),
            "{line}"
        );
    }
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
    let photo = repo("testdata/chelsea_224.png");
    let photo = photo.to_str().unwrap();
    let line = fails(&[
        "saliency",
        "--model",
        tiny,
        "--image",
        photo,
        "--objective",
        "logit:1",
        "--method",
        "guided",
    ]);
    assert!(
        line.contains("invalid value 'guided'") && line.contains("guided-backprop, grad-cam"),
        "{line}"
    );
    let line = fails(&[
        "saliency",
        "--model",
        tiny,
        "--image",
        photo,
        "--objective",
        "logit:1",
        "--method",
        "grad-cam",
        "--layer",
        "ad",
    ]);
    assert!(line.contains("did you mean add"), "{line}");
    let line = fails(&[
        "saliency",
        "--model",
        tiny,
        "--image",
        photo,
        "--objective",
        "logit:1",
        "--method",
        "grad-cam",
    ]);
    assert!(
        line.contains("needs a convolutional or token layer"),
        "{line}"
    );
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
    // Every file byte for byte: the PNGs, the grid, and the record but for its wall times.
    for c in 0..6 {
        let name = format!("channel_{c:04}.png");
        let (a, b) = (whole.join(&name), resumed.join(&name));
        assert!(
            std::fs::read(a).unwrap() == std::fs::read(b).unwrap(),
            "{name} differs after resuming"
        );
    }
    assert!(
        std::fs::read(whole.join("grid.png")).unwrap()
            == std::fs::read(resumed.join("grid.png")).unwrap(),
        "the grid differs after resuming"
    );
    assert_eq!(
        without_times(&whole.join("record.json")),
        without_times(&resumed.join("record.json")),
        "the records differ after resuming"
    );
}

/// A record's text with its wall times (`"seconds"`, the only fields a resumed run cannot
/// reproduce) zeroed.
fn without_times(record: &Path) -> String {
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(record).unwrap()).unwrap();
    json["seconds"] = 0.into();
    for channel in json["channels"].as_array_mut().unwrap() {
        channel["seconds"] = 0.into();
    }
    serde_json::to_string_pretty(&json).unwrap()
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
    let reason = failures[0][1].as_str().unwrap();
    assert!(
        reason.contains("NaN")
            && reason.contains("the first non-finite value is in the input image"),
        "{failures:?}"
    );
}

/// Renders whose PNGs are committed in `testdata/golden/`, made by the CLI before the library's
/// API was redesigned, when the transforms were applied one after the other (`--variable-size`
/// now): `(file, arguments)`. The same seed and settings must still give the same bytes.
const GOLDEN: &[(&str, &[&str])] = &[
    (
        "render_sum.png",
        &[
            "render",
            "--model",
            "testdata/tiny_cnn.onnx",
            "--objective",
            "add:1 + 0.5*diversity:add - 0.05*total_variation",
            "--batch",
            "2",
            "--size",
            "32",
            "--steps",
            "24",
            "--seed",
            "3",
        ],
    ),
    (
        "render_phase.png",
        &[
            "render",
            "--model",
            "testdata/tiny_cnn.onnx",
            "--objective",
            "neuron:add:3@2,3",
            "--param",
            "phase",
            "--size",
            "32",
            "--steps",
            "16",
        ],
    ),
    (
        "render_pixels.png",
        &[
            "render",
            "--model",
            "testdata/tiny_cnn.onnx",
            "--objective",
            "add:7",
            "--param",
            "pixels",
            "--size",
            "32",
            "--steps",
            "16",
            "--no-transforms",
        ],
    ),
    (
        "render_logit.png",
        &[
            "render",
            "--objective",
            "logit:282",
            "--size",
            "64",
            "--steps",
            "4",
        ],
    ),
    (
        "render_dream.png",
        &[
            "render",
            "--objective",
            "deepdream:blocks.2",
            "--start-image",
            "testdata/chelsea_224.png",
            "--steps",
            "3",
        ],
    ),
];

/// Checks a golden render against its committed image (`testdata/golden/FILE`), within the
/// rounding of matrix products: the gemm kernels' summation order depends on the CPU (its
/// vector width, its caches), and a few steps of ascent carry that into the pixels. Measured
/// between AVX2, AVX-512 Intel and AVX-512 AMD machines: at most 3 levels of 255 apart, 0.21
/// on average; a changed setting (another seed, the constant-size path) moves them by 10 or
/// more on average.
fn assert_golden(png: &Path, file: &str) {
    let decode = |path: &Path| {
        image::open(path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .to_rgba8()
    };
    let (got, want) = (
        decode(png),
        decode(&repo(&format!("testdata/golden/{file}"))),
    );
    assert_eq!(got.dimensions(), want.dimensions(), "{file}: size");
    let diffs: Vec<u8> = got
        .as_raw()
        .iter()
        .zip(want.as_raw())
        .map(|(a, b)| a.abs_diff(*b))
        .collect();
    let max = diffs.iter().copied().max().unwrap_or(0);
    let mean = diffs.iter().map(|&d| f64::from(d)).sum::<f64>() / diffs.len() as f64;
    assert!(
        max <= 8 && mean <= 1.0,
        "{file} differs from its committed image: by up to {max}/255, {mean:.2} on average"
    );
}

#[test]
fn same_settings_render_the_committed_images() {
    let out = scratch("golden");
    for (file, args) in GOLDEN {
        let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        for arg in args.iter_mut().filter(|a| a.starts_with("testdata/")) {
            *arg = repo(arg).to_string_lossy().into_owned();
        }
        let png = out.join(file);
        args.extend(["--out".to_string(), png.to_string_lossy().into_owned()]);
        args.push("--variable-size".to_string());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = xtask(&args);
        assert!(
            run.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        assert_golden(&png, file);
    }
    let (tiny, layer) = (repo("testdata/tiny_cnn.onnx"), out.join("layer"));
    let mut args = render_layer_args(tiny.to_str().unwrap(), layer.to_str().unwrap());
    let n = args.len();
    (args[n - 5], args[n - 3]) = ("32", "24"); // --size, --steps
    args.extend(["--seed", "3", "--variable-size"]);
    assert!(xtask(&args).status.success());
    for c in 0..6 {
        let file = format!("channel_{c:04}.png");
        assert_golden(&out.join("layer").join(&file), &format!("layer/{file}"));
    }
}

/// The golden renders that also run on the default path (the transforms as one resampling at
/// a constant size), committed in `testdata/golden/constant/`.
const CONSTANT: [&str; 3] = ["render_sum.png", "render_logit.png", "render_dream.png"];

#[test]
fn the_constant_size_path_renders_the_committed_images() {
    let out = scratch("golden-constant");
    for (file, args) in GOLDEN.iter().filter(|(f, _)| CONSTANT.contains(f)) {
        let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        for arg in args.iter_mut().filter(|a| a.starts_with("testdata/")) {
            *arg = repo(arg).to_string_lossy().into_owned();
        }
        let png = out.join(file);
        args.extend(["--out".to_string(), png.to_string_lossy().into_owned()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = xtask(&args);
        assert!(
            run.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        assert_golden(&png, &format!("constant/{file}"));
    }
}

#[test]
fn a_record_resumes_only_its_own_run_and_repairs_damaged_images() {
    let dir = scratch("mix");
    let model = dir.join("tiny.onnx");
    std::fs::copy(repo("testdata/tiny_cnn.onnx"), &model).unwrap();
    let out = dir.join("out");
    let (model_arg, out_arg) = (model.to_str().unwrap(), out.to_str().unwrap());
    let args = |extra: &[&'static str]| {
        let mut args = vec![
            "render-layer",
            "--model",
            model_arg,
            "--layer",
            "add",
            "--channels",
            "0..2",
            "--batch",
            "2",
            "--size",
            "32",
            "--steps",
            "4",
            "--out",
            out_arg,
        ];
        args.extend_from_slice(extra);
        args
    };
    assert!(xtask(&args(&[])).status.success());
    // An emptied image is rendered again on resume, to the same bytes.
    let image = out.join("channel_0001.png");
    let first = std::fs::read(&image).unwrap();
    std::fs::write(&image, b"").unwrap();
    assert!(xtask(&args(&["--resume"])).status.success());
    assert!(std::fs::read(&image).unwrap() == first);
    // The same file name with a manifest added is another model: no resuming.
    std::fs::write(
        dir.join("tiny.toml"),
        "name = \"tiny\"\nonnx = \"tiny.onnx\"\ninput_size = 32\n[normalization]\nmean = [127.0, 127.0, 127.0]\nstd = [128.0, 128.0, 128.0]\n",
    )
    .unwrap();
    let line = fails(&args(&["--resume"]));
    assert!(line.contains("other settings"), "{line}");
    // A corrupt record blocks resuming, with advice, but not a fresh run.
    std::fs::write(out.join("record.json"), "{ not json").unwrap();
    let line = fails(&args(&["--resume"]));
    assert!(line.contains("render afresh"), "{line}");
    assert!(xtask(&args(&[])).status.success());
}

#[test]
fn outputs_stay_where_they_belong() {
    let dir = scratch("paths");
    let tiny = repo("testdata/tiny_cnn.onnx");
    // `render` checks its output before rendering, and never replaces a link.
    let link = dir.join("link.png");
    std::os::unix::fs::symlink("/dev/null", &link).unwrap();
    let line = fails(&[
        "render",
        "--model",
        tiny.to_str().unwrap(),
        "--objective",
        "add:1",
        "--steps",
        "1",
        "--out",
        link.to_str().unwrap(),
    ]);
    assert!(line.contains("not a regular file"), "{line}");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let line = fails(&[
        "render",
        "--model",
        tiny.to_str().unwrap(),
        "--objective",
        "add:1",
        "--lr",
        "inf",
        "--out",
        dir.join("x.png").to_str().unwrap(),
    ]);
    assert!(line.contains("learning rate"), "{line}");
}

#[test]
fn sizes_and_memory_are_checked_before_any_work() {
    let tiny = repo("testdata/tiny_cnn.onnx");
    let out = scratch("sizes").join("x.png");
    let render = |extra: &[&str]| {
        let mut args = vec![
            "render",
            "--model",
            tiny.to_str().unwrap(),
            "--objective",
            "add:1",
            "--steps",
            "1",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        fails(&args)
    };
    let line = render(&["--size", "100000"]);
    assert!(line.contains("sides in 1..="), "{line}");
    let line = render(&["--size", "8000", "--batch", "16"]);
    assert!(line.contains("GiB"), "{line}");
    let line = render(&["--size", "256", "--batch", "64", "--max-memory", "0.01"]);
    assert!(line.contains("above the limit"), "{line}");
    let line = render(&["--size", "0"]);
    assert!(line.contains("sides in 1..="), "{line}");
    let line = render(&["--max-memory=-1"]);
    assert!(
        line.contains("memory limit must be a positive number"),
        "{line}"
    );
    let huge = repo("testdata/broken/input_huge.onnx");
    let line = fails(&["layers", "--model", huge.to_str().unwrap()]);
    assert!(line.contains("above the supported"), "{line}");
}

#[test]
fn bad_values_are_refused_before_anything_is_recorded() {
    let dir = scratch("values");
    let tiny = repo("testdata/tiny_cnn.onnx");
    let out = dir.join("out");
    let line = fails(&[
        "render-layer",
        "--model",
        tiny.to_str().unwrap(),
        "--layer",
        "add",
        "--lr",
        "inf",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(line.contains("learning rate"), "{line}");
    assert!(!out.join("record.json").exists());
    // A FIFO as the model or the start image is refused at once, not waited on.
    let fifo = dir.join("fifo");
    if Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success())
    {
        let line = fails(&["layers", "--model", fifo.to_str().unwrap()]);
        assert!(line.contains("not a regular file"), "{line}");
        let line = fails(&[
            "render",
            "--model",
            tiny.to_str().unwrap(),
            "--objective",
            "add:1",
            "--start-image",
            fifo.to_str().unwrap(),
            "--out",
            dir.join("x.png").to_str().unwrap(),
        ]);
        assert!(line.contains("not a regular file"), "{line}");
    }
}
