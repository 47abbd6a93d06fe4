//! Command-line arguments: one struct per subcommand.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use excite::catalogue::CatalogueConfig;
use excite::core::channels::ChannelRange;
use excite::core::spectrum::Spectrum;
use excite::core::transform::standard;
use excite::model::{RENDER_SIDE, memory_limit};
use excite::views::{ExamplesConfig, METHODS, SaliencyConfig};
use excite::viz::RenderConfig;
use excite::{ImageParam, OnnxModel};

/// excite: what excites a neuron? Feature visualization of ONNX CNNs with Burn.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", version)]
pub struct Cli {
    /// The backend to render on: `flex` (the default), or one compiled in by its cargo
    /// feature: `ndarray`, `wgpu`, `vulkan`, `tch` (LibTorch on the CPU), `tch-cuda`.
    #[arg(long, global = true, env = "EXCITE_BACKEND", default_value = "flex")]
    pub backend: String,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the model's layers: name, op and shape.
    Layers(LayersArgs),
    /// Classify an image: top-5 labels with probabilities.
    Classify(ClassifyArgs),
    /// Render every channel (or a range) of a layer into a labelled grid.
    RenderLayer(RenderLayerArgs),
    /// Render one objective, e.g. `blocks.5:12`, `logit:282`, `neuron:blocks.5:12`,
    /// `blocks.5:3 + 0.5*diversity:blocks.5 - 0.05*total_variation`.
    Render(RenderArgs),
    /// The photos of a folder that excite each channel of a layer most (and least), with the
    /// patch that the strongest position sees: one strip PNG per channel and a JSON record.
    Examples(ExamplesArgs),
    /// How much each pixel of a photo moves an objective: a heatmap over the photo and the
    /// raw map as JSON.
    Saliency(SaliencyArgs),
    /// The mean magnitude spectrum of a folder of photos, saved beside the model for
    /// `--param maco`.
    Spectrum(SpectrumArgs),
    /// Time optimisation steps on the bundled model: FLOP rates, where the time goes, and the
    /// gains of truncation and batching.
    Bench(BenchArgs),
    /// A catalogue of every unit of chosen layers (render, diverse renders, negative, dataset
    /// examples and saliency) as a static site; sharded over a job array with `--shard`.
    Catalogue(CatalogueArgs),
}

/// `catalogue`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct CatalogueArgs {
    #[command(subcommand)]
    pub command: Option<CatalogueCommand>,
    /// `all`, or layer names separated by commas, e.g. `blocks.2,blocks.5`.
    #[arg(long, required = true)]
    pub layers: Option<String>,
    /// Channels as `A..B` (B excluded) of every chosen layer, clipped to each layer's
    /// channels; all by default.
    #[arg(long)]
    pub channels: Option<String>,
    /// A folder of photos for each unit's dataset examples and the saliency of its best one.
    #[arg(long)]
    pub images: Option<PathBuf>,
    /// The catalogue's folder: `plan.json`, `units/`, and the site (`index.html`).
    #[arg(long, required = true)]
    pub out: Option<PathBuf>,
    /// This job's slice as `I/N` (0-based); by default from Slurm's `SLURM_ARRAY_TASK_ID` and
    /// `SLURM_ARRAY_TASK_COUNT`, or a Kubernetes Indexed Job's `JOB_COMPLETION_INDEX` and
    /// `EXCITE_SHARD_COUNT`; else the whole catalogue.
    #[arg(long)]
    pub shard: Option<String>,
    /// Image size in pixels (default: the model's input size, else 128).
    #[arg(long)]
    pub size: Option<usize>,
    /// Optimisation steps of every render.
    #[arg(long, default_value_t = CatalogueConfig::default().steps)]
    pub steps: usize,
    /// The optimiser's learning rate (the library's `learning_rate`; default 0.05 for Adam,
    /// 1.0 for MACO's NAdam).
    #[arg(long, visible_alias = "learning-rate")]
    pub lr: Option<f32>,
    /// The seed (each batch adds the index of its first unit).
    #[arg(long, default_value_t = CatalogueConfig::default().seed)]
    pub seed: u64,
    /// Units rendered together in one batch.
    #[arg(long, default_value_t = CatalogueConfig::default().batch)]
    pub batch: usize,
    /// Diverse renders per unit (0 for none).
    #[arg(long, default_value_t = CatalogueConfig::default().diverse)]
    pub diverse: usize,
    /// Skip the negative (minimised) renders.
    #[arg(long)]
    pub no_negative: bool,
    /// Dataset examples kept per unit, with `--images`.
    #[arg(long, default_value_t = CatalogueConfig::default().top)]
    pub top: usize,
    /// The image parameterization. With `maco`, each unit's pictures are the middle of a
    /// canvas twice the model's input size that the crops saw, at the input size.
    #[arg(long, value_enum, default_value_t = Param::Fourier)]
    pub param: Param,
    /// Refuse a layer whose estimated peak memory is above this many GiB (default: three
    /// quarters of the available memory).
    #[arg(long)]
    pub max_memory: Option<f64>,
    /// The saliency method of each unit's best photo, with `--images` (class-activation maps
    /// read the unit's own layer).
    #[arg(long, default_value = "smoothgrad", value_parser = saliency_methods())]
    pub saliency_method: String,
    /// Turn the random transforms off.
    #[arg(long)]
    pub no_transforms: bool,
    #[command(flatten)]
    pub model: ModelArg,
}

