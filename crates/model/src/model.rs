//! A loaded ONNX model: its nodes, weights on a device, and what is known of its layers.

use std::collections::HashMap;
use std::path::Path;

use burn::tensor::{Device, Gradients, Tensor};
use excite_core::RectifierRule;
use excite_core::files::sha256_hex;
use excite_core::objective::OUTPUT;

use crate::error::{ModelError, Result};
use crate::graph::Node;
use crate::infer::infer_graph;
use crate::layout::{DEFAULT_SIDE, Layout, probe_shape};
use crate::manifest::{Manifest, Normalization};
use crate::onnx_file::read_model;
use crate::ops::SUPPORTED_OPS;
use crate::tokens::{PREFIX_SUFFIX, Part, Tokens, tokens_to_nchw};
use crate::trace::Trace;
use crate::unsupported::UnsupportedReport;
use crate::value::{Meta, Value};
use excite_core::names::nearest;

/// A layer of the model: a tensor computed from the input image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerInfo {
    /// The layer's name: the tensor's name in the ONNX file.
    pub name: String,
    /// The ONNX op type that produces it.
    pub op: String,
    /// Its shape for one input image at the model's declared input size, as objectives see
    /// it: `[N, C, H, W]` (channels first whatever the model's layout), `[N, K]`, `[N, C, L]`.
    pub shape: Vec<usize>,
    /// The layout the model computes it in (4-D tensors; NCHW otherwise).
    pub layout: Layout,
    /// How it holds tokens, for a transformer's token layer `[N, T, D]` (whose `shape` is
    /// then its grid, `[N, D, h, w]`).
    pub tokens: Option<Tokens>,
}

/// The side of a render when neither the user nor the model says (Lucid's 128 px).
pub const RENDER_SIDE: usize = 128;

/// An ONNX CNN imported into Burn, on one device.
///
/// Weights live on the device given to [`OnnxModel::load`]; on an autodiff device, gradients of
/// any layer flow back to the input. Inference semantics are fixed (batch norm uses its running
/// statistics, dropout is the identity), so no `.valid()` call is needed.
#[derive(Debug)]
pub struct OnnxModel {
    /// The nodes that depend on the input, in topological order.
    pub(crate) nodes: Vec<Node>,
    /// The index in `nodes` of the writer of each tensor.
    pub(crate) producer: HashMap<String, usize>,
    /// Initializers and folded constants that the nodes read.
    pub(crate) weights: HashMap<String, Value>,
    pub(crate) input_name: String,
    pub(crate) input_shape: Vec<Option<usize>>,
    pub(crate) input_layout: Layout,
    pub(crate) output_names: Vec<String>,
    pub(crate) device: Device,
    pub(crate) normalization: Normalization,
    pub(crate) manifest: Option<Manifest>,
    pub(crate) fingerprint: String,
    pub(crate) layers: Vec<LayerInfo>,
    /// The layout of every 4-D activation.
    pub(crate) layouts: HashMap<String, Layout>,
    /// Tensors that depend on an unsupported op, with its node.
    pub(crate) blocked: HashMap<String, String>,
    pub(crate) unsupported: UnsupportedReport,
    /// How many nodes were computed at load.
    pub(crate) folded: usize,
    /// The only spatial size the graph can take (height, width), when its shapes are baked
    /// in (a static reshape after the convolutions).
    pub(crate) fixed_size: Option<[usize; 2]>,
    /// Whether the graph can take one image at a time only (a batch of one baked into a
    /// reshape).
    pub(crate) single_image: bool,
    /// The token layers, by name.
    pub(crate) tokens: HashMap<String, Tokens>,
    /// The input pixels the first patch of a transformer's patch embedding sees (none for
    /// other models): the patches cover `k + s·(n - 1)` pixels of a side.
    pub(crate) patch: Option<excite_core::ReceptiveField>,
}

