//! Progress, reported as data by every long entry point (renders, dataset examples, saliency,
//! the catalogue) to one [`Observer`], silent by default; drawing it is the caller's business.

use std::fmt;
use std::sync::Arc;

/// Where long work stands.
#[derive(Clone, Debug, PartialEq)]
pub enum Progress {
    /// A render finished a step.
    Step {
        /// Steps done.
        step: usize,
        /// Steps in all.
        steps: usize,
        /// The objective at this step.
        value: f32,
    },
    /// Photos ranked for a layer's dataset examples.
    Photos {
        /// The layer.
        layer: String,
        /// Photos done.
        done: usize,
        /// Photos in all.
        total: usize,
    },
    /// Forward (and backward) passes of a saliency map: noisy copies, path steps, windows,
    /// masked photos.
    Passes {
        /// Passes done.
        done: usize,
        /// Passes in all.
        total: usize,
    },
    /// A catalogue shard starts: its units, and how many were finished before.
    Start {
        /// Units in the shard.
        units: usize,
        /// Of which finished before this run.
        finished: usize,
    },
    /// A batch of catalogue units finished and was stored, as `layer:channel`.
    Stored {
        /// The units.
        units: Vec<String>,
    },
    /// A batch of catalogue units failed; they stay missing and the run goes on.
    Failed {
        /// The units, as `layer:channel`.
        units: Vec<String>,
        /// Why.
        error: String,
    },
}

/// The function an [`Observer`] calls.
type Notify = dyn Fn(&Progress) + Send + Sync;

/// Told of [`Progress`]; the default tells nobody. Clones share the same function.
#[derive(Clone, Default)]
pub struct Observer(Option<Arc<Notify>>);

impl Observer {
    /// An observer that calls `f`.
    pub fn new(f: impl Fn(&Progress) + Send + Sync + 'static) -> Self {
        Self(Some(Arc::new(f)))
    }

    /// Tells the observer, if any.
    pub fn notify(&self, progress: Progress) {
        if let Some(f) = &self.0 {
            f(&progress);
        }
    }
}

impl fmt::Debug for Observer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Observer"
        } else {
            "Observer(silent)"
        })
    }
}

/// Observers are not part of what a config means: any two compare equal.
impl PartialEq for Observer {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[test]
    fn the_default_is_silent_and_a_clone_tells_the_same_function() {
        Observer::default().notify(Progress::Passes { done: 1, total: 2 });
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let observer = Observer::new(move |p| log.lock().unwrap().push(p.clone()));
        observer
            .clone()
            .notify(Progress::Passes { done: 1, total: 2 });
        assert_eq!(
            *seen.lock().unwrap(),
            [Progress::Passes { done: 1, total: 2 }]
        );
    }
}
