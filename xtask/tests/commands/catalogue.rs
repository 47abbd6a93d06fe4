//! `catalogue` on the tiny model: sharded runs that skip finished units, `catalogue index`
//! reporting what is missing, and the site checked in a real headless browser (Debian's
//! `chromium`): a screenshot of each kind of page, every unit card present, no broken image
//! or link, no console error.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::SystemTime;

pub(crate) fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

fn xtask(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .output()
        .unwrap()
}

fn ok(args: &[&str]) -> String {
    let out = xtask(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The tiny model's `conv1` (16 units) and `gap` (the first 8 of 144), fast settings.
fn catalogue_args<'a>(out: &'a str, tiny: &'a str, photos: &'a str) -> Vec<&'a str> {
    vec![
        "catalogue",
        "--model",
        tiny,
        "--layers",
        "conv1,gap",
        "--channels",
        "0..8",
        "--size",
        "32",
        "--steps",
        "6",
        "--batch",
        "4",
        "--diverse",
        "2",
        "--images",
        photos,
        "--out",
        out,
    ]
}

fn modified(path: &Path) -> SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

#[test]
fn shards_skip_finished_units_and_the_index_reports_missing_ones() {
    let dir = std::env::temp_dir().join(format!("excite-catalogue-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (out, tiny, photos) = (
        dir.to_str().unwrap(),
        repo("testdata/tiny_cnn.onnx"),
        repo("testdata/demo_images"),
    );
    let args = catalogue_args(out, tiny.to_str().unwrap(), photos.to_str().unwrap());
    let with = |extra: &[&'static str]| [args.clone(), extra.to_vec()].concat();
    // Shard 1 of 2 alone: the site is incomplete and `index` says so, naming a unit.
    let line = ok(&with(&["--shard", "1/2"]));
    assert!(
        line.contains("16 units in 2 layers; shard 1/2: 8 units"),
        "{line}"
    );
    let index = xtask(&["catalogue", "index", "--out", out]);
    assert_eq!(index.status.code(), Some(1));
    let err = String::from_utf8_lossy(&index.stderr);
    assert!(
        err.contains("8 of 16 units are missing (first: conv1:0)"),
        "{err}"
    );
    let status: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("status.json")).unwrap()).unwrap();
    assert_eq!(status["done"], 8);
    let done = dir.join("units/gap/3/unit.json");
    let before = modified(&done);
    // Shard 0 fills the rest; rerunning shard 1 skips all of its units.
    ok(&with(&["--shard", "0/2"]));
    let line = ok(&with(&["--shard", "1/2"]));
    assert!(line.contains("8 finished, 0 to render"), "{line}");
    assert_eq!(modified(&done), before, "a finished unit was rewritten");
    let line = ok(&["catalogue", "index", "--out", out]);
    assert!(line.contains("16 of 16 units"), "{line}");
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&done).unwrap()).unwrap();
    assert_eq!(record["diverse_activations"].as_array().unwrap().len(), 2);
    assert!(record["examples"]["top"].as_array().unwrap().len() == 9);
    let value = |key: &str| record[key].as_f64().unwrap();
    assert!(
        value("negative_activation") < value("activation"),
        "{record}"
    );
    let unit = dir.join("units/gap/3");
    let diverse = |k: usize| std::fs::read(unit.join(format!("diverse_{k}.png"))).unwrap();
    assert_ne!(
        diverse(0),
        diverse(1),
        "the diverse renders are the same image"
    );
    // A different setting in the same folder is refused, before any work.
    let err = xtask(&[args.clone(), vec!["--seed", "9"]].concat());
    assert!(!err.status.success());
    assert!(String::from_utf8_lossy(&err.stderr).contains("other settings"));
    check_in_browser(&dir);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--param maco`: each unit's pictures are the part of its canvas that the crops saw, at the
/// model's input size, made with MACO's own learning rate; `--size` is refused.
#[test]
fn a_maco_catalogue_shows_what_the_crops_saw_at_the_input_size() {
    let dir = std::env::temp_dir().join(format!("excite-catalogue-maco-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (out, tiny) = (dir.to_str().unwrap(), repo("testdata/tiny_cnn.onnx"));
    let args = [
        "catalogue",
        "--model",
        tiny.to_str().unwrap(),
        "--layers",
        "conv2",
        "--channels",
        "0..4",
        "--steps",
        "8",
        "--batch",
        "4",
        "--diverse",
        "2",
        "--param",
        "maco",
        "--out",
        out,
    ];
    let err = xtask(&[&args[..], &["--size", "64"]].concat());
    assert!(!err.status.success());
    assert!(
        String::from_utf8_lossy(&err.stderr).contains("--size is for `render`"),
        "{}",
        String::from_utf8_lossy(&err.stderr)
    );
    ok(&args);
    let unit = dir.join("units/conv2/1");
    for file in [
        "render.png",
        "negative.png",
        "diverse_0.png",
        "diverse_1.png",
    ] {
        let image = image::open(unit.join(file)).unwrap();
        assert_eq!((image.width(), image.height()), (32, 32), "{file}");
    }
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(unit.join("unit.json")).unwrap()).unwrap();
    assert_eq!(record["settings"]["param"], "maco");
    assert_eq!(record["settings"]["learning_rate"], 1.0);
    assert!(
        record["settings"]["spectrum"].is_null(),
        "the tiny model has no spectrum file"
    );
    let value = |key: &str| record[key].as_f64().unwrap();
    assert!(
        value("negative_activation") < value("activation"),
        "{record}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The page that loads a site page in a frame, waits for every image (lazy ones made eager)
/// and writes what it found into its own DOM as JSON, for `--dump-dom`.
pub(crate) const CHECKER: &str = r#"<!doctype html><meta charset="utf-8"><body><script>
const frame = document.createElement("iframe");
frame.width = 1200; frame.height = 900;
const [target, ...queries] = location.hash.slice(1).split("&&");
frame.onload = async () => {
  const doc = frame.contentDocument;
  const win = frame.contentWindow;
  // Images shown a second after the page loaded, unscrolled (lazy ones only near the viewport).
  await new Promise(r => setTimeout(r, 1000));
  const requested = [...doc.images].filter(i => i.complete && i.naturalWidth).length;
  const search = queries.map(q => win.findUnit(decodeURIComponent(q)));
  // A layer page's "Sort by": by activation, the grid must come out in descending order.
  const select = doc.querySelector("select.sort");
  let sorted = null;
  if (select) {
    select.value = "activation";
    select.dispatchEvent(new Event("change"));
    const values = [...doc.querySelectorAll(".grid .unit[data-activation]")].map(u => parseFloat(u.dataset.activation));
    sorted = values.length > 1 && values.every((v, i) => i === 0 || values[i - 1] >= v);
  }
  const images = [...doc.images];
  images.forEach(i => i.loading = "eager");
  await Promise.all(images.map(i => i.complete ? 0 : new Promise(r => { i.onload = i.onerror = r; })));
  const result = {
    title: doc.title,
    requested,
    search,
    sorted,
    images: images.length,
    broken: images.filter(i => !i.naturalWidth).map(i => i.getAttribute("src")),
    layers: doc.querySelectorAll("tr.layer").length,
    units: doc.querySelectorAll(".unit").length,
    missing: doc.querySelectorAll(".unit.missing").length,
    links: [...doc.querySelectorAll("a[href]")].map(a => a.getAttribute("href")),
  };
  const pre = document.createElement("pre");
  pre.id = "result";
  pre.textContent = JSON.stringify(result);
  document.body.appendChild(pre);
};
frame.src = target;
document.body.appendChild(frame);
</script>"#;

/// A page with a console error and an uncaught exception, which the console check must catch.
const BAD_PAGE: &str = r#"<!doctype html><title>bad</title><body>bad
<script>console.error("a deliberate console error"); undefined_function();</script>"#;

/// The browser log's console lines that report an error or an uncaught exception.
pub(crate) fn console_errors(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.contains("CONSOLE"))
        .filter(|l| l.contains("Uncaught") || l.to_lowercase().contains("error"))
        .map(String::from)
        .collect()
}

/// Debian's chromium, or `None` (CI installs it; elsewhere the browser check is skipped
/// with a note, unless `CI` is set).
pub(crate) fn chromium() -> Option<PathBuf> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .map(|name| Path::new("/usr/bin").join(name))
        .find(|p| p.exists());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have chromium to test the site (apt-get install chromium)"
        );
        eprintln!("note: no chromium; the site's browser checks are skipped");
    }
    found
}

pub(crate) fn browse(browser: &Path, args: &[&str]) -> Output {
    Command::new("timeout")
        .arg("120")
        .arg(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--allow-file-access-from-files",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=10000",
            // Headless chromium loads lazy images at once unless told to behave as a browser.
            "--blink-settings=lazyLoadEnabled=true",
            "--window-size=1200,900",
        ])
        .args(args)
        .output()
        .unwrap()
}

/// What the checker page (`checker`, written into the site) found on `target` (a page of
/// the site, then `&&`-separated queries for its search box), and the browser's log.
pub(crate) fn check_page(
    browser: &Path,
    checker: &Path,
    target: &str,
) -> (serde_json::Value, String) {
    let url = format!("file://{}#{target}", checker.display());
    let out = browse(browser, &["--dump-dom", &url]);
    let dom = String::from_utf8_lossy(&out.stdout);
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = dom
        .split("<pre id=\"result\">")
        .nth(1)
        .and_then(|rest| rest.split("</pre>").next())
        .unwrap_or_else(|| panic!("{target}: the checker found no page:\n{dom}\n{log}"));
    let result = serde_json::from_str(&json.replace("&quot;", "\"").replace("&amp;", "&")).unwrap();
    (result, log)
}

/// Every page kind: DOM checks through the checker page, console errors from the browser's
/// log, links that resolve to files, and a screenshot in `target/site-screenshots/`.
fn check_in_browser(site: &Path) {
    let Some(browser) = chromium() else { return };
    let checker = site.join("check.html");
    std::fs::write(&checker, CHECKER).unwrap();
    let shots = repo("target/site-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    // The console check is live: a page that logs an error and throws must be caught by it.
    std::fs::write(site.join("bad.html"), BAD_PAGE).unwrap();
    let url = format!("file://{}#bad.html", checker.display());
    let caught = console_errors(&String::from_utf8_lossy(
        &browse(&browser, &["--dump-dom", &url]).stderr,
    ));
    assert!(
        caught.len() >= 2,
        "the console check missed a logged error and an uncaught one: {caught:?}"
    );
    std::fs::remove_file(site.join("bad.html")).unwrap();
    let pages = [
        ("index.html", "index"),
        ("layers/conv1.html", "layer"),
        ("layers/gap.html", "layer_gap"),
        ("units/gap/3.html", "unit"),
    ];
    for (page, name) in pages {
        // The search box, asked from the index: a unit, a layer, and two mistakes.
        let queries = if name == "index" {
            "&&gap:3&&conv1&&nope:1&&gap:99"
        } else {
            ""
        };
        let (result, log) = check_page(&browser, &checker, &format!("{page}{queries}"));
        assert_eq!(result["broken"], serde_json::json!([]), "{page}: {result}");
        let errors = console_errors(&log);
        assert!(errors.is_empty(), "{page}: console: {errors:?}");
        match name {
            "index" => {
                assert_eq!(result["layers"], 2, "{result}");
                let search = &result["search"];
                assert_eq!(search[0]["href"], "units/gap/3.html", "{search}");
                assert_eq!(search[1]["href"], "layers/conv1.html", "{search}");
                assert!(
                    search[2]["error"]
                        .as_str()
                        .unwrap()
                        .contains("no layer matches")
                );
                assert_eq!(search[3]["error"], "gap has channels 0..8", "{search}");
                for found in search.as_array().unwrap().iter().take(2) {
                    assert!(site.join(found["href"].as_str().unwrap()).exists());
                }
            }
            "layer" | "layer_gap" => {
                assert_eq!(result["units"], 8, "{result}");
                assert_eq!(
                    result["sorted"], true,
                    "{page}: sorting by activation: {result}"
                );
                assert_eq!(result["missing"], 0, "{result}");
                assert_eq!(result["images"], 8, "{result}");
            }
            _ => assert!(result["images"].as_u64().unwrap() >= 6, "{result}"),
        }
        let base = site.join(page);
        for link in result["links"].as_array().unwrap() {
            let target = base.parent().unwrap().join(link.as_str().unwrap());
            assert!(target.exists(), "{page}: broken link {link}");
        }
        let shot = shots.join(format!("{name}.png"));
        let out = browse(
            &browser,
            &[
                &format!("--screenshot={}", shot.display()),
                &format!("file://{}", base.display()),
            ],
        );
        assert!(
            shot.exists(),
            "{page}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
