//! Deterministic slices of a catalogue's units, one per job of an array.

use std::ops::Range;
use std::str::FromStr;

use excite_core::{Error, Result};

/// Slice `index` of `count` (0-based): the contiguous units
/// `[index * U / count, (index + 1) * U / count)` of a plan of `U` units, so consecutive
/// channels of a layer stay together and batch well.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This slice, `0..count`.
    pub index: usize,
    /// How many slices.
    pub count: usize,
}

impl Shard {
    /// The whole catalogue as one slice.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// The units of this slice among `total`.
    pub fn range(&self, total: usize) -> Range<usize> {
        self.index * total / self.count..(self.index + 1) * total / self.count
    }

    /// The slice a job array gives this process: Slurm's `SLURM_ARRAY_TASK_ID` of
    /// `SLURM_ARRAY_TASK_COUNT` (less `SLURM_ARRAY_TASK_MIN`), or a Kubernetes Indexed Job's
    /// `JOB_COMPLETION_INDEX`; `None` outside a job array. `EXCITE_SHARD_COUNT`, when set, is
    /// the count and the task id is the index as it is, so one task rerun alone
    /// (`sbatch --array=5`) is still slice 5 of the whole (Kubernetes needs it: a pod is not
    /// told the Job's completions). `var` reads a variable (`std::env::var(..).ok()`).
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Option<Shard>> {
        let number = |name: &str| -> Result<Option<usize>> {
            var(name)
                .map(|v| {
                    v.trim()
                        .parse::<usize>()
                        .map_err(|_| Error::Invalid(format!("{name}={v:?} is not a whole number")))
                })
                .transpose()
        };
        let fixed = number("EXCITE_SHARD_COUNT")?;
        let (index, count) = if let Some(id) = number("SLURM_ARRAY_TASK_ID")? {
            match (fixed, number("SLURM_ARRAY_TASK_COUNT")?) {
                (Some(count), _) => (id, count),
                (None, Some(count)) => {
                    let min = number("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
                    (id.saturating_sub(min), count)
                }
                (None, None) => {
                    return Err(Error::Invalid(
                        "SLURM_ARRAY_TASK_ID is set without SLURM_ARRAY_TASK_COUNT: set EXCITE_SHARD_COUNT or pass --shard I/N"
                            .into(),
                    ));
                }
            }
        } else if let Some(index) = number("JOB_COMPLETION_INDEX")? {
            let Some(count) = fixed else {
                return Err(Error::Invalid(
                    "JOB_COMPLETION_INDEX is set: set EXCITE_SHARD_COUNT to the Job's completions, or pass --shard I/N"
                        .into(),
                ));
            };
            (index, count)
        } else {
            return Ok(None);
        };
        Shard::new(index, count).map(Some)
    }

    /// Slice `index` of `count`, checked.
    pub fn new(index: usize, count: usize) -> Result<Shard> {
        if count == 0 || index >= count {
            return Err(Error::Invalid(format!(
                "shard {index}/{count}: the index must be below the count (0-based, e.g. 0/4 .. 3/4)"
            )));
        }
        Ok(Shard { index, count })
    }
}

impl FromStr for Shard {
    type Err = Error;

    /// `I/N`, e.g. `0/4`.
    fn from_str(text: &str) -> Result<Shard> {
        let parsed = text
            .split_once('/')
            .and_then(|(i, n)| Some((i.trim().parse().ok()?, n.trim().parse().ok()?)));
        match parsed {
            Some((index, count)) => Shard::new(index, count),
            None => Err(Error::Invalid(format!(
                "--shard {text:?}: expected I/N, e.g. 0/4"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn slices_cover_every_unit_once_in_order() {
        for total in [0, 1, 7, 64, 1000] {
            for count in 1..=9 {
                let covered: Vec<usize> = (0..count)
                    .flat_map(|i| Shard::new(i, count).unwrap().range(total))
                    .collect();
                assert_eq!(covered, (0..total).collect::<Vec<_>>(), "{total} / {count}");
            }
        }
    }

    #[test]
    fn text_and_environment() {
        assert_eq!(
            "2/4".parse::<Shard>().unwrap(),
            Shard { index: 2, count: 4 }
        );
        for bad in ["4/4", "1/0", "x", "1-4", "-1/3"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        let env = |pairs: &[(&str, &str)]| {
            let map: HashMap<String, String> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            Shard::from_env(move |k| map.get(k).cloned())
        };
        assert_eq!(env(&[]).unwrap(), None);
        let slurm = [
            ("SLURM_ARRAY_TASK_ID", "5"),
            ("SLURM_ARRAY_TASK_MIN", "3"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ];
        assert_eq!(env(&slurm).unwrap(), Some(Shard { index: 2, count: 4 }));
        // A task rerun alone keeps its place in the whole.
        let rerun = [
            ("SLURM_ARRAY_TASK_ID", "5"),
            ("SLURM_ARRAY_TASK_MIN", "5"),
            ("SLURM_ARRAY_TASK_COUNT", "1"),
            ("EXCITE_SHARD_COUNT", "8"),
        ];
        assert_eq!(env(&rerun).unwrap(), Some(Shard { index: 5, count: 8 }));
        let k8s = [("JOB_COMPLETION_INDEX", "1"), ("EXCITE_SHARD_COUNT", "3")];
        assert_eq!(env(&k8s).unwrap(), Some(Shard { index: 1, count: 3 }));
        let err = env(&[("JOB_COMPLETION_INDEX", "1")]).unwrap_err();
        assert!(err.to_string().contains("EXCITE_SHARD_COUNT"), "{err}");
    }
}