impl OnnxModel {
    /// Loads an ONNX file onto `device`, with the settings of its manifest when one sits
    /// beside it (`x.toml` beside `x.onnx`; see [`Manifest`]).
    pub fn load(path: impl AsRef<Path>, device: &Device) -> Result<Self> {
        let path = path.as_ref();
        let manifest = Manifest::beside(path)?;
        let (proto, bytes) = read_model(path)?;
        let layout = manifest.as_ref().and_then(|m| m.layout);
        let mut model = Self::build(&proto, path.parent(), device, layout)?;
        model.fingerprint = sha256_hex(&bytes);
        if let Some(m) = manifest {
            if let Some(output) = &m.output {
                model
                    .check_layer(output)
                    .map_err(|e| ModelError::Manifest {
                        path: m.path.clone(),
                        reason: format!("output: {e}"),
                    })?;
            }
            model.fingerprint = sha256_hex(format!("{}\n{}", model.fingerprint, m.text).as_bytes());
            model.normalization = m.normalization.clone();
            model.manifest = Some(m);
        }
        Ok(model)
    }

    /// The SHA-256 (hex) of the model file and, when there is one, of its manifest: what a
    /// resumed run checks to be sure that it continues with the same model.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The manifest read beside the model file by [`OnnxModel::load`], if there was one.
    pub fn manifest(&self) -> Option<&Manifest> {
        self.manifest.as_ref()
    }

    /// Sets how pixels in `[0, 1]` are normalised before the model sees them (used by the
    /// [`excite_core::VisualModel`] implementation).
    pub fn with_normalization(mut self, normalization: Normalization) -> Self {
        self.normalization = normalization;
        self
    }

    /// The input normalisation of the `VisualModel` implementation.
    pub fn normalization(&self) -> &Normalization {
        &self.normalization
    }

    /// The device the weights live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The graph's declared input shape, in the model's layout (`None` for a dynamic axis).
    pub fn input_shape(&self) -> &[Option<usize>] {
        &self.input_shape
    }

    /// The axis order the model takes its input in.
    pub fn input_layout(&self) -> Layout {
        self.input_layout
    }

    /// The square side the model is meant to see: the manifest's `input_size`, else the
    /// declared height when height and width are static and equal; `None` when neither says.
    pub fn input_size(&self) -> Option<usize> {
        if let Some(size) = self.manifest.as_ref().and_then(|m| m.input_size) {
            return Some(size);
        }
        let (h, w) = match self.input_layout {
            Layout::Nchw => (2, 3),
            Layout::Nhwc => (1, 2),
        };
        match (self.input_shape.get(h), self.input_shape.get(w)) {
            (Some(Some(h)), Some(Some(w))) if h == w => Some(*h),
            _ => None,
        }
    }

    /// The side photos are scaled and cropped to for this model: [`OnnxModel::input_size`],
    /// else 224 (ImageNet's, for a model whose input size is dynamic).
    pub fn photo_side(&self) -> usize {
        self.input_size().unwrap_or(DEFAULT_SIDE)
    }

    /// The side of a render for this model when none is asked for: its input size, else
    /// [`RENDER_SIDE`].
    pub fn render_side(&self) -> usize {
        self.input_size().unwrap_or(RENDER_SIDE)
    }

    /// Checks that images of `side` x `side` can be visualised: that every node can take
    /// them, by shape inference (the error names the first node that cannot; nothing runs).
    /// A model with a [fixed size](OnnxModel::fixed_size) takes any size, resampled to its own.
    pub fn check_input_size(&self, side: usize) -> Result<()> {
        if self.fixed_size.is_some() {
            return Ok(());
        }
        self.shapes_at([side, side]).map(|_| ())
    }

    /// The shape of every float tensor for one image of `size` (height, width), by shape
    /// inference; the error names the first node that cannot take that size.
    pub(crate) fn shapes_at(&self, size: [usize; 2]) -> Result<HashMap<String, Vec<usize>>> {
        let probe = probe_shape(&self.input_shape, self.input_layout, Some(size));
        let inferred = infer_graph(
            &self.nodes,
            &self.weights,
            (
                self.input_name.as_str(),
                Meta::Float(probe),
                self.input_layout,
            ),
        )
        .map_err(|e| {
            ModelError::BadInput(format!(
                "the model cannot take a {} x {} image: {e}",
                size[0], size[1]
            ))
        })?;
        Ok(inferred
            .known
            .into_iter()
            .filter_map(|(name, k)| match k.meta {
                Meta::Float(s) => Some((name, s)),
                Meta::Ints(_) => None,
            })
            .collect())
    }

