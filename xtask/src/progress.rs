//! Progress bars on standard error (hidden when it is not a terminal), with rate and ETA.

use indicatif::{ProgressBar, ProgressStyle};

/// A bar for `total` units of work, labelled `label`.
pub fn bar(label: &str, total: usize) -> ProgressBar {
    let bar = ProgressBar::new(total as u64);
    let style = ProgressStyle::with_template(
        "{prefix} [{bar:30}] {pos}/{len} {elapsed} elapsed, ETA {eta} {msg}",
    )
    .expect("the template is valid")
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(label.to_string());
    bar
}
