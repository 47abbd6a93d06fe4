//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// excite: what excites a neuron? Feature visualization of ONNX CNNs with Burn.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the model's layers: name, op and shape.
    Layers {
        /// The ONNX model (a `.toml` manifest beside it is read too).
        #[arg(long, default_value_os_t = default_model())]
        model: PathBuf,
    },
    /// Classify an image: top-5 labels with probabilities.
    Classify {
        /// The image (resized to the model's input size when it differs).
        #[arg(long)]
        image: PathBuf,
        /// The ONNX model.
        #[arg(long, default_value_os_t = default_model())]
        model: PathBuf,
    },
    /// Render every channel (or a range) of a layer into a labelled grid.
    RenderLayer {
        /// The layer, e.g. `blocks.5`.
        #[arg(long)]
        layer: String,
        /// Channels as `A..B` (B excluded); all by default.
        #[arg(long)]
        channels: Option<String>,
        /// Images rendered together in one batch.
        #[arg(long, default_value_t = 16)]
        batch: usize,
        /// Where the grid, the per-channel PNGs and `record.json` go (default `renders/LAYER`).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Skip channels that a previous run of the same settings finished.
        #[arg(long)]
        resume: bool,
        #[command(flatten)]
        render: RenderArgs,
    },
    /// Time optimisation steps on the bundled model: FLOP rates, where the time goes, and the
    /// gains of truncation and batching.
    Bench {
        /// Timed steps per configuration (after a warm-up step).
        #[arg(long, default_value_t = 5)]
        steps: usize,
        /// Steps of the end-to-end 16-channel render.
        #[arg(long, default_value_t = 64)]
        e2e_steps: usize,
        /// Fewer configurations (128 px; batch 1 and 16).
        #[arg(long)]
        quick: bool,
    },
    /// Render one objective, e.g. `blocks.5:12`, `logit:282`, `neuron:blocks.5:12`,
    /// `blocks.5:3 + 0.5*diversity:blocks.5 - 0.05*tv`.
    Render {
        /// The objective.
        #[arg(long)]
        objective: String,
        /// Images in the batch (use with a diversity term).
        #[arg(long, default_value_t = 1)]
        batch: usize,
        /// Start from this image instead of noise (DeepDream).
        #[arg(long)]
        start_image: Option<PathBuf>,
        /// The PNG to write (a grid when the batch holds several images).
        #[arg(long, default_value = "render.png")]
        out: PathBuf,
        #[command(flatten)]
        render: RenderArgs,
    },
}

/// Settings shared by the rendering commands.
#[derive(Debug, Args, Clone)]
pub struct RenderArgs {
    /// The ONNX model.
    #[arg(long, default_value_os_t = default_model())]
    pub model: PathBuf,
    /// Image size in pixels (square).
    #[arg(long, default_value_t = 128)]
    pub size: usize,
    /// Optimisation steps.
    #[arg(long, default_value_t = 512)]
    pub steps: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 0.05)]
    pub lr: f32,
    /// Seed of the initial image and of the transforms.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The image parameterization.
    #[arg(long, value_enum, default_value_t = Param::Fourier)]
    pub param: Param,
    /// Turn the random transforms off.
    #[arg(long)]
    pub no_transforms: bool,
}

/// Image parameterizations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Param {
    /// Fourier spectrum with 1/f scaling and decorrelated colour (Lucid's default).
    Fourier,
    /// Raw pixels with decorrelated colour.
    Pixels,
    /// Phase-only spectrum with a fixed 1/f magnitude (MACO).
    Phase,
}

/// The bundled EfficientNet-Lite0.
pub fn default_model() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/efficientnet_lite0.onnx")
}
