//! The Burn backends renders run on: `flex` always, the others when their cargo feature is on.

use std::fmt;
use std::str::FromStr;

use burn::tensor::{Device, Tensor};

/// A Burn backend excite can render on. `flex` is always compiled in and is the default; each
/// other one is compiled in by the cargo feature of its name (`tch-cuda` by `tch`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Burn's pure-Rust CPU backend, with SIMD and threads.
    Flex,
    /// Burn's portable `ndarray` CPU backend (feature `ndarray`).
    Ndarray,
    /// The default GPU through wgpu, on whichever graphics API it picks (feature `wgpu`).
    Wgpu,
    /// The default GPU through wgpu pinned to Vulkan, whose kernels compile to SPIR-V
    /// (feature `vulkan`).
    Vulkan,
    /// LibTorch's CPU kernels through `tch` (feature `tch`; needs PyTorch 2.9.0).
    Tch,
    /// LibTorch's CUDA kernels on the first GPU (feature `tch`, with a CUDA build of PyTorch).
    TchCuda,
}

/// A backend that was asked for but cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The name is no backend's.
    #[error("unknown backend `{0}`: the backends are {names}", names = Backend::names(Backend::ALL))]
    Unknown(String),
    /// The backend exists but this build leaves it out.
    #[error(
        "backend `{name}` is not compiled in: build with `--features {feature}` (this build has: {compiled})",
        name = .0.name(),
        feature = .0.feature(),
        compiled = Backend::names(Backend::compiled())
    )]
    NotCompiled(Backend),
    /// The backend is compiled in, but its device does not start here (no GPU adapter, no CUDA).
    #[error("backend `{backend}` does not start on this machine: {reason}")]
    Unavailable {
        /// The backend.
        backend: Backend,
        /// What failed, in the backend's words.
        reason: String,
    },
}

impl Backend {
    /// Every backend, compiled in or not.
    pub const ALL: [Backend; 6] = [
        Backend::Flex,
        Backend::Ndarray,
        Backend::Wgpu,
        Backend::Vulkan,
        Backend::Tch,
        Backend::TchCuda,
    ];

    /// The name the CLI and `EXCITE_BACKEND` take.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Flex => "flex",
            Backend::Ndarray => "ndarray",
            Backend::Wgpu => "wgpu",
            Backend::Vulkan => "vulkan",
            Backend::Tch => "tch",
            Backend::TchCuda => "tch-cuda",
        }
    }

    /// The cargo feature that compiles it in.
    pub fn feature(self) -> &'static str {
        match self {
            Backend::TchCuda => "tch",
            other => other.name(),
        }
    }

    /// Whether this build has it.
    pub fn is_compiled(self) -> bool {
        match self {
            Backend::Flex => true,
            Backend::Ndarray => cfg!(feature = "ndarray"),
            Backend::Wgpu => cfg!(feature = "wgpu"),
            Backend::Vulkan => cfg!(feature = "vulkan"),
            Backend::Tch | Backend::TchCuda => cfg!(feature = "tch"),
        }
    }

    /// The backends this build has, `flex` first.
    pub fn compiled() -> impl Iterator<Item = Backend> {
        Backend::ALL.into_iter().filter(|b| b.is_compiled())
    }

    /// The backend `EXCITE_BACKEND` names, else `flex`.
    pub fn from_env() -> Result<Backend, BackendError> {
        match std::env::var("EXCITE_BACKEND") {
            Ok(name) if !name.is_empty() => name.parse(),
            _ => Ok(Backend::Flex),
        }
    }

    /// Its device, without autodiff (a GPU is opened lazily, at the first tensor).
    pub fn plain_device(self) -> Result<Device, BackendError> {
        if !self.is_compiled() {
            return Err(BackendError::NotCompiled(self));
        }
        #[cfg(feature = "ndarray")]
        #[allow(deprecated)] // Burn deprecates ndarray for flex; it stays for comparison
        if self == Backend::Ndarray {
            return Ok(Device::ndarray());
        }
        #[cfg(feature = "wgpu")]
        if self == Backend::Wgpu {
            return Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice));
        }
        #[cfg(feature = "vulkan")]
        if self == Backend::Vulkan {
            return Ok(Device::vulkan(burn::tensor::DeviceKind::DefaultDevice));
        }
        #[cfg(feature = "tch")]
        #[allow(deprecated)]
        // Burn deprecates tch for CubeCL; it stays for LibTorch's kernels
        match self {
            Backend::Tch => return Ok(Device::libtorch()),
            Backend::TchCuda => return Ok(Device::libtorch_cuda(0)),
            _ => {}
        }
        Ok(Device::flex())
    }

    /// Its autodiff device, the one renders run on.
    pub fn device(self) -> Result<Device, BackendError> {
        Ok(self.plain_device()?.autodiff())
    }

    /// Its autodiff device, checked by making one small tensor on it: a GPU that is absent or a
    /// CUDA that is missing is an error here rather than a panic at the model's first tensor.
    /// The backend reports such failures by panicking, so the caller's panic hook sees them
    /// (the CLI silences its own while it checks).
    pub fn checked_device(self) -> Result<Device, BackendError> {
        let device = self.device()?;
        let probe = device.clone();
        std::panic::catch_unwind(move || Tensor::<1>::zeros([1], &probe).into_data()).map_err(
            |payload| {
                let text = payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "the backend panicked".into());
                BackendError::Unavailable {
                    backend: self,
                    reason: first_line(&text),
                }
            },
        )?;
        Ok(device)
    }

    /// The compiled backend whose device this is (autodiff or not), if any.
    pub fn of(device: &Device) -> Option<Backend> {
        let plain = device.clone().without_autodiff();
        Backend::compiled().find(|b| b.plain_device().is_ok_and(|d| d == plain))
    }

    fn names(backends: impl IntoIterator<Item = Backend>) -> String {
        let names: Vec<&str> = backends.into_iter().map(Backend::name).collect();
        names.join(", ")
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Backend {
    type Err = BackendError;

    /// A backend by name; it must be compiled in.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        let backend = Backend::ALL
            .into_iter()
            .find(|b| b.name() == name.trim().to_ascii_lowercase())
            .ok_or_else(|| BackendError::Unknown(name.to_string()))?;
        if backend.is_compiled() {
            Ok(backend)
        } else {
            Err(BackendError::NotCompiled(backend))
        }
    }
}

