//! Saliency: which pixels of one photo move an objective (a unit, a channel, a class logit).
//! Every method is one entry of [`METHODS`] (see [`method`]): gradients (plain, SmoothGrad,
//! Integrated Gradients, gradient × input), the modified backward rules of deconvnet and
//! guided backpropagation, class-activation maps at a layer (Grad-CAM, Grad-CAM++, LayerCAM,
//! Score-CAM), and occlusion. [`faithfulness`](crate::faithfulness) says which map to believe.
//!
//! ```no_run
//! use burn::tensor::Device;
//! use excite_core::image_io::from_image;
//! use excite_model::OnnxModel;
//! use excite_views::{SaliencyConfig, saliency};
//!
//! let device = Device::flex().autodiff();
//! let model = OnnxModel::load("models/efficientnet_lite0.onnx", &device)?;
//! let photo = from_image(&image::open("cat.png")?.to_rgb8(), &device);
//! let config = SaliencyConfig::new("grad-cam").with_layer("blocks.15");
//! let map = saliency(&model, &"logit:281".parse()?, photo, &config)?;
//! println!("{} at {:?}: {:?}", map.method, map.size, &map.pixels[..4]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

// A new method: its file here (or a type in the file of its family), and its line in [`METHODS`].
mod cam;
mod gradient;
mod method;
mod occlusion;

use burn::tensor::Tensor;
use excite_core::transform::resize;
use excite_core::{Activations, Error, Objective, Observer, Result, VisualModel};
use serde::Serialize;

use cam::{GradCam, GradCamPlusPlus, LayerCam, ScoreCam};
use gradient::{
    DECONVNET, GRADIENT, GUIDED_BACKPROP, GradientXInput, IntegratedGradients, SmoothGrad,
};
use occlusion::Occlusion;

pub use method::{Reduce, SaliencyMethod, method};

/// Every method, in the order `--help` lists them.
pub static METHODS: &[&dyn SaliencyMethod] = &[
    &GRADIENT,
    &SmoothGrad,
    &IntegratedGradients,
    &GradientXInput,
    &DECONVNET,
    &GUIDED_BACKPROP,
    &GradCam,
    &GradCamPlusPlus,
    &LayerCam,
    &ScoreCam,
    &Occlusion,
];

/// Settings of [`saliency`]. `Default` is the plain gradient; each method's own defaults fill
/// what is left `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct SaliencyConfig {
    /// The method's name, one of [`METHODS`] (`gradient`, `guided-backprop`, `grad-cam`, ...).
    pub method: String,
    /// Noisy copies (SmoothGrad) or path steps (Integrated Gradients); `None`: the method's
    /// default.
    pub samples: Option<usize>,
    /// The noise's standard deviation, in pixel values (`[0, 1]` images).
    pub noise: f32,
    /// The baseline pixel value of Integrated Gradients and occlusion (0: black).
    pub baseline: f32,
    /// Images per forward and backward pass.
    pub batch: usize,
    /// The seed of the noise.
    pub seed: u64,
    /// The layer of a class-activation map; `None`: the objective's own layer.
    pub layer: Option<String>,
    /// The side of occlusion's square window, in pixels.
    pub window: usize,
    /// The step of occlusion's window, in pixels.
    pub stride: usize,
    /// Told of the passes done ([`Progress::Passes`]) by the methods that make many.
    pub observer: Observer,
}

impl Default for SaliencyConfig {
    fn default() -> Self {
        Self {
            method: "gradient".into(),
            samples: None,
            noise: 0.15,
            baseline: 0.0,
            batch: 8,
            seed: 0,
            layer: None,
            window: 16,
            stride: 8,
            observer: Observer::default(),
        }
    }
}

impl SaliencyConfig {
    /// The defaults, with the method named `method`.
    pub fn new(method: &str) -> Self {
        Self {
            method: method.into(),
            ..Self::default()
        }
    }

    /// With the layer of a class-activation map.
    pub fn with_layer(mut self, layer: &str) -> Self {
        self.layer = Some(layer.into());
        self
    }

    /// Telling `observer` of the passes done.
    pub fn with_observer(mut self, observer: Observer) -> Self {
        self.observer = observer;
        self
    }

    /// With `samples` noisy copies or path steps.
    pub fn with_samples(mut self, samples: usize) -> Self {
        self.samples = Some(samples);
        self
    }

    /// Checks the settings: a known method, counts of at least one, a finite noise and
    /// baseline, a window that fits its stride.
    pub fn validate(&self) -> Result<&'static dyn SaliencyMethod> {
        let found = method(&self.method)?;
        let bad = |reason: &str| Err(Error::Invalid(reason.into()));
        if self.samples == Some(0) || self.batch == 0 {
            return bad("samples and batch must be at least 1");
        }
        if !self.noise.is_finite() || !self.baseline.is_finite() {
            return bad("noise and baseline must be finite");
        }
        if self.window == 0 || self.stride == 0 {
            return bad("the occlusion window and stride must be at least 1 pixel");
        }
        Ok(found)
    }

    /// The samples the method uses: the setting, or the method's default.
    pub fn samples_for(&self, method: &dyn SaliencyMethod) -> usize {
        self.samples.unwrap_or(method.default_samples())
    }
}

