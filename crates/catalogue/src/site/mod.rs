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
use crate::store::{Status, Store};

/// The stylesheet of every page.
const CSS: &str = include_str!("site.css");
/// The script of every page (arrow keys follow the previous/next/up links).
const JS: &str = include_str!("site.js");

/// Builds the site in the store's folder from the plan and the finished units, and writes
/// `status.json`; returns the status (which units are missing).
pub fn build(store: &Store, plan: &Plan) -> Result<Status> {
    let root = store.root();
    write(&root.join("assets/site.css"), CSS)?;
    write(&root.join("assets/site.js"), JS)?;
    // A damaged record (never written by this store: its writes are atomic) counts as
    // missing, and is named in the status.
    let mut damaged = Vec::new();
    let records: Vec<Option<UnitRecord>> = plan
        .units
        .iter()
        .map(|u| {
            store.read_unit(plan, u).unwrap_or_else(|e| {
                damaged.push(e.to_string());
                None
            })
        })
        .collect();
    let missing: Vec<String> = plan
        .units
        .iter()
        .zip(&records)
        .filter(|(_, r)| r.is_none())
        .map(|(u, _)| u.id())
        .collect();
    let status = Status {
        total: plan.units.len(),
        done: plan.units.len() - missing.len(),
        missing,
        damaged,
    };
    write(
        &root.join("index.html"),
        &pages::index(plan, &records, &status),
    )?;
    for (i, layer) in plan.layers.iter().enumerate() {
        write(
            &root.join("layers").join(format!("{}.html", layer.folder)),
            &pages::layer(plan, i, &records),
        )?;
    }
    for (i, record) in records.iter().enumerate() {
        if let Some(record) = record {
            let unit = &plan.units[i];
            let folder = &plan.layer(&unit.layer).expect("planned layer").folder;
            write(
                &root
                    .join("units")
                    .join(folder)
                    .join(format!("{}.html", unit.channel)),
                &pages::unit(plan, i, record, &records),
            )?;
        }
    }
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
