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
use excite::viz::Backend;

/// Renders allocate and free large tensors every step; mimalloc, told never to return freed
/// memory to the system, keeps those pages mapped instead of faulting them in (and having the
/// kernel zero them) afresh each time (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc 3's `mi_option_purge_delay` (the allocator's options are numbered, not named, in
/// its C API; `libmimalloc-sys` is pinned to the version this number belongs to).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// glibc's malloc, which LibTorch allocates its tensors with (`--backend tch`), maps every
/// block over 128 KiB afresh and unmaps it at free, so the kernel zeroes new pages for every
/// tensor of every step. Served from the heap instead (blocks up to 32 MiB, glibc's maximum),
/// and the heap never trimmed, a batched tch step is about a quarter faster (BENCHMARKS.md).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_glibc_heap() {
    const M_TRIM_THRESHOLD: std::ffi::c_int = -1;
    const M_MMAP_THRESHOLD: std::ffi::c_int = -3;
    unsafe extern "C" {
        fn mallopt(param: std::ffi::c_int, value: std::ffi::c_int) -> std::ffi::c_int;
    }
    // SAFETY: mallopt sets plain integer options; called first thing, before any other thread.
    unsafe {
        mallopt(M_MMAP_THRESHOLD, 32 << 20);
        mallopt(M_TRIM_THRESHOLD, std::ffi::c_int::MAX);
    }
}

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
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    keep_glibc_heap();
    let cli = Cli::parse();
    // The backend's device is checked first, quietly: a backend that cannot start (no GPU)
    // reports it by panicking, which becomes the one error line below.
    std::panic::set_hook(Box::new(|_| {}));
    let backend = cli.backend.parse::<Backend>().and_then(|b| {
        b.checked_device()?;
        Ok(b)
    });
    // After that, a panic is a bug: one line for it (the library turns a panic inside the
    // backend into an error naming the node, which follows on its own line).
    std::panic::set_hook(Box::new(|info| eprintln!("internal error: {info}")));
    let result = backend
        .map_err(anyhow::Error::from)
        .and_then(|backend| run(cli.command, backend));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", one_line(&error));
            ExitCode::FAILURE
        }
    }
}

/// Runs the subcommand on `backend`.
fn run(command: Command, backend: Backend) -> anyhow::Result<()> {
    match command {
        Command::Layers(args) => layers::run(&args),
        Command::Classify(args) => classify::run(&args, backend),
        Command::RenderLayer(args) => render_layer::run(&args, backend),
        Command::Render(args) => render::run(&args, backend),
        Command::Examples(args) => examples::run(&args, backend),
        Command::Saliency(args) => saliency::run(&args, backend),
        Command::Spectrum(args) => spectrum::run(&args),
        Command::Bench(args) => bench::run(&args, backend),
        Command::Catalogue(args) => catalogue::run(&args, backend),
    }
}
