//! Progress of a render, and a terminal progress bar.

use std::io::Write;
use std::time::Instant;

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

/// A one-line progress bar on standard error, with rate and time left.
#[derive(Debug)]
pub struct ProgressBar {
    label: String,
    total: usize,
    done: usize,
    start: Instant,
    drawn: Option<Instant>,
}

impl ProgressBar {
    /// A bar for `total` units of work.
    pub fn new(label: impl Into<String>, total: usize) -> Self {
        Self {
            label: label.into(),
            total: total.max(1),
            done: 0,
            start: Instant::now(),
            drawn: None,
        }
    }

    /// Marks `done` units finished and redraws (at most ten times a second, and at the end),
    /// with a detail (e.g. the objective).
    pub fn update(&mut self, done: usize, detail: &str) {
        self.done = done.min(self.total);
        let recent = self.drawn.is_some_and(|t| t.elapsed().as_millis() < 100);
        if recent && self.done < self.total {
            return;
        }
        self.drawn = Some(Instant::now());
        let elapsed = self.start.elapsed().as_secs_f32();
        let left = if self.done == 0 {
            0.0
        } else {
            elapsed / self.done as f32 * (self.total - self.done) as f32
        };
        let width = 30;
        let filled = width * self.done / self.total;
        eprint!(
            "\r{} [{}{}] {}/{} {:.0}s elapsed, ~{:.0}s left {}   ",
            self.label,
            "=".repeat(filled),
            " ".repeat(width - filled),
            self.done,
            self.total,
            elapsed,
            left,
            detail
        );
        let _ = std::io::stderr().flush();
    }

    /// Ends the line.
    pub fn finish(&self) {
        eprintln!();
    }
}