/// `catalogue` subcommands.
#[derive(Debug, Subcommand)]
pub enum CatalogueCommand {
    /// Build the site from the units in `--out` (after the shards of a job array), and say
    /// which are missing (exit status 1 when any is).
    Index {
        /// The catalogue's folder.
        #[arg(long)]
        out: PathBuf,
    },
}

/// The model a command works on.
#[derive(Debug, Args, Clone)]
pub struct ModelArg {
    /// The ONNX model (a `.toml` manifest beside it is read too).
    #[arg(long, default_value_os_t = excite::bundled_model_path())]
    pub model: PathBuf,
}

/// `layers`.
#[derive(Debug, Args)]
pub struct LayersArgs {
    #[command(flatten)]
    pub model: ModelArg,
}

/// `classify`.
#[derive(Debug, Args)]
pub struct ClassifyArgs {
    /// The image (resized to the model's input size when it differs).
    #[arg(long)]
    pub image: PathBuf,
    #[command(flatten)]
    pub model: ModelArg,
}

/// `render-layer`.
#[derive(Debug, Args)]
pub struct RenderLayerArgs {
    /// The layer, e.g. `blocks.5`.
    #[arg(long)]
    pub layer: String,
    /// Channels as `A..B` (B excluded); all by default.
    #[arg(long)]
    pub channels: Option<String>,
    /// Images rendered together in one batch.
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Where the grid, the per-channel PNGs and `record.json` go (default `renders/LAYER`, the
    /// layer name made a safe folder name; a name with unsafe characters gets a short hash
    /// of itself appended, so `a/b` and `a_b` never share a folder).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Skip channels that a previous run of the same settings finished.
    #[arg(long)]
    pub resume: bool,
    /// Score each render against these photos (`scores.json` beside the record; README,
    /// "Renders you can trust").
    #[arg(long)]
    pub images: Option<PathBuf>,
    #[command(flatten)]
    pub ascent: AscentArgs,
}

/// `render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The objective.
    #[arg(long)]
    pub objective: String,
    /// Images in the batch (use with a diversity term).
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    /// Start from this image instead of noise (DeepDream).
    #[arg(long)]
    pub start_image: Option<PathBuf>,
    /// Feature accentuation (Hamblin et al. 2024): from --start-image, excite the objective
    /// while staying close to the photo, to see what in this photo the unit would amplify.
    #[arg(long, requires = "start_image")]
    pub accentuate: bool,
    /// With --accentuate: the layer whose channel means stay close to the photo's (default:
    /// the pixels).
    #[arg(long, requires = "accentuate")]
    pub stay_close: Option<String>,
    /// With --accentuate: the weight of the distance from the photo against the objective.
    #[arg(long, default_value_t = 1.0, requires = "accentuate")]
    pub closeness: f32,
    /// Score the render against these photos: its activation over the best photo's, path
    /// similarity and plausibility (README, "Renders you can trust").
    #[arg(long)]
    pub images: Option<PathBuf>,
    /// For a class logit (`logit:N`): the rank of class N that each of these models gives
    /// the render (transferability).
    #[arg(long, num_args = 1..)]
    pub check_with: Vec<PathBuf>,
    /// The PNG to write (a grid when the batch holds several images).
    #[arg(long, default_value = "render.png")]
    pub out: PathBuf,
    /// Optimise an alpha channel too (Lucid's transparency objective): each step shows the
    /// image over a random background through its alpha and penalises opacity, so only what
    /// excites the unit stays opaque; writes `OUT_alpha.png` (RGBA) beside the image.
    #[arg(long)]
    pub alpha: bool,
    /// The weight of the opacity penalty with `--alpha`, relative to the objective (higher:
    /// more transparent).
    #[arg(long, default_value_t = 1.0, requires = "alpha")]
    pub alpha_penalty: f32,
    #[command(flatten)]
    pub ascent: AscentArgs,
}

