//! The three kinds of page, as HTML text.

use std::fmt::Write;

use super::html::{escape, page, url};
use crate::figures::FIGURES;
use crate::plan::Plan;
use crate::record::UnitRecord;
use crate::store::Status;

/// Thumbnails of a layer shown on the index.
const INDEX_THUMBS: usize = 8;

/// What the index shows of a layer: its finished units and the first thumbnails.
pub struct LayerSummary {
    /// Finished units.
    done: usize,
    /// The first finished units, as (unit index, thumbnail file).
    thumbs: Vec<(usize, String)>,
}

impl LayerSummary {
    /// The summary of a layer's `records` (of units `first..`).
    pub fn new(first: usize, records: &[Option<UnitRecord>]) -> Self {
        Self {
            done: records.iter().flatten().count(),
            thumbs: records
                .iter()
                .enumerate()
                .filter_map(|(k, r)| {
                    let thumb = r.as_ref()?.files.first("thumb").unwrap_or_default();
                    Some((first + k, thumb.to_string()))
                })
                .take(INDEX_THUMBS)
                .collect(),
        }
    }
}

/// `index.html`: the model, the settings, and a row per layer (`layers` in plan order).
pub fn index(plan: &Plan, layers: &[LayerSummary], status: &Status) -> String {
    let header = format!(
        "<h1>{}</h1><p class=\"muted\">{} layers · {} of {} units · {} px · {} steps{}</p>",
        escape(&plan.model),
        plan.layers.len(),
        status.done,
        status.total,
        plan.settings.size,
        plan.settings.steps,
        plan.images
            .as_ref()
            .map(|i| format!(" · examples from {}", escape(i)))
            .unwrap_or_default(),
    );
    let mut body = String::new();
    if !status.missing.is_empty() {
        let _ = write!(
            body,
            "<p class=\"warning\" id=\"missing\">{} units are not rendered yet (first: {}); rerun their shards, then <code>catalogue index</code>.</p>",
            status.missing.len(),
            escape(&status.missing[0])
        );
    }
    body.push_str(
        "<table class=\"layers\"><thead><tr><th>layer</th><th>op</th><th>shape</th><th>units</th><th>first units</th></tr></thead><tbody>",
    );
    for ((layer, summary), range) in plan.layers.iter().zip(layers).zip(plan.layer_units()) {
        let thumbs: String = summary
            .thumbs
            .iter()
            .map(|(i, thumb)| {
                format!(
                    "<img loading=\"lazy\" src=\"units/{}/{}/{}\" alt=\"{}\" width=\"48\" height=\"48\">",
                    url(&layer.folder),
                    plan.units[*i].channel,
                    url(thumb),
                    escape(&plan.units[*i].id())
                )
            })
            .collect();
        let _ = write!(
            body,
            "<tr class=\"layer\" data-layer=\"{name}\"><td><a href=\"layers/{folder}.html\">{name}</a></td><td>{op}</td><td>{shape}</td><td>{done} / {total}</td><td class=\"thumbs\">{thumbs}</td></tr>",
            name = escape(&layer.name),
            folder = url(&layer.folder),
            op = escape(&layer.op),
            shape = shape(&layer.shape),
            done = summary.done,
            total = range.len(),
        );
    }
    body.push_str("</tbody></table>");
    page(
        &format!("{} — excite catalogue", plan.model),
        "",
        &header,
        &body,
    )
}

