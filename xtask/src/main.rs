//! `cargo xtask`: the excite command line. It parses arguments and calls the library.

mod bench;
mod bench_saliency;
mod bench_scores;
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

use burn::tensor::Device;
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

/// A command-line error on one line: clap's message and the values it offers, without its
/// hint to try `--help`.
fn clap_one_line(error: &clap::Error) -> String {
    let text = error.to_string();
    text.lines()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty() && !l.starts_with("For more information"))
        .map(|l| l.strip_prefix("error: ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join(" ")
}

fn main() -> ExitCode {
    // SAFETY: sets a plain integer option; called once, first thing, before any other thread.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    keep_glibc_heap();
    // A panic is a bug: one line for it (the library turns a panic inside the backend into an
    // error naming the node, which follows on its own line).
    std::panic::set_hook(Box::new(|info| eprintln!("internal error: {info}")));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => e.exit(),
        Err(e) => {
            eprintln!("error: {}", clap_one_line(&e));
            return ExitCode::from(2);
        }
    };
    let result = cli
        .backend
        .parse::<Backend>()
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

/// Runs the subcommand; those that compute on the backend get its device, started once.
fn run(command: Command, backend: Backend) -> anyhow::Result<()> {
    let device = || start(backend);
    match command {
        Command::Layers(args) => layers::run(&args),
        Command::Classify(args) => classify::run(&args, &device()?),
        Command::RenderLayer(args) => render_layer::run(&args, &device()?),
        Command::Render(args) => render::run(&args, &device()?),
        Command::Examples(args) => examples::run(&args, &device()?),
        Command::Saliency(args) => saliency::run(&args, &device()?),
        Command::Spectrum(args) => spectrum::run(&args),
        Command::Bench(args) => bench::run(&args, &device()?),
        Command::Catalogue(args) => catalogue::run(&args, &device()?),
    }
}

/// The backend's autodiff device, checked with the panic hook silenced: a backend that cannot
/// start here (no GPU, no CUDA) reports it by panicking, which becomes one error line.
fn start(backend: Backend) -> anyhow::Result<Device> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let device = backend.checked_device();
    std::panic::set_hook(hook);
    Ok(device?)
}
