//! The device renders run on, chosen by cargo feature.

use burn::tensor::Device;

/// The default autodiff device: the first GPU through wgpu with the `wgpu` feature, else the
/// CPU (Burn's `flex` backend).
pub fn default_device() -> Device {
    #[cfg(feature = "wgpu")]
    let device = Device::wgpu(burn::tensor::DeviceKind::DefaultDevice);
    #[cfg(not(feature = "wgpu"))]
    let device = Device::flex();
    device.autodiff()
}

/// The name of the backend [`default_device`] uses.
pub fn backend_name() -> &'static str {
    if cfg!(feature = "wgpu") {
        "wgpu"
    } else {
        "flex (CPU)"
    }
}
