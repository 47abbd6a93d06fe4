//! The settings of a catalogue: the same for every shard, recorded in the plan and in every
//! unit's record.

use excite_core::transform::standard;
use excite_core::{Error, ImageParam, Observer, Result};
use excite_viz::RenderConfig;
use serde::{Deserialize, Serialize};

/// What is made for each unit, and how (the defaults of `render-layer`: Lucid's Fourier
/// parameterization and transforms, Adam at 0.05, 512 steps).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CatalogueConfig {
    /// Image side in pixels.
    pub size: usize,
    /// Optimisation steps of every render.
    pub steps: usize,
    /// Adam's learning rate.
    pub learning_rate: f32,
    /// The seed; each batch adds the index of its first unit.
    pub seed: u64,
    /// Units rendered together in one batch.
    pub batch: usize,
    /// Diverse renders per unit (0: none; else at least 2).
    pub diverse: usize,
    /// The weight of the diversity term of the diverse renders (Lucid: 100).
    pub diversity: f32,
    /// Whether to render each unit's negative (the channel minimised).
    pub negative: bool,
    /// Dataset examples kept per unit, with photos.
    pub top: usize,
    /// The saliency method of each unit's best example, with photos: a name of
    /// [`excite_views::METHODS`]. Class-activation maps read the unit's own layer.
    #[serde(default = "default_saliency_method")]
    pub saliency_method: String,
    /// Samples (SmoothGrad's noisy copies, Integrated Gradients' steps) of that saliency.
    pub saliency_samples: usize,
    /// Whether the random transforms are on.
    pub transforms: bool,
    /// The image parameterization: `fourier` (Lucid's), `pixels` or `phase`
    /// ([`ImageParam::named`]; MACO's crops are for single renders).
    #[serde(default = "default_param")]
    pub param: String,
    /// Told of the run's progress ([`Progress::Start`](excite_core::Progress::Start),
    /// `Photos`, `Stored`, `Failed`); not recorded, and equal in any two configs.
    #[serde(skip)]
    pub observer: Observer,
}

/// Fourier: the parameterization of catalogues made before it was a setting.
fn default_param() -> String {
    "fourier".into()
}

/// SmoothGrad: the saliency of catalogues made before the method was a setting.
fn default_saliency_method() -> String {
    "smoothgrad".into()
}

impl Default for CatalogueConfig {
    fn default() -> Self {
        Self {
            size: 128,
            steps: 512,
            learning_rate: 0.05,
            seed: 0,
            batch: 16,
            diverse: 3,
            diversity: 100.0,
            negative: true,
            top: 9,
            saliency_method: default_saliency_method(),
            saliency_samples: 16,
            transforms: true,
            param: default_param(),
            observer: Observer::default(),
        }
    }
}

impl CatalogueConfig {
    /// With renders of `size` pixels.
    pub fn with_size(mut self, size: usize) -> Self {
        self.size = size;
        self
    }

    /// With `steps` optimisation steps per render.
    pub fn with_steps(mut self, steps: usize) -> Self {
        self.steps = steps;
        self
    }

    /// With the saliency method named `method` for each unit's best photo.
    pub fn with_saliency_method(mut self, method: &str) -> Self {
        self.saliency_method = method.into();
        self
    }

    /// Telling `observer` of the run's progress.
    pub fn with_observer(mut self, observer: Observer) -> Self {
        self.observer = observer;
        self
    }

    /// Refuses settings that cannot run, with one line naming the setting.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str| Err(Error::Invalid(what.to_string()));
        if self.batch == 0 {
            return bad("the batch must hold at least one unit");
        }
        if self.diverse == 1 {
            return bad("diverse renders come at least two per unit (or 0 for none)");
        }
        if self.top == 0 || self.saliency_samples == 0 {
            return bad("top and saliency samples must be at least 1");
        }
        excite_views::method(&self.saliency_method)?;
        ImageParam::named(&self.param)?;
        if self.param == "maco" {
            return bad(
                "MACO's crops are for single renders (`render --param maco`), not catalogues",
            );
        }
        self.render_config(1, 0).validate()
    }

    /// The render settings of one batch of `batch` images, seeded with `seed`.
    pub fn render_config(&self, batch: usize, seed: u64) -> RenderConfig {
        RenderConfig {
            param: ImageParam::named(&self.param)
                .unwrap_or_else(|_| ImageParam::fourier())
                .with_size(self.size, self.size)
                .with_batch(batch),
            steps: self.steps,
            learning_rate: self.learning_rate,
            transforms: if self.transforms {
                standard()
            } else {
                Vec::new()
            },
            seed,
            ..RenderConfig::default()
        }
    }

    /// How many images each unit costs per step: its render, its negative and its diverse
    /// renders.
    pub fn images_per_unit(&self) -> usize {
        1 + usize::from(self.negative) + self.diverse
    }
}
