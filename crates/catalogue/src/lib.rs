//! A catalogue of a whole model: for every unit (channel) of the chosen layers, its render, a
//! few diverse renders, its negative, and — given photos — its dataset examples and the
//! saliency of its best one, each unit with a JSON record; then a static site to browse them.
//!
//! The work is split into deterministic [`Shard`]s (one per job of a Slurm array or a
//! Kubernetes Indexed Job). A [`Store`] writes each unit's folder under a temporary name and
//! renames it into place, so killed jobs lose at most the batch in progress and reruns skip
//! finished units; [`site::build`] makes the site from whatever units exist.
//!
//! [`make`] does it all in one call: the plan, the shard's pending units, the site.
//!
//! ```no_run
//! use excite_catalogue::{Catalogue, make};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let device = excite_viz::default_device()?;
//! let model = excite_model::OnnxModel::load("models/efficientnet_lite0.onnx", &device)?;
//! let catalogue = Catalogue::new("catalogue", "blocks.2")?.with_channels("0..4".parse()?);
//! let summary = make(&model, &catalogue, &device)?;
//! println!("{} units made", summary.stored);
//! # Ok(())
//! # }
//! ```
//!
//! The pieces are public for a cluster's shards and merge step: [`Plan::new`], [`run`] on a
//! [`Store`] with a [`Shard`], [`site::build`].

#![warn(missing_docs)]

pub mod config;
pub mod examples;
pub mod figures;
mod make;
pub mod plan;
pub mod record;
pub mod run;
pub mod shard;
pub mod site;
pub mod store;
pub mod units;

pub use config::CatalogueConfig;
pub use examples::PhotoSet;
pub use make::{Catalogue, make};
pub use plan::{LayerEntry, LayerSelection, Plan, Unit};
pub use record::{ExampleSummary, UnitFiles, UnitRecord};
pub use run::{Summary, estimate_seconds, run};
pub use shard::Shard;
pub use store::{Status, Store};
