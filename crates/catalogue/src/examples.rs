//! Each layer's dataset examples, ranked once per photo set and kept in the catalogue's folder
//! (`examples/LAYER.PHOTOS.json`, `PHOTOS` the start of the photo set's hash): reruns and
//! the other shards read the file instead of ranking the photos again. While one job ranks a
//! layer, the others wait for its file; the ranking job touches a lock file
//! (`examples/LAYER.PHOTOS.lock`) after every batch, and a lock left untouched for
//! [`STALE_LOCK`] was left by a killed job and is taken over.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use burn::tensor::Device;
use excite_core::{Error, Observer, Progress, Result, VisualModel};
use excite_views::{Examples, ExamplesConfig, dataset_examples};
use sha2::{Digest, Sha256};

use crate::plan::{LayerEntry, Plan};
use crate::store::Store;

/// A lock not touched for this long was left by a killed job (the ranking job touches it after
/// every batch of photos, seconds apart).
pub const STALE_LOCK: Duration = Duration::from_secs(300);

/// How often a waiting job looks for the ranking job's file.
const POLL: Duration = Duration::from_millis(500);

/// The photos of a catalogue and their fingerprint.
#[derive(Clone, Debug, Default)]
pub struct PhotoSet {
    /// The photos, in ranking order.
    pub photos: Vec<PathBuf>,
    /// SHA-256 (hex) of the photos' paths and byte sizes, in order: another set, or a photo
    /// added, removed or resized, is another fingerprint.
    pub sha256: String,
}

impl PhotoSet {
    /// The set of `photos` (one `stat` each for its size).
    pub fn new(photos: &[PathBuf]) -> Result<Self> {
        let mut hash = Sha256::new();
        for photo in photos {
            let size = fs::metadata(photo)
                .map_err(|source| Error::Io {
                    path: photo.clone(),
                    source,
                })?
                .len();
            hash.update(photo.to_string_lossy().as_bytes());
            hash.update([0]);
            hash.update(size.to_le_bytes());
        }
        let sha256 = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
        Ok(Self {
            photos: photos.to_vec(),
            sha256,
        })
    }

    /// Whether there are no photos.
    pub fn is_empty(&self) -> bool {
        self.photos.is_empty()
    }
}

/// The dataset examples of every planned channel of `layer` over `photos`: read from the
/// store when a job ranked them before, else ranked here (telling the plan's observer) and
/// stored for the others.
pub fn layer_examples(
    model: &dyn VisualModel,
    plan: &Plan,
    layer: &LayerEntry,
    photos: &PhotoSet,
    store: &Store,
    device: &Device,
) -> Result<Examples> {
    let path = store.examples_path(layer, &photos.sha256);
    once(&path, |heartbeat| {
        let observer = plan.settings.observer.clone();
        let config = ExamplesConfig {
            channels: layer.channels,
            top: plan.settings.top,
            batch: 16,
            size: plan.photo_size,
            observer: Observer::new(move |p| {
                if matches!(p, Progress::Photos { .. }) {
                    heartbeat();
                }
                observer.notify(p.clone());
            }),
        };
        dataset_examples(model, &layer.name, &photos.photos, &config, device)
    })
}

/// The JSON value at `path`, made by `make` unless a job made it before; while another job
/// makes it (its lock fresh), waits for it. `make` gets a heartbeat to call as it goes.
fn once<T, F>(path: &Path, make: F) -> Result<T>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
    F: FnOnce(Box<dyn Fn() + Send + Sync>) -> Result<T>,
{
    let lock = path.with_extension("lock");
    let mut make = Some(make);
    loop {
        if path.is_file() {
            return crate::store::read_json(path, |path, e| {
                format!("{path} is damaged ({e}); delete it to rank the photos again")
            });
        }
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|source| Error::CreateDir {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&lock)
        {
            Ok(_) => {
                let _held = Held(lock.clone());
                let touched = lock.clone();
                let make = make.take().expect("made once");
                let value = make(Box::new(move || touch(&touched)))?;
                let json = serde_json::to_vec(&value)
                    .map_err(|e| Error::Invalid(format!("cannot encode: {e}")))?;
                excite_core::image_io::write_atomic(path, &json)?;
                return Ok(value);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let age = fs::metadata(&lock)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| SystemTime::now().duration_since(t).ok());
                if age.is_some_and(|age| age > STALE_LOCK) {
                    let _ = fs::remove_file(&lock);
                } else {
                    std::thread::sleep(POLL);
                }
            }
            Err(source) => return Err(Error::Io { path: lock, source }),
        }
    }
}

/// Marks the lock as alive.
fn touch(lock: &Path) {
    if let Ok(file) = fs::File::options().write(true).open(lock) {
        let _ = file.set_modified(SystemTime::now());
    }
}

/// A held lock, removed when dropped (the value written, or the making failed).
struct Held(PathBuf);

impl Drop for Held {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("excite-once-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_value_is_made_once_and_read_back() {
        let path = scratch("read").join("a.json");
        let made = AtomicUsize::new(0);
        let make = |_: Box<dyn Fn() + Send + Sync>| {
            made.fetch_add(1, Ordering::SeqCst);
            Ok(vec![1, 2, 3])
        };
        assert_eq!(once(&path, make).unwrap(), vec![1, 2, 3]);
        assert_eq!(once(&path, make).unwrap(), vec![1, 2, 3]);
        assert_eq!(made.load(Ordering::SeqCst), 1);
        assert!(!path.with_extension("lock").exists(), "the lock is removed");
    }

    #[test]
    fn a_waiting_job_reads_the_ranking_jobs_value_and_a_stale_lock_is_taken_over() {
        let dir = scratch("wait");
        // Another job holds a fresh lock and writes its value a second later.
        let path = dir.join("b.json");
        fs::write(path.with_extension("lock"), b"").unwrap();
        let other = path.clone();
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(1));
            fs::write(&other, b"[7]").unwrap();
            fs::remove_file(other.with_extension("lock")).unwrap();
        });
        let made = Arc::new(AtomicUsize::new(0));
        let count = made.clone();
        let value: Vec<i32> = once(&path, move |_| {
            count.fetch_add(1, Ordering::SeqCst);
            Ok(vec![0])
        })
        .unwrap();
        writer.join().unwrap();
        assert_eq!((value, made.load(Ordering::SeqCst)), (vec![7], 0));
        // A killed job's lock, untouched for longer than STALE_LOCK, does not block.
        let path = dir.join("c.json");
        let lock = path.with_extension("lock");
        fs::write(&lock, b"").unwrap();
        let old = SystemTime::now() - STALE_LOCK - Duration::from_secs(1);
        fs::File::options()
            .write(true)
            .open(&lock)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let value: Vec<i32> = once(&path, |heartbeat| {
            heartbeat();
            Ok(vec![9])
        })
        .unwrap();
        assert_eq!(value, vec![9]);
        assert!(!lock.exists());
        // A job whose making fails removes its lock, so the next one makes the value.
        let path = dir.join("d.json");
        let failed: Result<Vec<i32>> = once(&path, |_| Err(Error::Invalid("no".into())));
        assert!(failed.is_err() && !path.with_extension("lock").exists());
        let _ = fs::remove_dir_all(&dir);
    }
}
