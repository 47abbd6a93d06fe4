//! Where the channels of a 4-D activation are: NCHW (PyTorch, Paddle, and every convolution
//! in ONNX) or NHWC (Keras models exported by tf2onnx, before and after its transposes).

use serde::Deserialize;

/// The axis order of a 4-D image tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// Batch, channels, height, width.
    Nchw,
    /// Batch, height, width, channels.
    Nhwc,
}

impl Layout {
    /// The permutation that takes an NCHW tensor to this layout.
    pub fn from_nchw(self) -> [usize; 4] {
        match self {
            Layout::Nchw => [0, 1, 2, 3],
            Layout::Nhwc => [0, 2, 3, 1],
        }
    }

    /// The permutation that takes a tensor in this layout to NCHW.
    pub fn to_nchw(self) -> [usize; 4] {
        match self {
            Layout::Nchw => [0, 1, 2, 3],
            Layout::Nhwc => [0, 3, 1, 2],
        }
    }

    /// The layout after a 4-D transpose by `perm` of a tensor in this layout.
    pub fn after(self, perm: &[usize]) -> Layout {
        let channel = match self {
            Layout::Nchw => 1,
            Layout::Nhwc => 3,
        };
        match perm.iter().position(|&p| p == channel) {
            Some(3) => Layout::Nhwc,
            _ => Layout::Nchw,
        }
    }

    /// The layout of a declared input shape: channels last when the last axis holds 1 or 3
    /// channels and the second does not.
    pub fn guess(shape: &[Option<usize>]) -> Layout {
        let small = |d: Option<usize>| matches!(d, Some(1 | 3 | 4));
        match shape {
            [_, c, _, last] if small(*last) && !small(*c) => Layout::Nhwc,
            _ => Layout::Nchw,
        }
    }
}

/// The side taken for a dynamic spatial axis when nothing else says.
pub const DEFAULT_SIDE: usize = 224;

/// The input shape to infer with: one image of `size` (else the declared static size, dynamic
/// axes taken as 224) with the declared channels (else three).
pub(crate) fn probe_shape(
    declared: &[Option<usize>],
    layout: Layout,
    size: Option<[usize; 2]>,
) -> Vec<usize> {
    let dim = |i: usize| declared.get(i).copied().flatten().unwrap_or(DEFAULT_SIDE);
    let (h, w) = match (size, layout) {
        (Some([h, w]), _) => (h, w),
        (None, Layout::Nchw) => (dim(2), dim(3)),
        (None, Layout::Nhwc) => (dim(1), dim(2)),
    };
    let channels = |i: usize| declared.get(i).copied().flatten().unwrap_or(3);
    match layout {
        Layout::Nchw => vec![1, channels(1), h, w],
        Layout::Nhwc => vec![1, h, w, channels(3)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transposes_move_the_channel_axis() {
        assert_eq!(Layout::Nhwc.after(&[0, 3, 1, 2]), Layout::Nchw);
        assert_eq!(Layout::Nchw.after(&[0, 2, 3, 1]), Layout::Nhwc);
        assert_eq!(Layout::Nchw.after(&[0, 1, 3, 2]), Layout::Nchw);
        assert_eq!(
            Layout::guess(&[None, Some(224), Some(224), Some(3)]),
            Layout::Nhwc
        );
        assert_eq!(
            Layout::guess(&[Some(1), Some(3), Some(224), Some(224)]),
            Layout::Nchw
        );
    }
}
