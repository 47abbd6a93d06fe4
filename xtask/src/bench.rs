//! `cargo xtask bench`: step times, FLOP rates against the machine's matmul rate, where the time
//! goes, and the gains of truncated forward and of batching — all measured in one run.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{Result, bail};
use burn::tensor::{Device, Distribution, Tensor};
use excite::core::objective::channels_per_image;
use excite::core::{Result as CoreResult, VisualModel};
use excite::views::photos::list_photos;
use excite::views::{ExamplesConfig, dataset_examples};
use excite::viz::{Ascent, backend_name};
use excite::{ImageParam, OnnxModel, RenderConfig, render_channels};

use crate::cli::BenchArgs;

/// The layers timed: early, middle and last spatial layer of EfficientNet-Lite0.
const LAYERS: [&str; 3] = ["blocks.1", "blocks.5", "head.relu6"];

fn machine(device: &Device) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!("{cpu}, {threads} threads, backend {}", backend_name(device))
}

/// The best of five `n x n` float32 matmuls, in GFLOP/s, at whichever of `n` = 1024 and 4096
/// runs faster (a GPU needs the larger size to reach its rate). Each product has fresh
/// inputs and is read back, so no backend can skip or reuse it.
fn matmul_rate(device: &Device) -> Result<(usize, f64)> {
    let mut best = (0, 0.0);
    for n in [1024, 4096] {
        let a = Tensor::<2>::random([n, n], Distribution::Default, device);
        let b = Tensor::<2>::random([n, n], Distribution::Default, device);
        let mut fastest = f64::INFINITY;
        for round in 0..6 {
            let a = a.clone().add_scalar(round as f32);
            sync(device)?;
            let started = Instant::now();
            let checksum = a.matmul(b.clone()).sum().into_scalar::<f32>();
            let seconds = started.elapsed().as_secs_f64();
            if !checksum.is_finite() {
                bail!("the matmul benchmark gave a non-finite result");
            }
            if round > 0 {
                fastest = fastest.min(seconds);
            }
        }
        let rate = 2.0 * (n as f64).powi(3) / fastest / 1e9;
        if rate > best.1 {
            best = (n, rate);
        }
    }
    Ok(best)
}

/// The model with its forward forced through the whole graph (for the truncation ratio).
struct FullForward<'a>(&'a OnnxModel);

impl VisualModel for FullForward<'_> {
    fn activations(&self, images: Tensor<4>, layers: &[&str]) -> CoreResult<Vec<Tensor<4>>> {
        let mut all = layers.to_vec();
        all.push("logits");
        let mut out = self.0.activations(images, &all)?;
        out.truncate(layers.len());
        Ok(out)
    }
}

struct Timing {
    step: f64,
    forward: f64,
    backward: f64,
}