/// The first line of a backend's panic message, without Rust's `unwrap` wording or the stack
/// that LibTorch appends (escaped, as `\n`), at most 300 characters.
fn first_line(text: &str) -> String {
    let text = text
        .strip_prefix("called `Result::unwrap()` on an `Err` value: ")
        .unwrap_or(text);
    let line = text.split("\\n").next().unwrap_or_default();
    let line = line.lines().next().unwrap_or_default();
    line.chars().take(300).collect()
}

/// The autodiff device of the backend `EXCITE_BACKEND` names, else of `flex`.
pub fn default_device() -> Result<Device, BackendError> {
    Backend::from_env()?.device()
}

/// The name of the backend a device belongs to, for records (`flex`, `wgpu`, ...).
pub fn backend_name(device: &Device) -> String {
    Backend::of(device).map_or_else(|| format!("{device:?}"), |b| b.name().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_flex_is_always_compiled_in() {
        for backend in Backend::ALL {
            match backend.name().parse::<Backend>() {
                Ok(parsed) => assert!(parsed == backend && backend.is_compiled()),
                Err(BackendError::NotCompiled(missing)) => {
                    assert!(missing == backend && !backend.is_compiled())
                }
                Err(other) => panic!("{backend}: {other}"),
            }
        }
        assert_eq!(" FLEX ".parse::<Backend>().unwrap(), Backend::Flex);
        assert!(Backend::compiled().next() == Some(Backend::Flex));
        let error = "cuda".parse::<Backend>().unwrap_err().to_string();
        assert!(error.contains("unknown backend `cuda`"), "{error}");
    }

    #[test]
    fn a_panic_message_becomes_its_first_line() {
        let torch = "called `Result::unwrap()` on an `Err` value: Torch(\"Found no NVIDIA driver\\nException raised from device_count_impl\")";
        assert_eq!(first_line(torch), "Torch(\"Found no NVIDIA driver");
        assert_eq!(first_line("no adapter\nat wgpu"), "no adapter");
        assert_eq!(first_line(&"x".repeat(1000)).len(), 300);
    }

    #[test]
    fn a_device_names_its_backend() {
        let device = Backend::Flex.checked_device().unwrap();
        assert!(device.is_autodiff());
        assert_eq!(Backend::of(&device), Some(Backend::Flex));
        assert_eq!(backend_name(&Backend::Flex.plain_device().unwrap()), "flex");
    }
}
