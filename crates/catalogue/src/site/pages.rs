//! The three kinds of page, as HTML text.

use std::fmt::Write;

use super::html::{escape, page, url};
use crate::figures::FIGURES;
use crate::plan::{LayerEntry, Plan};
use crate::record::UnitRecord;
use crate::store::Status;

/// Thumbnails of a layer shown on the index.
const INDEX_THUMBS: usize = 8;

/// `index.html`: the model, the settings, and a row per layer.
pub fn index(plan: &Plan, records: &[Option<UnitRecord>], status: &Status) -> String {
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
    for layer in &plan.layers {
        let indices = unit_indices(plan, layer);
        let done = indices.iter().filter(|&&i| records[i].is_some()).count();
        let thumbs: String = indices
            .iter()
            .filter_map(|&i| records[i].as_ref().map(|r| (i, r)))
            .take(INDEX_THUMBS)
            .map(|(i, r)| {
                format!(
                    "<img loading=\"lazy\" src=\"units/{}/{}/{}\" alt=\"{}\" width=\"48\" height=\"48\">",
                    url(&layer.folder),
                    plan.units[i].channel,
                    url(r.files.first("thumb").unwrap_or_default()),
                    escape(&plan.units[i].id())
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
            total = indices.len(),
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

/// `layers/LAYER.html`: the layer's units as a grid of thumbnails, loaded as they scroll in.
pub fn layer(plan: &Plan, index: usize, records: &[Option<UnitRecord>]) -> String {
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
    let mut body = String::from("<div class=\"grid\">");
    for i in unit_indices(plan, layer) {
        let unit = &plan.units[i];
        match &records[i] {
            Some(r) => {
                let _ = write!(
                    body,
                    "<a class=\"unit{dead}\" data-unit=\"{id}\" href=\"../units/{folder}/{c}.html\"><img loading=\"lazy\" src=\"../units/{folder}/{c}/{thumb}\" alt=\"{id}\" width=\"96\" height=\"96\">{c}<span class=\"value\">{value}</span></a>",
                    dead = if r.dead { " dead" } else { "" },
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
                    "<div class=\"unit missing\" data-unit=\"{}\"><div class=\"hole\"></div>{}<span class=\"value\">missing</span></div>",
                    escape(&unit.id()),
                    unit.channel
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

/// `units/LAYER/CHANNEL.html`: every figure of the unit, its numbers, and its neighbours.
pub fn unit(
    plan: &Plan,
    index: usize,
    record: &UnitRecord,
    records: &[Option<UnitRecord>],
) -> String {
    let unit = &plan.units[index];
    let layer = plan.layer(&unit.layer).expect("planned layer");
    // The nearest finished units before and after this one.
    let before = (0..index).rev().find(|&i| records[i].is_some());
    let after = (index + 1..plan.units.len()).find(|&i| records[i].is_some());
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

/// The indices in `plan.units` of `layer`'s units.
fn unit_indices(plan: &Plan, layer: &LayerEntry) -> Vec<usize> {
    plan.units
        .iter()
        .enumerate()
        .filter(|(_, u)| u.layer == layer.name)
        .map(|(i, _)| i)
        .collect()
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

    use super::*;
    use crate::config::CatalogueConfig;
    use crate::plan::Unit;
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
            ("index", index(&plan, &records, &status)),
            ("layer", layer(&plan, 0, &records)),
            (
                "unit",
                unit(&plan, 0, records[0].as_ref().unwrap(), &records),
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
    }
}
