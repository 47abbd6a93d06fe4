//! Dataset examples: for each channel of a layer, the photos of a folder that excite it most
//! (and least) on average, and those with the strongest single position, with the patch of
//! the photo that position sees (its receptive field). Photos are streamed in batches and
//! only K of each ranking are kept per channel.

use std::path::PathBuf;

use burn::tensor::{Device, Tensor};
use excite_core::image_io::from_image;
use excite_core::{Error, Observer, Progress, Result, VisualModel};
use serde::{Deserialize, Serialize};

use crate::photos::load_square;
use crate::top_k::TopK;

/// What to collect. `Default`: the first 16 channels, the top 9 photos, batches of 16, 224 px,
/// nobody told of the progress.
#[derive(Debug, Clone, PartialEq)]
pub struct ExamplesConfig {
    /// The channels, `first..end`.
    pub channels: [usize; 2],
    /// How many photos each ranking keeps.
    pub top: usize,
    /// Photos per forward pass.
    pub batch: usize,
    /// The side the photos are scaled and cropped to (the model's input size).
    pub size: usize,
    /// Told of the photos ranked after each batch ([`Progress::Photos`]).
    pub observer: Observer,
}

impl Default for ExamplesConfig {
    fn default() -> Self {
        Self {
            channels: [0, 16],
            top: 9,
            batch: 16,
            size: 224,
            observer: Observer::default(),
        }
    }
}

impl ExamplesConfig {
    /// Checks the settings: a channel range, and top, batch and size of at least 1.
    pub fn validate(&self) -> Result<()> {
        let [first, end] = self.channels;
        if first >= end || self.top == 0 || self.batch == 0 || self.size == 0 {
            return Err(Error::Invalid(
                "examples need a channel range, and top, batch and size of at least 1".into(),
            ));
        }
        Ok(())
    }

    /// With the channels `first..end`.
    pub fn with_channels(mut self, channels: [usize; 2]) -> Self {
        self.channels = channels;
        self
    }

    /// Telling `observer` of the progress.
    pub fn with_observer(mut self, observer: Observer) -> Self {
        self.observer = observer;
        self
    }
}

/// One photo in a ranking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    /// The photo.
    pub image: PathBuf,
    /// The channel's mean activation over the photo, or its strongest single activation.
    pub score: f32,
    /// For the strongest position: where it is in the layer (row, column).
    pub position: Option<[usize; 2]>,
    /// For the strongest position: the box of the (scaled, cropped) photo it sees,
    /// `[y0, x0, y1, x1)`; the whole photo when the layer sees all of it.
    pub crop: Option<[usize; 4]>,
}

/// The rankings of one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelExamples {
    /// The channel.
    pub channel: usize,
    /// The photos of highest mean activation, best first.
    pub top_mean: Vec<Hit>,
    /// The photos of lowest mean activation, lowest first.
    pub bottom_mean: Vec<Hit>,
    /// The photos of the strongest single position, strongest first.
    pub top_max: Vec<Hit>,
}

/// Dataset examples of a layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Examples {
    /// The layer.
    pub layer: String,
    /// The side of the photos as the model saw them.
    pub size: usize,
    /// How many photos were ranked.
    pub photos: usize,
    /// One entry per channel, in order.
    pub channels: Vec<ChannelExamples>,
}

/// The per-channel rankings while photos stream by.
struct Rankings {
    top_mean: TopK<usize>,
    bottom_mean: TopK<usize>,
    top_max: TopK<(usize, [usize; 2])>,
}

