//! The memory estimate that guards every render (`OnnxModel::estimate_memory`) against the
//! peak heap memory a render really takes, counted by this test's allocator, on three
//! architectures: a CNN with depthwise convolutions (the bundled EfficientNet-Lite0), a ResNet
//! and a vision transformer. The estimate must cover the peak, and not by more than a stated
//! factor.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use burn::tensor::Device;
use excite_core::ImageParam;
use excite_core::objective::channel;
use excite_model::OnnxModel;
use excite_viz::{RenderConfig, render};

/// The system allocator, counting the bytes live now and the most live since the last reset.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded to the system allocator with the caller's layout.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the pointer came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn repo(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

/// The estimate may be this many times the measured peak, at most.
const MARGIN: f64 = 4.0;

#[test]
fn the_estimate_covers_the_peak_of_a_render_within_its_margin() {
    let device = Device::flex().autodiff();
    let cases = [
        ("models/efficientnet_lite0.onnx", "blocks.5", 8, 96),
        (
            "testdata/exported/torch_resnet_ts17.onnx",
            "/layer3/layer3.0/relu_2/Relu_output_0",
            8,
            64,
        ),
        (
            "testdata/exported/vit_dinov2_ts14.onnx",
            "/model/encoder/layer.1/Add_1_output_0",
            8,
            48,
        ),
    ];
    // Every model is measured before any is judged, so that a failure shows them all.
    let mut failures = Vec::new();
    for (file, layer, batch, size) in cases {
        let model = OnnxModel::load(repo(file), &device).unwrap();
        let config = RenderConfig {
            steps: 2,
            ..RenderConfig::default().with_param(
                ImageParam::fourier()
                    .with_size(size, size)
                    .with_batch(batch),
            )
        };
        let estimate = model
            .estimate_memory(&[layer], batch, config.input_size())
            .unwrap() as f64;
        let base = LIVE.load(Ordering::Relaxed);
        PEAK.store(base, Ordering::Relaxed);
        render(&model, &channel(layer, 0), &config, &device).unwrap();
        let peak = (PEAK.load(Ordering::Relaxed) - base) as f64;
        eprintln!(
            "{file}: estimate {:.1} MiB, measured peak {:.1} MiB ({:.2}x)",
            estimate / 1048576.0,
            peak / 1048576.0,
            estimate / peak
        );
        if estimate < peak {
            failures.push(format!(
                "{file}: the estimate {estimate} is below the peak {peak}"
            ));
        }
        if estimate > MARGIN * peak {
            failures.push(format!(
                "{file}: the estimate {estimate} is over {MARGIN}x the peak {peak}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
