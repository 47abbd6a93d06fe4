//! `cargo xtask`: the excite command line.

mod bench;
mod cli;
mod commands;
mod layer_record;

use std::process::ExitCode;

use clap::Parser;

/// Renders allocate and free large tensors every step; mimalloc keeps those pages mapped
/// instead of faulting them in afresh each time (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