/// A saliency map of one photo.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SaliencyMap {
    /// The method's name.
    pub method: String,
    /// Height and width.
    pub size: [usize; 2],
    /// Per pixel (row-major), as the method reduces its colour channels ([`Reduce`]); a
    /// class-activation map upsampled bilinearly from its layer.
    pub pixels: Vec<f32>,
    /// Per channel and pixel, `[3, H, W]` row-major, signed; empty for class-activation maps.
    pub channels: Vec<f32>,
    /// A class-activation map at its layer's resolution: `[h, w]` and the values row-major.
    pub layer_map: Option<LayerMap>,
    /// The objective at the photo.
    pub value: f32,
    /// The objective at the baseline (Integrated Gradients).
    pub baseline_value: Option<f32>,
}

/// A map at a layer's resolution.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerMap {
    /// The layer.
    pub layer: String,
    /// Height and width.
    pub size: [usize; 2],
    /// The values, row-major.
    pub values: Vec<f32>,
}

/// What a method computes.
#[derive(Debug, Clone)]
pub enum Attribution {
    /// One value per colour channel and pixel, `[1, 3, H, W]`, and the objective at the
    /// baseline where the method has one.
    Pixels(Tensor<4>, Option<f32>),
    /// A map at a layer's resolution, `[h, w]`.
    Layer(String, Tensor<2>),
}

/// What a method works on.
pub struct Input<'a> {
    /// The model.
    pub model: &'a dyn VisualModel,
    /// The objective.
    pub objective: &'a Objective,
    /// The photo, pixels in `[0, 1]`, `[1, 3, H, W]`, on an autodiff device.
    pub image: Tensor<4>,
    /// The settings.
    pub config: &'a SaliencyConfig,
    /// The objective at the photo.
    pub value: f32,
}

/// The saliency of `objective` for `image` (pixels in `[0, 1]`, on an autodiff device) by the
/// method `config` names.
///
/// # Shapes
/// - image: `[1, 3, H, W]`
pub fn saliency(
    model: &dyn VisualModel,
    objective: &Objective,
    image: Tensor<4>,
    config: &SaliencyConfig,
) -> Result<SaliencyMap> {
    let found = config.validate()?;
    let [n, channels, h, w] = image.dims();
    if n != 1 || channels != 3 {
        return Err(Error::Image(format!(
            "saliency takes one RGB image, got shape {:?}",
            image.dims()
        )));
    }
    let value = scalar(objective.evaluate_on(model, image.clone())?)?;
    let input = Input {
        model,
        objective,
        image,
        config,
        value,
    };
    let (pixels, channels, layer_map, baseline_value) = match found.compute(&input)? {
        Attribution::Pixels(attribution, baseline) => {
            let channels = to_vec(attribution)?;
            (
                found.reduce().apply(&channels, h * w),
                channels,
                None,
                baseline,
            )
        }
        Attribution::Layer(layer, map) => {
            let [mh, mw] = map.dims();
            let up = resize(map.clone().reshape([1, 1, mh, mw]), [h, w]);
            let layer_map = LayerMap {
                layer,
                size: [mh, mw],
                values: to_vec(map)?,
            };
            (to_vec(up)?, Vec::new(), Some(layer_map), None)
        }
    };
    Ok(SaliencyMap {
        method: found.name().into(),
        size: [h, w],
        pixels,
        channels,
        layer_map,
        value,
        baseline_value,
    })
}

/// `objective` on each of `images` alone, from one forward pass without gradients.
///
/// # Shapes
/// - images: `[B, 3, H, W]`
/// - output: `B` values
pub fn values_per_image(
    model: &dyn VisualModel,
    objective: &Objective,
    images: Tensor<4>,
) -> Result<Vec<f32>> {
    let images = images.detach();
    let layers: Vec<&str> = objective.layers().iter().map(String::as_str).collect();
    let activations = Activations::compute(model, images.clone(), images.clone(), &layers)?;
    (0..images.dims()[0])
        .map(|i| scalar(objective.clone().at(i).evaluate(&activations)?))
        .collect()
}

/// A tensor's values, row-major.
fn to_vec<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| Error::Invalid(format!("cannot read the map: {e:?}")))
}

/// A one-element tensor's value, which must be finite.
pub(crate) fn scalar(t: Tensor<1>) -> Result<f32> {
    let v = t.into_scalar::<f32>();
    if v.is_finite() {
        Ok(v)
    } else {
        Err(Error::Invalid(format!(
            "the objective is {v} on this image"
        )))
    }
}