/// `examples`.
#[derive(Debug, Args)]
pub struct ExamplesArgs {
    /// The layer, e.g. `blocks.5`.
    #[arg(long)]
    pub layer: String,
    /// Channels as `A..B` (B excluded); all by default.
    #[arg(long)]
    pub channels: Option<String>,
    /// The folder of photos (PNG, JPEG, BMP, WebP; any size: scaled and centre-cropped to
    /// the model's input size), e.g. `testdata/demo_images`.
    #[arg(long)]
    pub images: PathBuf,
    /// Photos kept per ranking.
    #[arg(long, default_value_t = ExamplesConfig::default().top)]
    pub top: usize,
    /// Photos per forward pass.
    #[arg(long, default_value_t = ExamplesConfig::default().batch)]
    pub batch: usize,
    /// Where the strips and `examples.json` go (default `examples/LAYER`, named as
    /// `render-layer`'s folders).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub model: ModelArg,
}

/// `saliency`.
#[derive(Debug, Args)]
pub struct SaliencyArgs {
    /// The photo (scaled and centre-cropped to the model's input size).
    #[arg(long)]
    pub image: PathBuf,
    /// The objective whose sensitivity is mapped, e.g. `logit:282` or `neuron:blocks.5:3`.
    #[arg(long)]
    pub objective: String,
    /// How the map is computed; several, separated by commas, make a panel of their heatmaps
    /// side by side (each map's JSON beside it, named after its method).
    #[arg(long, default_value = "gradient", value_parser = saliency_methods(), value_delimiter = ',')]
    pub method: Vec<String>,
    /// Noisy copies (smoothgrad; default 32) or path steps (integrated-gradients; default
    /// 128: deep networks need hundreds for the attributions to add up closely).
    #[arg(long)]
    pub samples: Option<usize>,
    /// The layer of a class-activation map (grad-cam, grad-cam++, layer-cam, score-cam), a
    /// convolutional or token layer; default: the objective's own layer.
    #[arg(long)]
    pub layer: Option<String>,
    /// The side of occlusion's window, in pixels.
    #[arg(long, default_value_t = SaliencyConfig::default().window)]
    pub window: usize,
    /// The step of occlusion's window, in pixels.
    #[arg(long, default_value_t = SaliencyConfig::default().stride)]
    pub stride: usize,
    /// Also measure the map's faithfulness: deletion and insertion curves with their areas,
    /// and the cascading model-randomisation check (into the JSON).
    #[arg(long)]
    pub metrics: bool,
    /// The heatmap PNG; the raw map goes beside it as JSON.
    #[arg(long, default_value = "saliency.png")]
    pub out: PathBuf,
    #[command(flatten)]
    pub model: ModelArg,
}