    /// The only spatial size (height, width) the model can take, when the export baked its
    /// shapes in; `None` when it takes any size. [`excite_core::VisualModel::activations`]
    /// resamples images to this size.
    pub fn fixed_size(&self) -> Option<[usize; 2]> {
        self.fixed_size
    }

    /// Whether the export baked a batch of one into the graph: `forward_to` then runs a
    /// batch one image at a time.
    pub fn single_image(&self) -> bool {
        self.single_image
    }

    /// The graph output that holds the logits: the manifest's `output`, else the first.
    pub fn output_name(&self) -> Result<&str> {
        self.manifest
            .as_ref()
            .and_then(|m| m.output.as_deref())
            .or(self.output_names.first().map(String::as_str))
            .ok_or_else(|| ModelError::Invalid("the graph has no output".into()))
    }

    /// The number of nodes that run per forward pass (those that depend on the input).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The number of nodes computed once at load (shape arithmetic, weight reshapes).
    pub fn folded_count(&self) -> usize {
        self.folded
    }

    /// Every operator of the model that this importer does not implement (empty when all
    /// are). Layers before them work; layers after them are refused with this list.
    pub fn unsupported(&self) -> &UnsupportedReport {
        &self.unsupported
    }

    /// Every layer (float tensor computed from the input) in topological order, with its op
    /// and shape for one image at the declared input size (dynamic axes taken as 3 x 224 x
    /// 224), as inferred at load: nothing runs.
    pub fn layers(&self) -> &[LayerInfo] {
        &self.layers
    }

    /// The names of every layer, in graph order.
    pub fn layer_names(&self) -> impl Iterator<Item = &str> {
        self.layers.iter().map(|l| l.name.as_str())
    }

    /// The tensor a layer name stands for ([`OUTPUT`] resolved; a token layer's
    /// [prefix name](crate::prefix_layer) stands for the token layer).
    pub(crate) fn resolve<'a>(&'a self, name: &'a str) -> &'a str {
        self.part(name).0
    }

