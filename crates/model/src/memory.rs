//! How much memory a render will take, known before the work starts.

use crate::error::{ModelError, Result};
use crate::model::OnnxModel;

/// Bytes kept per activation value during a render: the value itself, its gradient, and the
/// backend's working copies (measured peaks of renders stay below this: BENCHMARKS.md, "The
/// memory estimate").
pub const BYTES_PER_VALUE: u64 = 10;

impl OnnxModel {
    /// An estimate, in bytes, of the peak memory of a render whose objective reads `layers`,
    /// with `batch` images of `size` (height, width) pixels: every node output the forward pass
    /// keeps for the backward pass, from static shape inference at that size (nothing runs),
    /// times the copies a step holds. A size the model cannot take is the error.
    pub fn estimate_memory(&self, layers: &[&str], batch: usize, size: [usize; 2]) -> Result<u64> {
        let plan = self.plan(layers)?;
        let shapes = self.shapes_at(self.fixed_size().unwrap_or(size))?;
        let values: u64 = plan
            .iter()
            .flat_map(|&i| &self.nodes[i].outputs)
            .filter_map(|name| shapes.get(name))
            .map(|shape| shape.iter().map(|&d| d as u64).product::<u64>())
            .sum();
        let bytes = values as f64 * batch as f64 * BYTES_PER_VALUE as f64;
        Ok(bytes.min(u64::MAX as f64) as u64)
    }

    /// [`OnnxModel::estimate_memory`], refused with an error when above `limit` bytes.
    pub fn check_memory(
        &self,
        layers: &[&str],
        batch: usize,
        size: [usize; 2],
        limit: u64,
    ) -> Result<()> {
        let need = self.estimate_memory(layers, batch, size)?;
        if need <= limit {
            return Ok(());
        }
        Err(ModelError::BadInput(format!(
            "a batch of {batch} images of {}x{} px needs about {:.1} GiB, above the limit of {:.1} GiB; render smaller or fewer images at once, or raise the limit",
            size[0],
            size[1],
            gib(need),
            gib(limit)
        )))
    }
}

/// The memory limit in bytes: `max_gib` GiB when given (a positive number), else
/// [`default_memory_limit`].
pub fn memory_limit(max_gib: Option<f64>) -> Result<u64> {
    match max_gib {
        None => Ok(default_memory_limit()),
        Some(gib) if gib.is_finite() && gib > 0.0 => Ok((gib * (1u64 << 30) as f64) as u64),
        Some(gib) => Err(ModelError::BadInput(format!(
            "the memory limit must be a positive number of GiB, got {gib}"
        ))),
    }
}

/// The memory a render may take by default: three quarters of what is available now — the
/// machine's `MemAvailable` (`/proc/meminfo`), or less where this process's cgroup (a Slurm job,
/// a container) has a lower `memory.max` — or 8 GiB where neither can be read.
pub fn default_memory_limit() -> u64 {
    let available = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("MemAvailable:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .map(|kib| kib * 1024)
        });
    let available = match (available, cgroup_room()) {
        (Some(a), Some(c)) => Some(a.min(c)),
        (a, c) => a.or(c),
    };
    available.map_or(8 << 30, |bytes| bytes / 4 * 3)
}

/// The room left under this process's cgroup v2 memory limits (`memory.max` less
/// `memory.current`, the least over its cgroup and their parents: Slurm sets the limit on the
/// job's cgroup, above the task's), if any is set.
fn cgroup_room() -> Option<u64> {
    let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let path = own.lines().find_map(|l| l.strip_prefix("0::"))?.trim();
    let leaf = std::path::Path::new("/sys/fs/cgroup").join(path.trim_start_matches('/'));
    leaf.ancestors()
        .take_while(|dir| dir.starts_with("/sys/fs/cgroup"))
        .filter_map(|dir| {
            let read = |name: &str| std::fs::read_to_string(dir.join(name)).ok();
            let max = read("memory.max")?.trim().parse::<u64>().ok()?;
            let current = read("memory.current")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(0);
            Some(max.saturating_sub(current))
        })
        .min()
}

fn gib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 30) as f64
}
