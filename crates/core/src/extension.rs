//! The backends excite's custom autodiff ops (Burn backend extensions: [`crate::rectifier`],
//! [`crate::conv`], [`crate::clip`], [`crate::resample`], [`crate::inverse_dft`]) are compiled
//! for: Burn's autodiff over any of them, flex, and those of the enabled cargo features.

/// Declares a backend extension trait for every backend excite is built with.
macro_rules! extension_trait {
    ($item:item) => {
        #[burn::backend::backend_extension(
                                            Autodiff,
                                            Flex,
                                            NdArray: cfg(feature = "ndarray"),
                                            LibTorch: cfg(feature = "tch"),
                                            Cube: cfg(any(feature = "wgpu", feature = "vulkan"))
                                        )]
        $item
    };
}

/// Implements each trait with its default methods for the backends of the enabled features
/// (all but flex and LibTorch, whose kernels are each op's own or [`crate::libtorch`]'s).
macro_rules! default_impls {
    ($($extension:ident),+) => {
        $(
            #[cfg(feature = "ndarray")]
            impl $extension for burn::backend::NdArray {}
            #[cfg(any(feature = "wgpu", feature = "vulkan"))]
            impl $extension for burn::backend::Cube {}
        )+
    };
}

pub(crate) use {default_impls, extension_trait};

/// A contiguous `f32` flex tensor of `shape` holding `values` (the custom ops' flex kernels'
/// outputs).
pub(crate) fn flex_f32(
    values: Vec<f32>,
    shape: burn::tensor::Shape,
) -> burn::backend::flex::FlexTensor {
    burn::backend::flex::FlexTensor::new(
        burn::backend::Bytes::from_elems(values),
        burn::backend::flex::Layout::contiguous(shape),
        burn::backend::DType::F32,
    )
}

/// The largest difference between two tensors, over the largest magnitude of the first: how
/// the custom ops' tests compare them with Burn's own ops.
#[cfg(test)]
pub(crate) fn relative_difference(a: burn::tensor::Tensor<4>, b: burn::tensor::Tensor<4>) -> f32 {
    let scale = a.clone().abs().max().into_scalar::<f32>().max(1e-6);
    (a - b).abs().max().into_scalar::<f32>() / scale
}

/// The autodiff devices the custom ops' tests run on: flex, and LibTorch's CPU where excite is
/// built with it (feature `tch`).
#[cfg(test)]
pub(crate) fn test_devices() -> Vec<burn::tensor::Device> {
    #[allow(unused_mut)]
    let mut devices = vec![burn::tensor::Device::flex().autodiff()];
    #[cfg(feature = "tch")]
    #[allow(deprecated)] // Burn deprecates tch for CubeCL; it stays for LibTorch's kernels
    devices.push(burn::tensor::Device::libtorch().autodiff());
    devices
}