    /// The tensor a layer name stands for and, for a token layer, the part it asks for.
    fn part<'a>(&'a self, name: &'a str) -> (&'a str, Option<Part>) {
        if name == OUTPUT && !self.producer.contains_key(name) {
            return (self.output_name().unwrap_or(name), None);
        }
        if let Some(base) = name.strip_suffix(PREFIX_SUFFIX)
            && self.tokens.contains_key(base)
        {
            return (base, Some(Part::Prefix));
        }
        (name, self.tokens.contains_key(name).then_some(Part::Grid))
    }

    /// How a token layer holds its tokens (`None` for other layers).
    pub fn tokens(&self, layer: &str) -> Option<&Tokens> {
        self.tokens.get(self.resolve(layer))
    }

    /// Whether the model has token layers (a vision transformer).
    pub fn has_tokens(&self) -> bool {
        !self.tokens.is_empty()
    }

    /// The largest image side at most `side` that a transformer's patches cover exactly (a
    /// ViT of 16-pixel patches reads 224 of 236 pixels and drops the rest); `None` for a
    /// model without patch embedding, or one whose patches start in padding.
    pub fn patch_cover(&self, side: [usize; 2]) -> Option<[usize; 2]> {
        let field = self.patch?;
        if field.lo != [0, 0] {
            return None;
        }
        let cover = |axis: usize| {
            let (kernel, stride) = ((field.hi[axis] + 1) as usize, field.jump[axis] as usize);
            let len = side[axis];
            (len >= kernel && stride > 0).then(|| (len - kernel) / stride * stride + kernel)
        };
        Some([cover(0)?, cover(1)?])
    }

    /// The error for a layer name that cannot be computed: unknown (with the nearest names
    /// as suggestions) or after an unsupported op.
    pub fn check_layer(&self, name: &str) -> Result<()> {
        let name = self.resolve(name);
        if let Some(node) = self.blocked.get(name) {
            return Err(ModelError::UnsupportedOp {
                layer: name.to_string(),
                node: node.clone(),
                report: self.unsupported.clone(),
                supported: SUPPORTED_OPS.join(", "),
            });
        }
        if self.producer.contains_key(name) || name == self.input_name {
            Ok(())
        } else if let Some(base) = name.strip_suffix(PREFIX_SUFFIX)
            && self.producer.contains_key(base)
        {
            let token_layers = self
                .layers
                .iter()
                .filter(|l| l.tokens.as_ref().is_some_and(|t| t.prefix > 0))
                .map(|l| l.name.as_str());
            let offer = match nearest(base, token_layers).first() {
                Some(near) => format!("layers with a class token include `{near}`"),
                None => "this model has no layer with a class or prefix token".into(),
            };
            Err(ModelError::BadInput(format!(
                "layer `{base}` holds no class or prefix token; {offer}"
            )))
        } else {
            Err(ModelError::UnknownLayer {
                name: name.to_string(),
                suggestions: nearest(name, self.layer_names()),
            })
        }
    }

    /// The indices of the nodes that must run to produce `layers`, in topological order.
    pub fn plan(&self, layers: &[&str]) -> Result<Vec<usize>> {
        let mut needed = vec![false; self.nodes.len()];
        let mut stack = Vec::new();
        for &layer in layers {
            self.check_layer(layer)?;
            stack.extend(self.producer.get(self.resolve(layer)).copied());
        }
        while let Some(i) = stack.pop() {
            if std::mem::replace(&mut needed[i], true) {
                continue;
            }
            for input in &self.nodes[i].inputs {
                if let Some(&j) = self.producer.get(input.as_str()) {
                    stack.push(j);
                }
            }
        }
        Ok((0..self.nodes.len()).filter(|&i| needed[i]).collect())
    }

    /// Runs the graph on `input` (NCHW, already normalised; a channels-last model gets it
    /// transposed; a model that takes one image at a time gets them one by one) and returns
    /// the named layers as NCHW tensors, computing only the nodes they depend on. Channels-last activations come back channels first; layers of rank 2
    /// (`[N, K]`) as `[N, K, 1, 1]`, rank 3 as `[N, C, L, 1]`.
    ///
    /// # Shapes
    /// - input: `[N, C, H, W]`
    /// - output: one `[N, C', H', W']` per layer
    pub fn forward_to(&self, input: Tensor<4>, layers: &[&str]) -> Result<Vec<Tensor<4>>> {
        self.forward_traced(input, layers, &mut Trace::default())
    }

    /// [`OnnxModel::forward_to`] with gradients passing back through the rectifiers by `rule`
    /// (deconvnet, guided backpropagation; see [`RectifierRule`]).
    ///
    /// # Shapes
    /// - input: `[N, C, H, W]`
    /// - output: one `[N, C', H', W']` per layer
    pub fn forward_by_rule(
        &self,
        input: Tensor<4>,
        layers: &[&str],
        rule: RectifierRule,
    ) -> Result<Vec<Tensor<4>>> {
        let mut trace = Trace {
            rule,
            ..Trace::default()
        };
        self.forward_traced(input, layers, &mut trace)
    }

    /// [`OnnxModel::forward_to`] with a probe at layer `at`: the activations of `layers` and
    /// then of `at`, and a probe that reads the gradient with respect to `at`'s activation
    /// from the gradients of anything computed from them.
    ///
    /// # Shapes
    /// - input: `[N, C, H, W]`
    /// - output: one `[N, C', H', W']` per layer and one for `at`
    pub fn forward_probed(
        &self,
        input: Tensor<4>,
        layers: &[&str],
        at: &str,
    ) -> Result<(Vec<Tensor<4>>, LayerProbe<'_>)> {
        if self.single_image && input.dims()[0] > 1 {
            return Err(ModelError::BadInput(
                "a probed run of a model that takes one image at a time takes one image".into(),
            ));
        }
        let (name, _) = self.part(at);
        let mut trace = Trace {
            probe: Some(self.resolve(name).to_string()),
            ..Trace::default()
        };
        let mut with_at = layers.to_vec();
        with_at.push(at);
        let mut values = self.run_layers(input, &with_at, &mut trace)?;
        let sources = values.split_off(with_at.len());
        let leaf = trace.probe_leaf.take().ok_or_else(|| {
            ModelError::BadInput(format!(
                "layer `{at}` is not computed on the way to {layers:?}"
            ))
        })?;
        // The probe's own patch embedding, where `at` (the last layer) is a token layer.
        let source = self.tokens(at).and(sources.last().cloned());
        let activations = self.layers_to_nchw(values, &with_at, &sources)?;
        let probe = LayerProbe {
            model: self,
            layer: at.to_string(),
            leaf,
            source,
        };
        Ok((activations, probe))
    }

    /// Runs `layers` under `trace` and converts them to NCHW.
    fn forward_traced(
        &self,
        input: Tensor<4>,
        layers: &[&str],
        trace: &mut Trace,
    ) -> Result<Vec<Tensor<4>>> {
        let batch = input.dims()[0];
        if self.single_image && batch > 1 {
            let mut per_layer: Vec<Vec<Tensor<4>>> = vec![Vec::with_capacity(batch); layers.len()];
            for image in input.split(1, 0) {
                for (all, one) in per_layer
                    .iter_mut()
                    .zip(self.forward_traced(image, layers, trace)?)
                {
                    all.push(one);
                }
            }
            return Ok(per_layer.into_iter().map(|t| Tensor::cat(t, 0)).collect());
        }
        let mut values = self.run_layers(input, layers, trace)?;
        let sources = values.split_off(layers.len());
        self.layers_to_nchw(values, layers, &sources)
    }

    /// The raw values of `layers`, followed by those of the patch embeddings of their token
    /// layers (which give the grid at this input size).
    fn run_layers(
        &self,
        input: Tensor<4>,
        layers: &[&str],
        trace: &mut Trace,
    ) -> Result<Vec<Value>> {
        let sources = self.token_sources(layers);
        self.run_traced(input, &[layers, &sources].concat(), trace)
    }

    /// The patch embeddings of the token layers among `layers`.
    fn token_sources<'a>(&'a self, layers: &[&str]) -> Vec<&'a str> {
        layers
            .iter()
            .filter_map(|l| self.tokens(l).map(|t| t.source.as_str()))
            .collect()
    }

    /// The raw values of `layers` as NCHW tensors, given the values of their token sources
    /// (one per token layer among `layers`, in order, as [`OnnxModel::token_sources`] lists
    /// them).
    fn layers_to_nchw(
        &self,
        values: Vec<Value>,
        layers: &[&str],
        source_values: &[Value],
    ) -> Result<Vec<Tensor<4>>> {
        let mut sources = source_values.iter();
        values
            .into_iter()
            .zip(layers)
            .map(|(value, layer)| {
                let source = self.tokens(layer).and_then(|_| sources.next());
                self.layer_to_nchw(value, layer, source)
            })
            .collect()
    }

    /// One raw value of `layer` as an NCHW tensor; `source`, its patch embedding's value,
    /// where it is a token layer.
    fn layer_to_nchw(
        &self,
        value: Value,
        layer: &str,
        source: Option<&Value>,
    ) -> Result<Tensor<4>> {
        match (self.part(layer), source) {
            ((name, Some(part)), Some(source)) => {
                tokens_to_nchw(name, value, source, &self.tokens[name], part)
            }
            ((name, _), _) => to_nchw(value, name, self.layouts.get(name).copied()),
        }
    }

    /// Runs the graph on `input` (normalised, in the model's input layout as ONNX sees it) and
    /// returns the named tensors as the graph holds them: any rank, the model's own axis
    /// order, token layers as `[N, T, D]`; weights, and values computed from weights at load,
    /// as they are. For comparisons with other runtimes.
    ///
    /// # Shapes
    /// - input: the graph input's shape
    /// - output: per tensor, its shape and its values flattened row-major, `[numel]`
    pub fn forward_raw(
        &self,
        input: Tensor<4>,
        tensors: &[&str],
    ) -> Result<Vec<(Vec<usize>, Tensor<1>)>> {
        let input = match self.input_layout {
            Layout::Nchw => input,
            Layout::Nhwc => input.permute(Layout::Nhwc.to_nchw()),
        };
        // Weights and what was folded into them at load are served as they are.
        let computed: Vec<&str> = tensors
            .iter()
            .copied()
            .filter(|t| !self.weights.contains_key(*t))
            .collect();
        let mut values = self.run(input, &computed)?.into_iter();
        tensors
            .iter()
            .map(|name| match self.weights.get(*name) {
                Some(weight) => weight.clone(),
                None => values.next().expect("one value per computed tensor"),
            })
            .collect::<Vec<Value>>()
            .into_iter()
            .zip(tensors)
            .map(|(value, name)| {
                let shape = value.shape();
                match value {
                    Value::Float { tensor, .. } => {
                        let count: usize = shape.iter().product();
                        Ok((shape, tensor.reshape([count])))
                    }
                    Value::Ints(_) => Err(ModelError::BadInput(format!(
                        "`{name}` holds integers, not activations"
                    ))),
                }
            })
            .collect()
    }

    /// Runs the graph as far as its logits output ([`OnnxModel::output_name`]) and returns
    /// it as NCHW (`[N, K, 1, 1]` for logits).
    ///
    /// # Shapes
    /// - input: `[N, C, H, W]`
    /// - output: `[N, K, H', W']`
    pub fn forward(&self, input: Tensor<4>) -> Result<Tensor<4>> {
        Ok(self.forward_to(input, &[OUTPUT])?.remove(0))
    }
}