/// `layers/LAYER.html`: the layer's units as a grid of thumbnails, loaded as they scroll in;
/// `records` are those of the layer's units, the first being unit `first` of the plan.
pub fn layer(plan: &Plan, index: usize, first: usize, records: &[Option<UnitRecord>]) -> String {
    let layer = &plan.layers[index];
    let link = |i: Option<usize>, rel: &str, label: &str| match i.and_then(|i| plan.layers.get(i)) {
        Some(l) => format!(
            "<a rel=\"{rel}\" href=\"{}.html\">{label} {}</a>",
            url(&l.folder),
            escape(&l.name)
        ),
        None => format!("<span class=\"off\">{label}</span>"),
    };
    let header = format!(
        "<nav class=\"crumbs\"><a rel=\"up\" href=\"../index.html\">{model}</a> › {name}</nav><h1>{name}</h1><p class=\"muted\">{op} · shape {shape} · channels {a}..{b}</p><nav class=\"steps\">{prev}{next}</nav>",
        model = escape(&plan.model),
        name = escape(&layer.name),
        op = escape(&layer.op),
        shape = shape(&layer.shape),
        a = layer.channels[0],
        b = layer.channels[1],
        prev = link(index.checked_sub(1), "prev", "←"),
        next = link(Some(index + 1), "next", "→"),
    );
    let scored = records
        .iter()
        .flatten()
        .any(|r| r.examples.as_ref().is_some_and(|e| e.scores.is_some()));
    let distrusted = records.iter().flatten().filter(|r| !path_ok(r)).count();
    let mut body = String::new();
    if scored {
        let _ = write!(
            body,
            "<p class=\"sorting\"><label>Sort by <select class=\"sort\"><option value=\"channel\">channel</option><option value=\"activation\">activation</option><option value=\"ratio\">activation vs photos</option><option value=\"path\">path similarity</option><option value=\"plausibility\">plausibility (closest first)</option></select></label> <span class=\"muted\">{distrusted} of {} units fail the path check (marked ⚠): their pictures do not follow the path of the photos that excite them.</span></p>",
            records.iter().flatten().count()
        );
    }
    body.push_str("<div class=\"grid\">");
    for (k, record) in records.iter().enumerate() {
        let unit = &plan.units[first + k];
        match record {
            Some(r) => {
                let _ = write!(
                    body,
                    "<a class=\"unit{dead}{distrust}\" data-unit=\"{id}\" data-channel=\"{c}\"{sort} href=\"../units/{folder}/{c}.html\"><img loading=\"lazy\" src=\"../units/{folder}/{c}/{thumb}\" alt=\"{id}\" width=\"96\" height=\"96\">{c}<span class=\"value\">{value}</span></a>",
                    dead = if r.dead { " dead" } else { "" },
                    distrust = if path_ok(r) { "" } else { " distrust" },
                    sort = sort_keys(r),
                    id = escape(&unit.id()),
                    folder = url(&layer.folder),
                    c = unit.channel,
                    thumb = url(r.files.first("thumb").unwrap_or_default()),
                    value = if r.dead {
                        "dead".to_string()
                    } else {
                        format!("{:.3}", r.activation)
                    },
                );
            }
            None => {
                let _ = write!(
                    body,
                    "<div class=\"unit missing\" data-unit=\"{}\" data-channel=\"{c}\"><div class=\"hole\"></div>{c}<span class=\"value\">missing</span></div>",
                    escape(&unit.id()),
                    c = unit.channel
                );
            }
        }
    }
    body.push_str("</div>");
    page(
        &format!("{} — {}", layer.name, plan.model),
        "../",
        &header,
        &body,
    )
}

/// Whether a unit's render passes the path check (or was not scored).
fn path_ok(record: &UnitRecord) -> bool {
    record
        .examples
        .as_ref()
        .and_then(|e| e.scores.as_ref())
        .is_none_or(|s| s.path_ok())
}

/// The values a layer page sorts its units by, as `data-` attributes, and the scores as the
/// card's hover text.
fn sort_keys(record: &UnitRecord) -> String {
    let mut out = format!(" data-activation=\"{}\"", record.activation);
    if let Some(s) = record.examples.as_ref().and_then(|e| e.scores.as_ref()) {
        let number = |v: Option<f32>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
        let _ = write!(
            out,
            " title=\"activation vs photos {} · path similarity {}{} · plausibility {:.2}\"",
            number(s.activation_vs_photos),
            number(s.path_similarity),
            if s.path_ok() { "" } else { " (fails)" },
            s.plausibility
        );
        let mut key = |name: &str, value: Option<f32>| {
            if let Some(v) = value.filter(|v| v.is_finite()) {
                let _ = write!(out, " data-{name}=\"{v}\"");
            }
        };
        key("ratio", s.activation_vs_photos);
        key("path", s.path_similarity);
        key("plausibility", Some(s.plausibility));
    }
    out
}

