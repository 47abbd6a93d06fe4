//! `layers`: the layer table.

use anyhow::Result;
use burn::tensor::Device;
use excite::OnnxModel;

use crate::cli::LayersArgs;

/// Prints every layer: name, op and shape.
pub fn run(args: &LayersArgs) -> Result<()> {
    let model = OnnxModel::load(&args.model.model, &Device::flex())?;
    let layers = model.layers();
    let width = layers
        .iter()
        .map(|l| l.name.len())
        .max()
        .unwrap_or(4)
        .max(5);
    println!("{:width$}  {:18}  shape", "layer", "op");
    for l in layers {
        let shape: Vec<String> = l.shape.iter().map(ToString::to_string).collect();
        println!("{:width$}  {:18}  {}", l.name, l.op, shape.join("x"));
    }
    Ok(())
}
