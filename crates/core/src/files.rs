//! Files named by data from outside (a model's external tensors, a manifest's label file, a
//! record's images, a layer name used as a folder): kept inside the folder they belong to.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The SHA-256 of `bytes`, in lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// Resolves `name`, a relative path found in a file of folder `dir`, to a regular file inside
/// `dir`, as onnxruntime does for external data: absolute paths, `..`, symbolic links that lead
/// out of `dir`, and anything but a regular file (a FIFO, a device) are refused.
pub fn resolve_inside(dir: &Path, name: &str) -> Result<PathBuf> {
    let refuse = |why: &str| Error::FileRefused(format!("`{name}` {why}"));
    let relative = Path::new(name);
    if name.is_empty()
        || !relative
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(refuse(
            "is not a path inside the folder (absolute paths and `..` are refused)",
        ));
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    let base = dir.canonicalize().map_err(io(dir))?;
    let joined = base.join(relative);
    let full = joined.canonicalize().map_err(io(&joined))?;
    if !full.starts_with(&base) {
        return Err(refuse("leads out of its folder through a symbolic link"));
    }
    if !std::fs::metadata(&full).map_err(io(&full))?.is_file() {
        return Err(refuse("is not a regular file"));
    }
    Ok(full)
}

/// Reads a regular file of at most `limit` bytes; a FIFO, a device or a larger file is an
/// error before anything much is read.
pub fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    // Checked before opening: opening a FIFO for reading would wait for a writer.
    if !std::fs::metadata(path).map_err(io)?.is_file() {
        return Err(Error::FileRefused(format!(
            "{} is not a regular file",
            path.display()
        )));
    }
    let file = std::fs::File::open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(Error::FileRefused(format!(
            "{} is not a regular file",
            path.display()
        )));
    }
    if meta.len() > limit {
        return Err(Error::FileRefused(format!(
            "{} has {} bytes, above the limit of {limit}",
            path.display(),
            meta.len()
        )));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(Error::FileRefused(format!(
            "{} grew above the limit of {limit} bytes while being read",
            path.display()
        )));
    }
    Ok(bytes)
}

/// `name` as one safe path component: characters other than ASCII letters, digits, `.`, `_`
/// and `-` become `_`, a leading `.` becomes `_` (so no `..` and no hidden files), and an
/// empty name becomes `_`.
pub fn safe_component(name: &str) -> String {
    let mut safe: String = name
        .chars()
        .take(200)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if safe.is_empty() || safe.starts_with('.') {
        // Replaces a leading `.`, or fills an empty name.
        safe.replace_range(0..safe.len().min(1), "_");
    }
    safe
}

/// `name` as a safe path component ([`safe_component`]) that no other name shares: a name
/// that sanitising changed gets the first 8 hex digits of its SHA-256 appended (`a/b` is
/// `a_b-<hash>`, apart from the name `a_b`), so default output folders of two layers whose
/// names differ only in unsafe characters never meet.
pub fn unique_component(name: &str) -> String {
    let safe = safe_component(name);
    if safe == name {
        safe
    } else {
        format!("{safe}-{}", &sha256_hex(name.as_bytes())[..8])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh folder of this test's own (tests run in parallel threads of one process).
    fn scratch(test: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("excite-files-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("model")).unwrap();
        dir
    }

    #[test]
    fn unique_components_keep_safe_names_and_tell_sanitised_ones_apart() {
        assert_eq!(unique_component("blocks.5"), "blocks.5");
        assert_eq!(unique_component("a_b"), "a_b");
        let (slash, colon) = (unique_component("a/b"), unique_component("a:b"));
        assert!(slash.starts_with("a_b-") && slash.len() == 12, "{slash}");
        assert!(colon.starts_with("a_b-") && colon != slash, "{colon}");
        assert_eq!(
            unique_component("a/b"),
            slash,
            "the same name, the same folder"
        );
    }

    #[test]
    fn only_regular_files_inside_the_folder_resolve() {
        let root = scratch("resolve");
        let dir = root.join("model");
        std::fs::write(dir.join("weights.bin"), b"ok").unwrap();
        std::fs::write(root.join("secret.txt"), b"no").unwrap();
        std::os::unix::fs::symlink(root.join("secret.txt"), dir.join("link.bin")).unwrap();
        std::os::unix::fs::symlink("weights.bin", dir.join("inner.bin")).unwrap();
        assert!(resolve_inside(&dir, "weights.bin").is_ok());
        assert!(resolve_inside(&dir, "./inner.bin").is_ok());
        for bad in [
            "../secret.txt",
            "/etc/passwd",
            "link.bin",
            "sub/../../secret.txt",
            "",
            ".",
            "missing.bin",
        ] {
            let err = resolve_inside(&dir, bad).unwrap_err();
            assert!(
                matches!(err, Error::FileRefused(_) | Error::Io { .. }),
                "{bad}: {err}"
            );
        }
        assert!(resolve_inside(Path::new("/dev"), "zero").is_err());
    }

    #[test]
    fn reads_are_bounded_and_regular() {
        let root = scratch("read");
        let file = root.join("labels.txt");
        std::fs::write(&file, b"a\nb\n").unwrap();
        assert_eq!(read_limited(&file, 4).unwrap(), b"a\nb\n");
        assert!(read_limited(&file, 3).is_err());
        assert!(read_limited(Path::new("/dev/zero"), 1 << 20).is_err());
        // A FIFO is refused at once instead of waiting for a writer.
        let fifo = root.join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            assert!(read_limited(&fifo, 1 << 20).is_err());
        }
    }

    #[test]
    fn names_become_single_safe_components() {
        for (name, safe) in [
            ("blocks.5", "blocks.5"),
            ("../../x", "_._.._x"),
            ("/tmp/x", "_tmp_x"),
            ("block5_conv3/Relu:0", "block5_conv3_Relu_0"),
            ("..", "_."),
            ("", "_"),
            (".hidden", "_hidden"),
        ] {
            assert_eq!(safe_component(name), safe, "{name}");
            assert_eq!(Path::new(&safe_component(name)).components().count(), 1);
        }
    }
}