/// Median step time of an ascent on `layer` with `batch` images of `size` px. The device is
/// synchronised after each step, so that a GPU's queued work is counted in the step that
/// queued it (the backward time is the rest of the step after the forward).
fn time_steps(
    model: &dyn VisualModel,
    layer: &str,
    size: usize,
    batch: usize,
    steps: usize,
    device: &Device,
) -> Result<Timing> {
    let objective = channels_per_image(layer, (0..batch).collect());
    let config = RenderConfig::default().with_param(
        ImageParam::fourier()
            .with_size(size, size)
            .with_batch(batch),
    );
    let mut ascent = Ascent::new(model, &objective, &config, device)?;
    ascent.step()?;
    sync(device)?;
    let mut timings = (0..steps)
        .map(|_| {
            let started = Instant::now();
            let report = ascent.step()?;
            sync(device)?;
            let step = started.elapsed().as_secs_f64();
            Ok(Timing {
                step,
                forward: report.forward_seconds,
                backward: step - report.forward_seconds,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    timings.sort_by(|a, b| a.step.total_cmp(&b.step));
    Ok(timings.swap_remove(timings.len() / 2))
}

/// Waits for the device's queued work.
fn sync(device: &Device) -> Result<()> {
    device
        .sync()
        .map_err(|e| anyhow::anyhow!("the device failed: {e:?}"))
}

/// FLOPs of one step: the model's convolutions and matrix products forward, the same again for
/// the gradient with respect to the input, and the Fourier parameterization's inverse DFT both
/// ways, counted as FFTs (`5 n log2 n` a complex transform of length `n`: `w/2+1` down the
/// columns and `h` along the rows of each plane). The model runs on the transformed image,
/// about `size + 12` px (pad 2x12, jitters 8 and 4).
fn step_flops(
    model: &OnnxModel,
    layer: &str,
    size: usize,
    batch: usize,
    device: &Device,
) -> Result<f64> {
    let side = size + 12;
    let input = Tensor::<4>::zeros([batch, 3, side, side], &device.clone().without_autodiff());
    let stats = model.profile(input, &[layer])?;
    let forward: u64 = stats.iter().map(|s| s.flops).sum();
    let (h, w, wf) = (size as f64, size as f64, (size / 2 + 1) as f64);
    let fft = |n: f64| 5.0 * n * n.log2();
    let dft = batch as f64 * 3.0 * (wf * fft(h) + h * fft(w));
    Ok(2.0 * forward as f64 + 2.0 * dft)
}

/// The models and machine facts every part of the benchmark uses.
struct Bench {
    /// The autodiff device renders run on.
    device: Device,
    /// The same device without autodiff.
    plain: Device,
    /// The bundled model on `device`.
    model: OnnxModel,
    /// The bundled model on `plain` (for FLOP counts and profiles).
    plain_model: OnnxModel,
}

/// Runs the benchmark and prints its tables.
pub fn run(args: &BenchArgs, device: &Device) -> Result<()> {
    let plain = device.clone().without_autodiff();
    let bench = Bench {
        model: OnnxModel::load(excite::bundled_model_path(), device)?,
        plain_model: OnnxModel::load(excite::bundled_model_path(), &plain)?,
        device: device.clone(),
        plain,
    };
    println!("machine: {}", machine(device));
    if args.saliency {
        return crate::bench_saliency::run(
            device,
            args.saliency_samples,
            std::path::Path::new("saliency_faithfulness.json"),
            std::path::Path::new("saliency_methods.png"),
        );
    }
    if args.views {
        return bench.examples_throughput();
    }
    if args.scores {
        return crate::bench_scores::run(device, std::path::Path::new("render_scores.json"));
    }
    let (n, rate) = matmul_rate(&bench.plain)?;
    println!(
        "dense matmul {n}x{n}x{n}: {rate:.1} GFLOP/s (best of 5, the faster of 1024 and 4096)\n"
    );
    let sizes: &[usize] = if args.quick { &[128] } else { &[128, 224] };
    let batches: &[usize] = if args.quick { &[1, 16] } else { &[1, 4, 16] };
    let per_channel = bench.step_table(args.steps, sizes, batches, rate)?;
    let big = *batches.last().expect("batches");
    println!("\nbatching (per-channel time, batch 1 / batch {big}):");
    for &layer in &LAYERS {
        for &size in sizes {
            let one = per_channel[&(layer.to_string(), size, 1)];
            let many = per_channel[&(layer.to_string(), size, big)];
            println!("  {layer:<11} {size:>4} px: {:.2}x", one / many);
        }
    }
    bench.truncation(args.steps, big)?;
    bench.op_breakdown(big)?;
    bench.end_to_end(args.e2e_steps)?;
    bench.examples_throughput()
}

impl Bench {
    /// Times a step of every layer, size and batch; returns the seconds per channel of each.
    fn step_table(
        &self,
        steps: usize,
        sizes: &[usize],
        batches: &[usize],
        matmul_rate: f64,
    ) -> Result<BTreeMap<(String, usize, usize), f64>> {
        println!(
            "one optimisation step (Fourier param + standard transforms + forward to the layer + backward + Adam), median of {steps}"
        );
        println!(
            "{:<11} {:>5} {:>5} {:>10} {:>12} {:>9} {:>8} {:>9} {:>9}",
            "layer",
            "px",
            "batch",
            "ms/step",
            "ms/channel",
            "GFLOP",
            "GFLOP/s",
            "% matmul",
            "fwd/bwd"
        );
        let mut per_channel = BTreeMap::new();
        for &layer in &LAYERS {
            for &size in sizes {
                for &batch in batches {
                    let t = time_steps(&self.model, layer, size, batch, steps, &self.device)?;
                    let flops = step_flops(&self.plain_model, layer, size, batch, &self.plain)?;
                    let achieved = flops / t.step / 1e9;
                    per_channel.insert((layer.to_string(), size, batch), t.step / batch as f64);
                    println!(
                        "{layer:<11} {size:>5} {batch:>5} {:>10.1} {:>12.1} {:>9.2} {:>8.1} {:>8.1}% {:>4.0}/{:<4.0}",
                        t.step * 1e3,
                        t.step * 1e3 / batch as f64,
                        flops / 1e9,
                        achieved,
                        100.0 * achieved / matmul_rate,
                        t.forward * 1e3,
                        t.backward * 1e3
                    );
                }
            }
        }
        Ok(per_channel)
    }

    /// The step time with the forward cut at the objective's layer against the whole graph.
    fn truncation(&self, steps: usize, batch: usize) -> Result<()> {
        println!(
            "\ntruncated forward (objective on blocks.5, 128 px, batch {batch}; forward to blocks.5 vs the whole graph):"
        );
        let truncated = time_steps(&self.model, "blocks.5", 128, batch, steps, &self.device)?;
        let whole = FullForward(&self.model);
        let full = time_steps(&whole, "blocks.5", 128, batch, steps, &self.device)?;
        println!(
            "  {:.1} ms vs {:.1} ms: {:.2}x faster",
            truncated.step * 1e3,
            full.step * 1e3,
            full.step / truncated.step
        );
        Ok(())
    }

    /// Where the forward time goes, by op.
    fn op_breakdown(&self, batch: usize) -> Result<()> {
        println!(
            "\nwhere the forward time goes (blocks.5, 128 px + 12, batch {batch}, by op; {} of {} nodes run):",
            self.model.plan(&["blocks.5"])?.len(),
            self.model.node_count()
        );
        let input = Tensor::<4>::random([batch, 3, 140, 140], Distribution::Default, &self.plain);
        let _ = self.plain_model.profile(input.clone(), &["blocks.5"]);
        let stats = self.plain_model.profile(input, &["blocks.5"])?;
        let mut by_op: BTreeMap<String, (f64, u64, usize)> = BTreeMap::new();
        for s in &stats {
            let kind = if s.op == "Conv" && is_depthwise(&s.layer) {
                "Conv (depthwise)".to_string()
            } else {
                s.op.clone()
            };
            let e = by_op.entry(kind).or_default();
            e.0 += s.seconds;
            e.1 += s.flops;
            e.2 += 1;
        }
        let total: f64 = by_op.values().map(|v| v.0).sum();
        for (op, (seconds, flops, count)) in &by_op {
            println!(
                "  {op:<18} {count:>3} nodes {:>8.1} ms {:>5.1}%  {:>7.1} GFLOP/s",
                seconds * 1e3,
                100.0 * seconds / total,
                *flops as f64 / seconds.max(1e-9) / 1e9
            );
        }
        Ok(())
    }

    /// A 16-channel `render-layer` batched, against one channel alone times 16.
    fn end_to_end(&self, steps: usize) -> Result<()> {
        println!(
            "\nend to end: render-layer blocks.5, channels 0..16, 128 px, {steps} steps, batch 16:"
        );
        let config = RenderConfig::default().with_steps(steps);
        let render_seconds = |channels: &[usize]| -> Result<f64> {
            let started = Instant::now();
            render_channels(&self.model, "blocks.5", channels, &config, &self.device)?;
            Ok(started.elapsed().as_secs_f64())
        };
        let channels: Vec<usize> = (0..16).collect();
        let batched = render_seconds(&channels)?;
        // One channel alone, the same number of steps: every channel costs the same.
        let single = render_seconds(&[0])?;
        println!(
            "  {batched:.1} s ({:.2} s per channel); one channel alone: {single:.2} s, so 16 one by one: {:.1} s; batching: {:.2}x",
            batched / 16.0,
            16.0 * single,
            16.0 * single / batched
        );
        Ok(())
    }
}

/// Whether an EfficientNet layer name is a depthwise convolution.
impl Bench {
    /// Dataset examples over the demo photos at 224 px: photos per second, read, scaled,
    /// cropped, run to the layer and ranked (best of two runs).
    fn examples_throughput(&self) -> Result<()> {
        let photos = list_photos(&excite::demo_images_path())?;
        println!(
            "\ndataset examples, {} photos at 224 px, batch 16:",
            photos.len()
        );
        for layer in ["blocks.5", "head.relu6"] {
            let channels = self
                .plain_model
                .layers()
                .iter()
                .find(|l| l.name == layer)
                .map_or(1, |l| l.shape[1]);
            let config = ExamplesConfig {
                channels: [0, channels],
                ..ExamplesConfig::default()
            };
            let mut best = f64::INFINITY;
            for _ in 0..2 {
                let start = Instant::now();
                dataset_examples(&self.plain_model, layer, &photos, &config, &self.plain)?;
                best = best.min(start.elapsed().as_secs_f64());
            }
            println!(
                "  {layer:<11} {channels:>5} channels: {:.1} images/s",
                photos.len() as f64 / best
            );
        }
        Ok(())
    }
}

fn is_depthwise(layer: &str) -> bool {
    layer.contains(".dw.")
}
