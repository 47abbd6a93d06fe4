//! Each layer's dataset examples, ranked once per photo set and kept in the catalogue's folder
//! (`examples/LAYER.PHOTOS.json`, `PHOTOS` the start of the photo set's hash): reruns and
//! the other shards read the file instead of ranking the photos again. While one job ranks a
//! layer, the others wait for its file; the ranking job touches a lock file
//! (`examples/LAYER.PHOTOS.lock`, holding its token) after every batch, and a lock that a
//! waiting job sees untouched for [`STALE_LOCK`] was left by a killed job and is taken over.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

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
    once(&path, STALE_LOCK, |heartbeat| {
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
/// makes it, waits for it. `make` gets a heartbeat to call as it goes.
///
/// The lock file holds its owner's random token: only the owner touches or removes it, so a
/// job paused past `stale` and then resumed cannot remove its successor's lock. Whether a
/// lock is stale is judged by this job's own clock, as the time for which the lock's
/// modification time and token have not changed (clocks of other nodes never compared).
fn once<T, F>(path: &Path, stale: Duration, make: F) -> Result<T>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
    F: FnOnce(Box<dyn Fn() + Send + Sync>) -> Result<T>,
{
    let lock = path.with_extension("lock");
    let mut make = Some(make);
    // The lock as last seen (modification time, token) and since when, by this job's clock.
    let mut seen: Option<(Option<SystemTime>, String, Instant)> = None;
    loop {
        if path.is_file() {
            return read_value(path);
        }
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|source| Error::CreateDir {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let token = format!("{}-{:016x}", std::process::id(), rand::random::<u64>());
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&lock)
        {
            Ok(mut file) => {
                let _ = file.write_all(token.as_bytes());
                let held = Held {
                    lock: lock.clone(),
                    token,
                };
                // Another job may have finished between the look above and taking the lock.
                if path.is_file() {
                    return read_value(path);
                }
                let make = make.take().expect("made once");
                let beat = held.clone();
                let value = make(Box::new(move || beat.touch()))?;
                let json = serde_json::to_vec(&value)
                    .map_err(|e| Error::Invalid(format!("cannot encode: {e}")))?;
                excite_core::image_io::write_atomic(path, &json)?;
                return Ok(value);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let now = (
                    fs::metadata(&lock).and_then(|m| m.modified()).ok(),
                    owner_of(&lock),
                );
                match &seen {
                    Some((modified, owner, since)) if (modified, owner) == (&now.0, &now.1) => {
                        if since.elapsed() > stale && owner_of(&lock) == now.1 {
                            // Untouched for `stale`: its job was killed. Only the same lock
                            // is removed (a lock taken meanwhile has another token).
                            let _ = fs::remove_file(&lock);
                            seen = None;
                            continue;
                        }
                    }
                    _ => seen = Some((now.0, now.1, Instant::now())),
                }
                std::thread::sleep(POLL);
            }
            Err(source) => return Err(Error::Io { path: lock, source }),
        }
    }
}

/// The value another job wrote.
fn read_value<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    crate::store::read_json(path, |path, e| {
        format!("{path} is damaged ({e}); delete it to rank the photos again")
    })
}

/// The token in a lock file (empty when it cannot be read).
fn owner_of(lock: &Path) -> String {
    fs::read_to_string(lock).unwrap_or_default()
}

/// A held lock: touched while its job works, removed when dropped (the value written, or the
/// making failed); both only while the lock still holds this job's token.
#[derive(Clone)]
struct Held {
    lock: PathBuf,
    token: String,
}

impl Held {
    /// Marks the lock as alive.
    fn touch(&self) {
        if owner_of(&self.lock) == self.token
            && let Ok(file) = fs::File::options().write(true).open(&self.lock)
        {
            let _ = file.set_modified(SystemTime::now());
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if owner_of(&self.lock) == self.token {
            let _ = fs::remove_file(&self.lock);
        }
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
        assert_eq!(once(&path, STALE_LOCK, make).unwrap(), vec![1, 2, 3]);
        assert_eq!(once(&path, STALE_LOCK, make).unwrap(), vec![1, 2, 3]);
        assert_eq!(made.load(Ordering::SeqCst), 1);
        assert!(!path.with_extension("lock").exists(), "the lock is removed");
    }

    #[test]
    fn a_waiting_job_reads_a_live_jobs_value_and_takes_over_a_dead_jobs_lock() {
        let dir = scratch("wait");
        let stale = Duration::from_millis(600);
        // A live job: its lock is touched every 200 ms, longer than `stale`, then it writes
        // its value. The waiting job must not take its lock over.
        let path = dir.join("b.json");
        let lock = path.with_extension("lock");
        fs::write(&lock, b"live-1").unwrap();
        let (other, other_lock) = (path.clone(), lock.clone());
        let writer = std::thread::spawn(move || {
            let held = Held {
                lock: other_lock,
                token: "live-1".into(),
            };
            for _ in 0..8 {
                std::thread::sleep(Duration::from_millis(200));
                held.touch();
            }
            fs::write(&other, b"[7]").unwrap();
        });
        let made = Arc::new(AtomicUsize::new(0));
        let count = made.clone();
        let value: Vec<i32> = once(&path, stale, move |_| {
            count.fetch_add(1, Ordering::SeqCst);
            Ok(vec![0])
        })
        .unwrap();
        writer.join().unwrap();
        assert_eq!((value, made.load(Ordering::SeqCst)), (vec![7], 0));
        // A killed job's lock, untouched for `stale` by the waiter's clock, is taken over.
        let path = dir.join("c.json");
        let lock = path.with_extension("lock");
        fs::write(&lock, b"dead-2").unwrap();
        let value: Vec<i32> = once(&path, stale, |heartbeat| {
            heartbeat();
            Ok(vec![9])
        })
        .unwrap();
        assert_eq!(value, vec![9]);
        assert!(!lock.exists());
        // A job paused past `stale` and resumed leaves its successor's lock alone.
        fs::write(&lock, b"successor-3").unwrap();
        drop(Held {
            lock: lock.clone(),
            token: "paused-4".into(),
        });
        assert_eq!(fs::read_to_string(&lock).unwrap(), "successor-3");
        // A job whose making fails removes its lock, so the next one makes the value.
        let path = dir.join("d.json");
        let failed: Result<Vec<i32>> = once(&path, stale, |_| Err(Error::Invalid("no".into())));
        assert!(failed.is_err() && !path.with_extension("lock").exists());
        let _ = fs::remove_dir_all(&dir);
    }
}
