//! The catalogue's static site, built from whatever units exist: `index.html` (the layers,
//! with shapes, counts and thumbnails), `layers/LAYER.html` (a lazily loaded grid of the
//! layer's units), and `units/LAYER/CHANNEL.html` (one linkable page per unit with all its
//! figures and links to its neighbours). Plain HTML and CSS with a few lines of script for
//! keyboard navigation: it opens from `file://` or any static server, with no network.

pub(crate) mod html;
mod pages;

use std::fs;
use std::path::Path;

use excite_core::image_io::write_atomic;
use excite_core::{Error, Result};

use crate::plan::Plan;
use crate::record::UnitRecord;
use crate::store::{RECORD, Status, Store};

/// The stylesheet of every page.
const CSS: &str = include_str!("site.css");
/// The script of every page (arrow keys follow the previous/next/up links).
const JS: &str = include_str!("site.js");

/// Builds the site in the store's folder from the plan and the finished units, and writes
/// `status.json`; returns the status (which units are missing).
///
/// Which units are finished comes from one listing of each layer's folder; the records are
/// read one layer at a time and its pages written, so memory stays that of the largest layer
/// whatever the number of units.
pub fn build(store: &Store, plan: &Plan) -> Result<Status> {
    let root = store.root();
    write(&root.join("assets/site.css"), CSS)?;
    write(&root.join("assets/site.js"), JS)?;
    let mut finished = store.finished(plan, 0..plan.units.len());
    let mut damaged = Vec::new();
    let mut summaries = Vec::with_capacity(plan.layers.len());
    for (l, range) in plan.layer_units().into_iter().enumerate() {
        // A damaged record (never written by this store: its writes are atomic) counts as
        // missing, and is named in the status.
        let records: Vec<Option<UnitRecord>> = range
            .clone()
            .map(|i| {
                if !finished[i] {
                    return None;
                }
                let unit = &plan.units[i];
                let record = match store.read_unit(plan, unit) {
                    Ok(Some(record)) => Some(record),
                    Ok(None) => {
                        damaged.push(format!(
                            "{} has no {RECORD}: delete the folder and rerun its shard",
                            store.unit_dir(plan, unit).display()
                        ));
                        None
                    }
                    Err(e) => {
                        damaged.push(e.to_string());
                        None
                    }
                };
                finished[i] = record.is_some();
                record
            })
            .collect();
        let layer = &plan.layers[l];
        write(
            &root.join("layers").join(format!("{}.html", layer.folder)),
            &pages::layer(plan, l, range.start, &records),
        )?;
        for (i, record) in range.clone().zip(&records) {
            if let Some(record) = record {
                let before = (0..i).rev().find(|&j| finished[j]);
                let after = (i + 1..plan.units.len()).find(|&j| finished[j]);
                write(
                    &root
                        .join("units")
                        .join(&layer.folder)
                        .join(format!("{}.html", plan.units[i].channel)),
                    &pages::unit(plan, i, record, [before, after]),
                )?;
            }
        }
        summaries.push(pages::LayerSummary::new(range.start, &records));
    }
    let missing: Vec<String> = plan
        .units
        .iter()
        .zip(&finished)
        .filter(|(_, done)| !**done)
        .map(|(u, _)| u.id())
        .collect();
    let status = Status {
        total: plan.units.len(),
        done: plan.units.len() - missing.len(),
        missing,
        damaged,
    };
    write(
        &root.join("assets/layers.js"),
        &pages::layers_script(plan, &finished),
    )?;
    write(
        &root.join("index.html"),
        &pages::index(plan, &summaries, &status),
    )?;
    store.write_status(&status)?;
    Ok(status)
}

fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|source| Error::CreateDir {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    write_atomic(path, text.as_bytes())
}
