//! Progress of a render, reported as data (drawing it is the caller's business).

use std::sync::Arc;

/// Where a render stands after a step.
#[derive(Clone, Debug, PartialEq)]
pub struct Progress {
    /// Steps done.
    pub step: usize,
    /// Steps in all.
    pub steps: usize,
    /// The objective at this step.
    pub value: f32,
}

/// Told of a render's progress after every step (see
/// [`RenderConfig::on_progress`](crate::RenderConfig::on_progress)).
pub type Observer = Arc<dyn Fn(&Progress) + Send + Sync>;