/// A layer's value as an NCHW tensor.
fn to_nchw(value: Value, layer: &str, layout: Option<Layout>) -> Result<Tensor<4>> {
    let shape = value.shape();
    let Value::Float { tensor, .. } = value else {
        return Err(ModelError::BadInput(format!(
            "layer `{layer}` holds integers, not activations"
        )));
    };
    let dims = match shape.as_slice() {
        [n, c, h, w] => [*n, *c, *h, *w],
        [n, c, l] => [*n, *c, *l, 1],
        [n, k] => [*n, *k, 1, 1],
        _ => {
            return Err(ModelError::BadInput(format!(
                "layer `{layer}` has shape {shape:?}; only layers of rank 2 to 4 are activations"
            )));
        }
    };
    let t: Tensor<4> = tensor.reshape(dims);
    Ok(match layout {
        Some(Layout::Nhwc) => t.permute(Layout::Nhwc.to_nchw()),
        _ => t,
    })
}

/// A probe of [`OnnxModel::forward_probed`]: reads the gradient with respect to its layer.
#[derive(Debug)]
pub struct LayerProbe<'a> {
    model: &'a OnnxModel,
    layer: String,
    leaf: Value,
    source: Option<Value>,
}

impl LayerProbe<'_> {
    /// The gradient with respect to the probed layer's activation, in its NCHW shape; `None`
    /// when nothing in `grads` depends on it.
    ///
    /// # Shapes
    /// - output: `[N, C, H, W]` of the layer
    pub fn gradient(&self, grads: &Gradients) -> Result<Option<Tensor<4>>> {
        let Value::Float { tensor, rank } = &self.leaf else {
            return Ok(None);
        };
        let Some(grad) = tensor.grad(grads) else {
            return Ok(None);
        };
        let value = Value::Float {
            tensor: grad,
            rank: *rank,
        };
        self.model
            .layer_to_nchw(value, &self.layer, self.source.as_ref())
            .map(Some)
    }
}