/// The saliency methods of the library's table, each with its line of help.
fn saliency_methods() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(
        METHODS
            .iter()
            .map(|m| clap::builder::PossibleValue::new(m.name()).help(m.about())),
    )
}

/// `spectrum`.
#[derive(Debug, Args)]
pub struct SpectrumArgs {
    /// The folder of photos, e.g. `testdata/demo_images`.
    #[arg(long)]
    pub images: PathBuf,
    /// The image side it is computed at (default: the model's input size, else 224).
    #[arg(long)]
    pub size: Option<usize>,
    #[command(flatten)]
    pub model: ModelArg,
}

/// `bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Timed steps per configuration (after a warm-up step).
    #[arg(long, default_value_t = 5)]
    pub steps: usize,
    /// Steps of the end-to-end 16-channel render.
    #[arg(long, default_value_t = 64)]
    pub e2e_steps: usize,
    /// Fewer configurations (128 px; batch 1 and 16).
    #[arg(long)]
    pub quick: bool,
    /// Only the throughput of dataset examples over the demo photos.
    #[arg(long)]
    pub views: bool,
    /// Only the saliency methods' faithfulness and time on demo photos (writes
    /// `saliency_faithfulness.json` and `saliency_methods.png` into the current folder).
    #[arg(long)]
    pub saliency: bool,
    /// Only the render scores' sanity check on a few units (writes `render_scores.json`
    /// into the current folder).
    #[arg(long)]
    pub scores: bool,
    /// With `--saliency`: SmoothGrad's copies and Integrated Gradients' steps.
    #[arg(long, default_value_t = 32)]
    pub saliency_samples: usize,
}

/// Settings of the gradient ascent, shared by the rendering commands.
#[derive(Debug, Args, Clone)]
pub struct AscentArgs {
    #[command(flatten)]
    pub model: ModelArg,
    /// Image size in pixels (square; default: the model's input size, else 128).
    #[arg(long)]
    pub size: Option<usize>,
    /// Optimisation steps.
    #[arg(long, default_value_t = RenderConfig::default().steps)]
    pub steps: usize,
    /// Adam's learning rate (the library's `learning_rate`; default 0.05, 1.0 with
    /// `--param maco`).
    #[arg(long, visible_alias = "learning-rate")]
    pub lr: Option<f32>,
    /// Seed of the initial image and of the transforms.
    #[arg(long, default_value_t = RenderConfig::default().seed)]
    pub seed: u64,
    /// The image parameterization (default: `maco` for `render` on a vision transformer,
    /// as MACO's authors publish it, else `fourier`).
    #[arg(long, value_enum)]
    pub param: Option<Param>,
    /// Turn the random transforms off.
    #[arg(long)]
    pub no_transforms: bool,
    /// Apply the transforms one after the other, the model's input size following each drawn
    /// scale, instead of as one resampling at a constant size.
    #[arg(long)]
    pub variable_size: bool,
    /// The most memory a render may take, in GiB (default: three quarters of what is
    /// available); a larger render is refused before it starts.
    #[arg(long)]
    pub max_memory: Option<f64>,
    /// With `--param maco`: the model's input side (the crops' size) and the natural-image
    /// spectrum, resolved by [`AscentArgs::for_model`].
    #[arg(skip)]
    pub maco: Option<(usize, Option<Vec<f32>>)>,
}

impl AscentArgs {
    /// The memory limit in bytes.
    pub fn memory_limit(&self) -> anyhow::Result<u64> {
        Ok(memory_limit(self.max_memory)?)
    }

