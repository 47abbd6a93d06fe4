//! `layers`: the layer table, and what the model takes and gives.

use anyhow::Result;
use burn::tensor::Device;
use excite::OnnxModel;
use excite::model::Layout;

use crate::cli::LayersArgs;

/// Prints every layer (name, op, shape as objectives see it, and the model's own layout where
/// it is channels-last), then the input, output and any unsupported operators.
pub fn run(args: &LayersArgs) -> Result<()> {
    let model = OnnxModel::load(&args.model.model, &Device::flex())?;
    let layers = model.layers();
    let width = layers
        .iter()
        .map(|l| l.name.len())
        .max()
        .unwrap_or(4)
        .max(5);
    // Token counts of the token layers: a `[N, heads, T, T]` layer is attention over them.
    let token_counts: Vec<usize> = layers
        .iter()
        .filter_map(|l| l.tokens.as_ref())
        .map(|t| t.prefix + t.grid[0] * t.grid[1])
        .collect();
    println!("{:width$}  {:18}  shape (NCHW)", "layer", "op");
    for l in layers {
        let shape: Vec<String> = l.shape.iter().map(ToString::to_string).collect();
        let note = match (&l.tokens, l.layout) {
            (Some(tokens), _) => format!("  ({})", tokens.describe()),
            (None, Layout::Nhwc) => "  (NHWC in the model)".into(),
            (None, _) => match l.shape[..] {
                [_, heads, t, u] if t == u && token_counts.contains(&t) => {
                    format!("  (attention: {heads} heads × {t}×{t} tokens; `L:H` is head H)")
                }
                _ => String::new(),
            },
        };
        println!("{:width$}  {:18}  {}{note}", l.name, l.op, shape.join("x"));
    }
    let dims: Vec<String> = model
        .input_shape()
        .iter()
        .map(|d| d.map_or("?".to_string(), |d| d.to_string()))
        .collect();
    println!(
        "input: {} {:?}; output: {}; {} nodes run per pass, {} computed at load",
        dims.join("x"),
        model.input_layout(),
        model.output_name().unwrap_or("none"),
        model.node_count(),
        model.folded_count()
    );
    if !model.unsupported().is_empty() {
        eprintln!(
            "warning: unsupported operators (layers after them cannot be computed): {}",
            model.unsupported()
        );
    }
    Ok(())
}