/// `units/LAYER/CHANNEL.html`: every figure of the unit, its numbers, and its neighbours (the
/// nearest finished units before and after it in the plan).
pub fn unit(
    plan: &Plan,
    index: usize,
    record: &UnitRecord,
    [before, after]: [Option<usize>; 2],
) -> String {
    let unit = &plan.units[index];
    let layer = plan.layer(&unit.layer).expect("planned layer");
    let header = format!(
        "<nav class=\"crumbs\"><a href=\"../../index.html\">{model}</a> › <a rel=\"up\" href=\"../../layers/{folder}.html\">{layer}</a> › {c}</nav><h1>{id}</h1><nav class=\"steps\">{prev}{next}</nav>",
        model = escape(&plan.model),
        folder = url(&layer.folder),
        layer = escape(&layer.name),
        c = unit.channel,
        id = escape(&unit.id()),
        prev = neighbour(plan, before, "prev", "←"),
        next = neighbour(plan, after, "next", "→"),
    );
    let mut body = figures(unit.channel, record);
    body += &facts(record);
    page(
        &format!("{} — {}", unit.id(), plan.model),
        "../../",
        &header,
        &body,
    )
}

/// A link from a unit page to unit `i` of the plan, or a greyed label when there is none.
fn neighbour(plan: &Plan, i: Option<usize>, rel: &str, label: &str) -> String {
    match i {
        Some(i) => {
            let u = &plan.units[i];
            let folder = &plan.layer(&u.layer).expect("planned layer").folder;
            format!(
                "<a rel=\"{rel}\" href=\"../{}/{}.html\">{label} {}</a>",
                url(folder),
                u.channel,
                escape(&u.id())
            )
        }
        None => format!("<span class=\"off\">{label}</span>"),
    }
}

/// The figures of [`FIGURES`]: those without a section in one row at the top, then one
/// section each.
fn figures(channel: usize, record: &UnitRecord) -> String {
    let top: String = FIGURES
        .iter()
        .filter(|f| f.section().is_none())
        .map(|f| f.html(channel, record))
        .collect();
    let mut out = format!("<div class=\"figures\">{top}</div>");
    for figure in FIGURES {
        if let Some(heading) = figure.section() {
            let html = figure.html(channel, record);
            if !html.is_empty() {
                let _ = write!(out, "<h2>{}</h2>{html}", escape(heading));
            }
        }
    }
    out
}

/// The unit's numbers and settings as a definition list, and a link to its record.
fn facts(record: &UnitRecord) -> String {
    let s = &record.settings;
    let mut rows = vec![
        ("activation", format!("{:.4}", record.activation)),
        (
            "ratio to best example",
            record
                .examples
                .as_ref()
                .and_then(|e| e.ratio)
                .map_or("—".into(), |r| format!("{r:.2}")),
        ),
        ("dead", record.dead.to_string()),
        ("seed", record.seed.to_string()),
        ("batch", format!("{:?}", record.batch)),
        (
            "settings",
            format!(
                "{} px, {} steps, lr {}, batch {}, {} diverse (weight {}), transforms {}",
                s.size, s.steps, s.learning_rate, s.batch, s.diverse, s.diversity, s.transforms
            ),
        ),
        ("backend", record.backend.clone()),
        ("seconds", format!("{:.1}", record.seconds)),
    ];
    if let Some(n) = record.negative_activation {
        rows.insert(1, ("negative activation", format!("{n:.4}")));
    }
    let mut out = String::from("<h2>Record</h2><dl class=\"facts\">");
    for (k, v) in rows {
        let _ = write!(out, "<dt>{k}</dt><dd>{}</dd>", escape(&v));
    }
    let _ = write!(
        out,
        "</dl><p><a href=\"{}/unit.json\">unit.json</a></p>",
        record.channel
    );
    out
}

/// `assets/layers.js`: every layer's name, folder, planned channels and the runs of finished
/// ones (`finished`: one flag per unit of the plan), for the search box.
pub fn layers_script(plan: &Plan, finished: &[bool]) -> String {
    let layers: Vec<_> = plan
        .layers
        .iter()
        .zip(plan.layer_units())
        .map(|(l, range)| {
            let mut runs: Vec<[usize; 2]> = Vec::new();
            for i in range.filter(|&i| finished[i]) {
                let channel = plan.units[i].channel;
                match runs.last_mut() {
                    Some(run) if run[1] == channel => run[1] += 1,
                    _ => runs.push([channel, channel + 1]),
                }
            }
            (l.name.as_str(), l.folder.as_str(), l.channels, runs)
        })
        .collect();
    let json = serde_json::to_string(&layers).expect("names and numbers encode");
    // JSON is JavaScript; `<` escaped keeps the text inert wherever it is pasted.
    format!(
        "// excite catalogue: [layer, folder, [first, end), finished runs [[a, b), ...]] for the search box.\nvar EXCITE_LAYERS = {};\n",
        json.replace('<', "\\u003c")
    )
}