    /// These settings with the image size resolved for `model` (its input size when none is
    /// asked for, else 128) and checked to be one the model can take.
    ///
    /// With `--param maco` the optimised canvas is twice the model's input size, the model
    /// sees crops of it at its own size, the saved image is the part the crops saw at the
    /// asked size (the model's input size by default), and the spectrum saved beside the model
    /// (by `cargo xtask spectrum`) is the magnitude, the `1/f` spectrum without one.
    ///
    /// `one_image` says whether the command renders one objective (where MACO, whose crops
    /// fill the batch, can be the default: for models with token layers).
    pub fn for_model(&self, model: &OnnxModel, one_image: bool) -> anyhow::Result<AscentArgs> {
        let param = self.param.unwrap_or(if one_image && model.has_tokens() {
            Param::Maco
        } else {
            Param::Fourier
        });
        let (size, maco) = if param == Param::Maco {
            let side = model.photo_side();
            let magnitude = maco_magnitude(&self.model.model, side)?;
            (self.size.unwrap_or(side), Some((side, magnitude)))
        } else {
            (self.size.unwrap_or_else(|| model.render_side()), None)
        };
        let resolved = AscentArgs {
            size: Some(size),
            param: Some(param),
            maco,
            ..self.clone()
        };
        resolved.config(1).validate()?;
        model.check_input_size(resolved.maco.as_ref().map_or(size, |m| m.0))?;
        Ok(resolved)
    }

    /// The image side: the one asked for or resolved by [`AscentArgs::for_model`].
    pub fn side(&self) -> usize {
        self.size.unwrap_or(RENDER_SIDE)
    }

    /// The render settings these arguments describe, for `batch` images.
    pub fn config(&self, batch: usize) -> RenderConfig {
        if let Some((input, magnitude)) = &self.maco {
            let config = RenderConfig::maco(2 * input, *input, magnitude.clone());
            return RenderConfig {
                param: config.param.clone().with_batch(batch),
                steps: self.steps,
                learning_rate: self.lr.unwrap_or(config.learning_rate),
                seed: self.seed,
                ..config
            };
        }
        RenderConfig {
            param: self
                .param
                .unwrap_or(Param::Fourier)
                .image_param(batch, self.side()),
            steps: self.steps,
            learning_rate: self.lr.unwrap_or(0.05),
            transforms: if self.no_transforms {
                Vec::new()
            } else {
                standard()
            },
            seed: self.seed,
            variable_size: self.variable_size,
            ..RenderConfig::default()
        }
    }
}

/// MACO's magnitudes for a model whose input side is `side`: the spectrum saved beside the
/// model file (`cargo xtask spectrum`), resized to the canvas (twice the side); `None` without
/// one (the `1/f` spectrum).
pub fn maco_magnitude(model: &std::path::Path, side: usize) -> anyhow::Result<Option<Vec<f32>>> {
    let canvas = 2 * side;
    Ok(Spectrum::beside(model)?.map(|s| s.resized([canvas, canvas]).magnitude))
}

/// Image parameterizations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Param {
    /// Fourier spectrum with 1/f scaling and decorrelated colour (Lucid's default).
    Fourier,
    /// Raw pixels with decorrelated colour.
    Pixels,
    /// Phase-only spectrum with a fixed 1/f magnitude, with the standard transforms.
    Phase,
    /// MACO as published: phases under a natural-image spectrum (`cargo xtask spectrum`;
    /// else 1/f), 6 random crops a step, NAdam at lr 1.0, and a transparency map written as
    /// an RGBA PNG beside the image.
    Maco,
}

impl Param {
    /// The parameterization of `batch` square images of `size` pixels.
    pub fn image_param(self, batch: usize, size: usize) -> ImageParam {
        ImageParam::named(&self.name())
            .expect("every --param value is a parameterization")
            .with_size(size, size)
            .with_batch(batch)
    }

    /// The name on the command line.
    pub fn name(self) -> String {
        self.to_possible_value()
            .map(|v| v.get_name().to_string())
            .unwrap_or_default()
    }
}

/// `A..B` (either end may be left out) within `0..channels`.
pub fn channel_range(text: &str, channels: usize) -> anyhow::Result<[usize; 2]> {
    Ok(text.parse::<ChannelRange>()?.within(channels)?)
}
