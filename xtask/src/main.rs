//! `cargo xtask`: the excite command line.

mod bench;
mod cli;
mod commands;
mod layer_record;

use std::process::ExitCode;

use clap::Parser;

/// Renders allocate and free large tensors every step; mimalloc, told never to return freed
/// memory to the system, keeps those pages mapped instead of faulting them in (and having the
/// kernel zero them) afresh each time (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc 3's `mi_option_purge_delay` (the allocator's options are numbered, not named, in
/// its C API; `libmimalloc-sys` is pinned to the version this number belongs to).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> ExitCode {
    // SAFETY: sets a plain integer option; called once, first thing, before any other thread.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
