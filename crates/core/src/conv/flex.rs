//! Flex's kernels for [`Convolution`]: the spread and the pointwise convolution, each split
//! into tasks that keep every core busy at any batch size.

use std::mem::MaybeUninit;

use burn::backend::flex::FlexTensor;
use burn::backend::{DType, Flex};
use burn::tensor::Shape;
use rayon::prelude::*;

use super::{Convolution, pointwise_by_conv, spread_by_slices, spread_size};
use crate::extension::{f32_values, flex_f32};

/// The width, in pixels (matrix columns), of a pointwise convolution's column blocks at the
/// least (an image's last block, or a smaller image, is narrower): below it the matrix
/// product's setup costs more than the split gains.
const POINTWISE_COLUMNS: usize = 64;

/// Flex's spread is one pass over each output plane, one plane per task (Burn's composition
/// fills the zeros and then writes the pixels, each on one thread). Its pointwise convolution
/// splits every image's pixels into column blocks, one matrix product each: flex's own runs
/// one product per image, on one thread below 192³ multiply-adds, so a single image (a
/// one-channel render) left a core idle; and the output is written once, with no zero fill.
impl Convolution for Flex {
    fn spread(x: FlexTensor, stride: [usize; 2], padding: [(usize, usize); 2]) -> FlexTensor {
        let [n, c, h, w] = x.layout().shape().dims::<4>();
        let [ho, wo] = spread_size([h, w], stride, padding);
        if x.dtype() != DType::F32 || [h, w, ho, wo].contains(&0) {
            return spread_by_slices::<Flex>(x, stride, padding);
        }
        let x = x.to_contiguous();
        let ([sh, sw], [(top, _), (left, _)]) = (stride, padding);
        let xs = x.storage::<f32>();
        let mut out = Vec::<f32>::with_capacity(n * c * ho * wo);
        out.spare_capacity_mut()[..n * c * ho * wo]
            .par_chunks_mut(ho * wo)
            .enumerate()
            .for_each(|(plane, out)| {
                let src = &xs[plane * h * w..(plane + 1) * h * w];
                for (yo, row) in out.chunks_mut(wo).enumerate() {
                    row.fill(MaybeUninit::new(0.0));
                    let y = yo.wrapping_sub(top);
                    if yo >= top && y.is_multiple_of(sh) && y / sh < h {
                        let pixels = &src[y / sh * w..(y / sh + 1) * w];
                        for (v, &p) in row[left..].iter_mut().step_by(sw).zip(pixels) {
                            v.write(p);
                        }
                    }
                }
            });
        // SAFETY: every slot of every plane was written above.
        unsafe { out.set_len(n * c * ho * wo) };
        flex_f32(out, Shape::new([n, c, ho, wo]))
    }

    fn pointwise(x: FlexTensor, weight: FlexTensor, bias: FlexTensor, groups: usize) -> FlexTensor {
        let [n, c, h, w] = x.layout().shape().dims::<4>();
        let [m, inputs, kh, kw] = weight.layout().shape().dims::<4>();
        let biases = bias.layout().num_elements();
        let shaped = [kh, kw] == [1, 1]
            && inputs * groups == c
            && m.is_multiple_of(groups)
            && (biases == m || biases == 0)
            && ![n, c, h, w, m].contains(&0);
        let (true, Some(xv), Some(wv), Some(bv)) = (
            shaped,
            f32_values(&x),
            f32_values(&weight),
            f32_values(&bias),
        ) else {
            return pointwise_by_conv::<Flex>(x, weight, bias, groups);
        };
        let (xs, ws, bs) = (
            xv.storage::<f32>(),
            wv.storage::<f32>(),
            bv.storage::<f32>(),
        );
        let (pixels, outputs, biased) = (h * w, m / groups, biases > 0);
        // Enough column blocks per image for four tasks per thread over the batch.
        let blocks = (4 * rayon::current_num_threads()).div_ceil(n);
        let columns = pixels
            .div_ceil(blocks)
            .next_multiple_of(16)
            .max(POINTWISE_COLUMNS);
        let mut out = Vec::<f32>::with_capacity(n * m * pixels);
        let dst = Shared(out.spare_capacity_mut().as_mut_ptr().cast::<f32>());
        let per_image = pixels.div_ceil(columns);
        (0..n * per_image).into_par_iter().for_each(|task| {
            let (image, first) = (task / per_image, task % per_image * columns);
            let width = columns.min(pixels - first);
            for g in 0..groups {
                let rows = image * m * pixels + g * outputs * pixels + first;
                if biased {
                    for (o, &b) in bs[g * outputs..(g + 1) * outputs].iter().enumerate() {
                        // SAFETY: each task writes its own columns of its own image's rows,
                        // all within the output's capacity (not yet initialised: written as
                        // `MaybeUninit`).
                        let row = unsafe {
                            let first = dst.at(rows + o * pixels).cast::<MaybeUninit<f32>>();
                            std::slice::from_raw_parts_mut(first, width)
                        };
                        row.fill(MaybeUninit::new(b));
                    }
                }
                let input = &xs[image * c * pixels + g * inputs * pixels + first..];
                let kernel = &ws[g * outputs * inputs..(g + 1) * outputs * inputs];
                // SAFETY: the kernel is `outputs x inputs` row-major, the input `inputs` rows
                // of `pixels` from `first`, the output `outputs` rows of `pixels` from `rows`,
                // each `width` columns wide and in bounds; the output is read only where it
                // was set to the bias above.
                unsafe {
                    gemm::gemm(
                        outputs,
                        width,
                        inputs,
                        dst.at(rows),
                        1,
                        pixels as isize,
                        biased,
                        kernel.as_ptr(),
                        1,
                        inputs as isize,
                        input.as_ptr(),
                        1,
                        pixels as isize,
                        1.0,
                        1.0,
                        false,
                        false,
                        false,
                        gemm::Parallelism::None,
                    )
                };
            }
        });
        // SAFETY: the tasks wrote every column of every output row.
        unsafe { out.set_len(n * m * pixels) };
        flex_f32(out, Shape::new([n, m, h, w]))
    }
}

