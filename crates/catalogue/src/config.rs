//! The settings of a catalogue: the same for every shard, recorded in the plan and in every
//! unit's record.

use std::sync::Arc;

use excite_core::transform::standard;
use excite_core::{Error, ImageParam, Observer, Result};
use excite_viz::RenderConfig;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

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
    /// The image parameterization: `fourier` (Lucid's), `pixels`, `phase` or `maco`
    /// ([`ImageParam::named`]). With `maco`, `size` is the model's input side (the crops'
    /// size): the canvas is twice that, each unit's pictures are the part its crops saw, at
    /// `size`, and the transforms are MACO's crops.
    #[serde(default = "default_param")]
    pub param: String,
    /// With `maco`: the SHA-256 of the natural-image magnitude spectrum the phases are
    /// optimised under ([`CatalogueConfig::with_spectrum`]); `None`, the `1/f` spectrum.
    #[serde(default)]
    pub spectrum: Option<String>,
    /// That spectrum's magnitudes, `[2 size, size + 1]` (recorded by its hash only).
    #[serde(skip)]
    pub magnitude: Magnitude,
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
            spectrum: None,
            magnitude: Magnitude::default(),
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
        if self.spectrum.is_some() != self.magnitude.0.is_some() {
            return bad("a MACO spectrum needs both its magnitudes and their hash");
        }
        self.render_config(1, 0).validate()
    }

    /// With MACO's natural-image magnitude spectrum for a canvas of `2 size` (from
    /// `Spectrum::resized`), recorded by its SHA-256.
    pub fn with_spectrum(mut self, magnitude: Vec<f32>) -> Self {
        let mut hash = Sha256::new();
        for m in &magnitude {
            hash.update(m.to_le_bytes());
        }
        self.spectrum = Some(hash.finalize().iter().map(|b| format!("{b:02x}")).collect());
        self.magnitude = Magnitude(Some(Arc::new(magnitude)));
        self
    }

    /// The render settings of one batch of `batch` images, seeded with `seed`.
    pub fn render_config(&self, batch: usize, seed: u64) -> RenderConfig {
        if self.param == "maco" {
            let magnitude = self.magnitude.0.as_ref().map(|m| m.to_vec());
            let config = RenderConfig::maco(2 * self.size, self.size, magnitude);
            return RenderConfig {
                param: config.param.clone().with_batch(batch),
                steps: self.steps,
                learning_rate: self.learning_rate,
                seed,
                ..config
            };
        }
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
    /// renders (with `maco`, each is seen through several crops a step: this counts the
    /// optimised images, not the crops).
    pub fn images_per_unit(&self) -> usize {
        1 + usize::from(self.negative) + self.diverse
    }
}

/// MACO's magnitude spectrum in a config: compared by the config's `spectrum` hash, so any
/// two compare equal here (a plan read back from `plan.json` has none).
#[derive(Clone, Default)]
pub struct Magnitude(pub Option<Arc<Vec<f32>>>);

impl std::fmt::Debug for Magnitude {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(m) => write!(f, "Magnitude({} values)", m.len()),
            None => write!(f, "Magnitude(1/f)"),
        }
    }
}

impl PartialEq for Magnitude {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