/// Ranks the `photos` for each channel of `layer` (see [`ExamplesConfig`]), telling its
/// observer after each batch. A photo that cannot be read is an error naming it.
///
/// ```no_run
/// use burn::tensor::Device;
/// use excite_views::photos::list_photos;
/// use excite_views::{ExamplesConfig, dataset_examples};
///
/// let device = Device::flex();
/// let model = excite_model::OnnxModel::load("models/efficientnet_lite0.onnx", &device)?;
/// let photos = list_photos("testdata/demo_images".as_ref())?;
/// let config = ExamplesConfig::default().with_channels([0, 8]);
/// let examples = dataset_examples(&model, "blocks.5", &photos, &config, &device)?;
/// println!("{}", examples.channels[0].top_mean[0].image.display());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn dataset_examples(
    model: &dyn VisualModel,
    layer: &str,
    photos: &[PathBuf],
    config: &ExamplesConfig,
    device: &Device,
) -> Result<Examples> {
    config.validate()?;
    if photos.is_empty() {
        return Err(Error::Invalid("examples need photos".into()));
    }
    let [first, end] = config.channels;
    let mut rankings: Vec<Rankings> = (first..end)
        .map(|_| Rankings {
            top_mean: TopK::new(config.top),
            bottom_mean: TopK::new(config.top),
            top_max: TopK::new(config.top),
        })
        .collect();
    for (b, chunk) in photos.chunks(config.batch).enumerate() {
        let images = chunk
            .iter()
            .map(|p| load_square(p, config.size as u32).map(|img| from_image(&img, device)))
            .collect::<Result<Vec<_>>>()?;
        let act = model
            .activations(Tensor::cat(images, 0), &[layer])?
            .remove(0);
        rank_batch(&mut rankings, act, b * config.batch, layer, config.channels)?;
        config.observer.notify(Progress::Photos {
            layer: layer.to_string(),
            done: (b * config.batch + chunk.len()).min(photos.len()),
            total: photos.len(),
        });
    }
    let field = model.receptive_field(layer, [config.size; 2]);
    let hit = |photo: usize, score: f32| Hit {
        image: photos[photo].clone(),
        score,
        position: None,
        crop: None,
    };
    let channels = rankings
        .into_iter()
        .enumerate()
        .map(|(k, r)| ChannelExamples {
            channel: first + k,
            top_mean: r
                .top_mean
                .into_sorted()
                .into_iter()
                .map(|(s, p)| hit(p, s))
                .collect(),
            bottom_mean: r
                .bottom_mean
                .into_sorted()
                .into_iter()
                .map(|(s, p)| hit(p, -s))
                .collect(),
            top_max: r
                .top_max
                .into_sorted()
                .into_iter()
                .map(|(s, (p, pos))| Hit {
                    position: Some(pos),
                    crop: Some(field.map_or([0, 0, config.size, config.size], |f| {
                        f.box_at(pos, [config.size; 2])
                    })),
                    ..hit(p, s)
                })
                .collect(),
        })
        .collect();
    Ok(Examples {
        layer: layer.to_string(),
        size: config.size,
        photos: photos.len(),
        channels,
    })
}

/// Offers every photo of a batch of activations (`[N, C, H, W]`, the first photo numbered
/// `offset`) to the rankings of `channels`.
fn rank_batch(
    rankings: &mut [Rankings],
    act: Tensor<4>,
    offset: usize,
    layer: &str,
    [first, end]: [usize; 2],
) -> Result<()> {
    let [n, c, h, w] = act.dims();
    if end > c {
        return Err(Error::Invalid(format!(
            "channels {first}..{end} are out of range: `{layer}` has {c}"
        )));
    }
    let flat: Tensor<3> = act
        .narrow(1, first, end - first)
        .reshape([n, end - first, h * w]);
    let means = host(flat.clone().mean_dim(2))?;
    let (maxes, at) = flat.max_dim_with_indices(2);
    let maxes = host(maxes)?;
    let at: Vec<i64> = at
        .into_data()
        .convert::<i64>()
        .try_to_vec::<i64>()
        .map_err(|e| Error::Invalid(format!("cannot read activations: {e:?}")))?;
    for i in 0..n {
        for (k, r) in rankings.iter_mut().enumerate() {
            let j = i * (end - first) + k;
            r.top_mean.push(means[j], offset + i);
            r.bottom_mean.push(-means[j], offset + i);
            let pos = at[j] as usize;
            r.top_max.push(maxes[j], (offset + i, [pos / w, pos % w]));
        }
    }
    Ok(())
}

/// A small tensor's values on the host.
fn host<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| Error::Invalid(format!("cannot read activations: {e:?}")))
}