fn shape(shape: &[usize]) -> String {
    shape
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join("×")
}

#[cfg(test)]
mod tests {
    //! The pages are `format!` with every name passed through `escape` (and every path segment
    //! through `url`): a template crate would make escaping the default, but four small pages
    //! do not pay for a dependency and its macro language. What keeps them safe is this test:
    //! every text field a page shows holds markup, and none of it comes out raw.

    use std::path::PathBuf;

    use excite_views::Hit;
    use excite_views::scores::{PathPoint, Scores};

    use super::*;
    use crate::config::CatalogueConfig;
    use crate::plan::{LayerEntry, Unit};
    use crate::record::{ExampleSummary, UnitFiles};

    /// Markup that must never reach a page unescaped.
    const HOSTILE: &str = r#"<x-hostile onload="alert(1)">'&"#;

    fn hostile(what: &str) -> String {
        format!("{what}{HOSTILE}")
    }

    fn hit() -> Hit {
        Hit {
            image: PathBuf::from(hostile("photo")),
            score: 1.0,
            position: Some([1, 2]),
            crop: None,
        }
    }

    fn plan() -> Plan {
        let name = hostile("layer");
        Plan {
            model: hostile("model"),
            model_sha256: hostile("sha"),
            images: Some(hostile("images")),
            photo_size: 32,
            layers: vec![LayerEntry {
                name: name.clone(),
                op: hostile("op"),
                shape: vec![1, 2, 4, 4],
                channels: [0, 2],
                folder: hostile("folder"),
            }],
            settings: CatalogueConfig::default(),
            units: (0..2)
                .map(|channel| Unit {
                    layer: name.clone(),
                    channel,
                })
                .collect(),
        }
    }

    fn record(channel: usize) -> UnitRecord {
        UnitRecord {
            layer: hostile("layer"),
            channel,
            seed: 0,
            batch: vec![0, 1],
            activation: 1.0,
            negative_activation: Some(-1.0),
            diverse_activations: vec![0.5, 0.4],
            dead: false,
            examples: Some(ExampleSummary {
                top: vec![hit()],
                top_max: vec![hit()],
                photos: 3,
                ratio: Some(2.0),
                saliency_value: 0.5,
                saliency_method: hostile("method"),
                scores: Some(Scores {
                    activation_vs_photos: Some(1.5),
                    path: vec![PathPoint {
                        layer: hostile("path"),
                        render: 0.1,
                        baseline: 0.3,
                    }],
                    path_similarity: Some(-0.2),
                    feature_layer: hostile("feature"),
                    plausibility: 2.0,
                }),
            }),
            files: UnitFiles(
                [
                    "render", "thumb", "negative", "diverse", "examples", "saliency",
                ]
                .iter()
                .map(|f| (f.to_string(), vec![hostile(f)]))
                .collect(),
            ),
            settings: CatalogueConfig {
                saliency_method: hostile("setting"),
                ..CatalogueConfig::default()
            },
            backend: hostile("backend"),
            seconds: 1.0,
        }
    }

    #[test]
    fn no_field_of_any_page_comes_out_as_markup() {
        let plan = plan();
        let records = vec![Some(record(0)), Some(record(1))];
        let status = Status {
            total: 3,
            done: 2,
            missing: vec![hostile("missing")],
            damaged: vec![hostile("damaged")],
        };
        let pages = [
            (
                "index",
                index(&plan, &[LayerSummary::new(0, &records)], &status),
            ),
            ("layer", layer(&plan, 0, 0, &records)),
            (
                "unit",
                unit(&plan, 0, records[0].as_ref().unwrap(), [None, Some(1)]),
            ),
        ];
        for (name, html) in pages {
            assert!(
                !html.contains("<x-hostile"),
                "{name} page: raw markup:\n{html}"
            );
            assert!(
                !html.contains("onload=\""),
                "{name} page: raw attribute:\n{html}"
            );
            // The names are there, escaped.
            assert!(html.contains("&lt;x-hostile"), "{name} page shows no name");
        }
        let script = layers_script(&plan, &[true, false]);
        assert!(
            !script.contains('<') && script.contains("\\u003cx-hostile"),
            "{script}"
        );
    }
}
