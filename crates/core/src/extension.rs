//! The backends excite's custom autodiff ops (Burn backend extensions: [`crate::rectifier`],
//! [`crate::conv`], [`crate::clip`], [`crate::sigmoid`], [`crate::resample`],
//! [`crate::inverse_dft`]) are compiled for: Burn's autodiff over any of them, flex, and those
//! of the enabled cargo features; and the multithreaded loop of their flex kernels.

use rayon::prelude::*;

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

/// The elements of a flex tensor in order, when it holds `f32`s (flex's `to_contiguous`
/// copies only a tensor that is not laid out so already).
pub(crate) fn f32_values(
    x: &burn::backend::flex::FlexTensor,
) -> Option<burn::backend::flex::FlexTensor> {
    (burn::backend::TensorMetadata::dtype(x) == burn::backend::DType::F32)
        .then(|| x.to_contiguous())
}

/// Elements per task of the multithreaded loops.
const CHUNK: usize = 1 << 14;

/// `f(i)` for every element `i` of `inputs`' chunks, in `CHUNK`-long pieces over the threads;
/// each piece is one loop the compiler vectorises. Each task works with its own copy of `f`:
/// read through a reference, its captured bounds would be loaded again at every element (the
/// stores to the output might alias them), which kept the loop scalar and branching.
///
/// # Shapes
/// - every input and the output: `[n]`
pub(crate) fn map_chunks<const K: usize, F>(inputs: [&[f32]; K], n: usize, f: F) -> Vec<f32>
where
    F: Fn([f32; K]) -> f32 + Send + Sync + Copy,
{
    let mut out = Vec::<f32>::with_capacity(n);
    out.spare_capacity_mut()[..n]
        .par_chunks_mut(CHUNK)
        .enumerate()
        .for_each(move |(chunk, piece)| {
            let f = f;
            let start = chunk * CHUNK;
            let parts = inputs.map(|input| &input[start..start + piece.len()]);
            for (i, slot) in piece.iter_mut().enumerate() {
                slot.write(f(parts.map(|part| part[i])));
            }
        });
    // SAFETY: the chunks cover the `n` reserved slots, and each slot was written above.
    unsafe { out.set_len(n) };
    out
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
