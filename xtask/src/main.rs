//! `cargo xtask`: the excite command line. It parses arguments and calls the library.

mod bench;
mod catalogue;
mod classify;
mod cli;
mod examples;
mod layers;
mod progress;
mod render;
mod render_layer;
mod saliency;
mod spectrum;

use std::process::ExitCode;

use clap::Parser;
use cli::{Cli, Command};

/// Renders allocate and free large tensors every step; mimalloc, told never to return freed
/// memory to the system, keeps those pages mapped instead of faulting them in (and having the
/// kernel zero them) afresh each time (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc 3's `mi_option_purge_delay` (the allocator's options are numbered, not named, in
/// its C API; `libmimalloc-sys` is pinned to the version this number belongs to).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// The error and its causes on one line, each cause once: a cause whose text the message
/// already holds (an I/O error that the library quotes) is not repeated.
fn one_line(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let part = cause.to_string();
        if !text.contains(&part) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&part);
        }
    }
    text
}

fn main() -> ExitCode {
    // SAFETY: sets a plain integer option; called once, first thing, before any other thread.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    // A panic is a bug: one line for it (the library turns a panic inside the backend into an
    // error naming the node, which follows on its own line).
    std::panic::set_hook(Box::new(|info| eprintln!("internal error: {info}")));
    let result = match Cli::parse().command {
        Command::Layers(args) => layers::run(&args),
        Command::Classify(args) => classify::run(&args),
        Command::RenderLayer(args) => render_layer::run(&args),
        Command::Render(args) => render::run(&args),
        Command::Examples(args) => examples::run(&args),
        Command::Saliency(args) => saliency::run(&args),
        Command::Spectrum(args) => spectrum::run(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Catalogue(args) => catalogue::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", one_line(&error));
            ExitCode::FAILURE
        }
    }
}