/// The output's first element, shared by the tasks that write disjoint parts of it.
#[derive(Clone, Copy)]
struct Shared(*mut f32);

// SAFETY: the tasks write disjoint elements, and the output outlives them.
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

impl Shared {
    /// The element `offset` places past the first.
    ///
    /// # Safety
    /// `offset` lies within the output.
    unsafe fn at(self, offset: usize) -> *mut f32 {
        unsafe { self.0.add(offset) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::ops::{FloatTensorOps, ModuleOps};
    use burn::tensor::TensorData;
    use burn::tensor::ops::ConvOptions;

    fn values(t: FlexTensor) -> Vec<f32> {
        t.to_contiguous().storage::<f32>().to_vec()
    }

    #[test]
    fn flex_spreads_as_the_slices_do() {
        let device = Default::default();
        let x: Vec<f32> = (0..2 * 3 * 4 * 5).map(|i| i as f32 - 7.5).collect();
        let tensor = || Flex::float_from_data(TensorData::new(x.clone(), [2, 3, 4, 5]), &device);
        let cases = [
            ([1, 1], [(0, 1), (0, 1)]),
            ([2, 2], [(1, 1), (2, 0)]),
            ([3, 1], [(0, 0), (0, 0)]),
            ([1, 2], [(2, 3), (1, 4)]),
        ];
        let empty =
            Flex::float_from_data(TensorData::new(Vec::<f32>::new(), [1, 2, 0, 3]), &device);
        let spread = <Flex as Convolution>::spread(empty, [2, 2], [(1, 1), (0, 0)]);
        assert_eq!(spread.layout().shape().dims::<4>(), [1, 2, 2, 5]);
        assert!(values(spread).iter().all(|&v| v == 0.0));
        for (stride, padding) in cases {
            let (looped, sliced) = (
                <Flex as Convolution>::spread(tensor(), stride, padding),
                spread_by_slices::<Flex>(tensor(), stride, padding),
            );
            assert_eq!(looped.layout().shape(), sliced.layout().shape());
            assert_eq!(values(looped), values(sliced), "{stride:?} {padding:?}");
        }
    }

    #[test]
    fn flex_pointwise_is_flexs_conv_in_every_block() {
        let device = Default::default();
        let tensor = |shape: [usize; 4], seed: usize| {
            let values = (0..shape.iter().product::<usize>())
                .map(|i| ((i * 7919 + seed * 104729) % 2003) as f32 / 1001.0 - 1.0)
                .collect::<Vec<_>>();
            Flex::float_from_data(TensorData::new(values, shape), &device)
        };
        // (input, output channels, groups, bias, input a transposed view): one image in
        // several column blocks (the last one short), a last block one pixel wide, a batch,
        // two groups, one output per group, no bias, a strided input, one pixel.
        let cases = [
            ([1, 6, 23, 19], 5, 1, true, false),
            ([1, 2, 5, 13], 3, 1, true, false),
            ([3, 4, 9, 7], 8, 1, true, false),
            ([2, 6, 17, 11], 4, 2, true, false),
            ([1, 4, 20, 10], 4, 4, true, false),
            ([1, 6, 23, 19], 5, 1, false, false),
            ([2, 3, 19, 23], 4, 1, true, true),
            ([1, 3, 1, 1], 2, 1, true, false),
        ];
        for (shape, m, groups, biased, transposed) in cases {
            let x = || {
                if transposed {
                    let [n, c, h, w] = shape;
                    Flex::float_swap_dims(tensor([n, c, w, h], 2), 2, 3)
                } else {
                    tensor(shape, 2)
                }
            };
            let weight = tensor([m, shape[1] / groups, 1, 1], 1);
            let biases = if biased { m } else { 0 };
            let bias = Flex::float_from_data(
                TensorData::new((0..biases).map(|o| o as f32 - 1.5).collect(), [biases]),
                &device,
            );
            let options = ConvOptions::new([1, 1], [0, 0], [1, 1], groups);
            let ours = Flex::pointwise(x(), weight.clone(), bias.clone(), groups);
            let flex = Flex::conv2d(x(), weight, biased.then_some(bias), options);
            let case = format!("{shape:?} groups {groups} bias {biased}");
            assert_eq!(ours.layout().shape(), flex.layout().shape(), "{case}");
            let (ours, flex) = (values(ours), values(flex));
            let worst = ours
                .iter()
                .zip(&flex)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            assert!(worst < 1e-5, "{case}: {worst}");
        }
        let empty = Flex::pointwise(
            tensor([1, 3, 0, 4], 0),
            tensor([2, 3, 1, 1], 1),
            tensor([2, 1, 1, 1], 3).reshape(Shape::new([2])),
            1,
        );
        assert_eq!(empty.layout().shape().dims::<4>(), [1, 2, 0, 4]);
    }
}
