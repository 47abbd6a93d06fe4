//! Receptive fields: which input pixels a unit of a layer can see.

/// The input pixels that position `p` of a layer sees along each axis (height, width):
/// `lo + p * jump ..= hi + p * jump` (clipped to the image). Composed through the model's
/// windows (convolutions, pools, pads); a unit that sees the whole image (after a global pool,
/// a dense layer or a reshape) has no `ReceptiveField`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceptiveField {
    /// The first input pixel seen by position 0 (negative: in the padding).
    pub lo: [i64; 2],
    /// The last input pixel seen by position 0.
    pub hi: [i64; 2],
    /// Input pixels between neighbouring positions (the product of the strides).
    pub jump: [i64; 2],
}

impl ReceptiveField {
    /// The input itself: each pixel sees itself.
    pub fn identity() -> Self {
        Self {
            lo: [0, 0],
            hi: [0, 0],
            jump: [1, 1],
        }
    }

    /// The field after a window of `kernel` pixels (dilated), `stride` and `pad_begin`.
    pub fn through(
        self,
        kernel: [usize; 2],
        stride: [usize; 2],
        dilation: [usize; 2],
        pad_begin: [usize; 2],
    ) -> Self {
        let mut out = self;
        for a in 0..2 {
            let span = ((kernel[a] - 1) * dilation[a]) as i64;
            let pad = pad_begin[a] as i64;
            out.lo[a] = self.lo[a] - pad * self.jump[a];
            out.hi[a] = self.hi[a] + (span - pad) * self.jump[a];
            out.jump[a] = self.jump[a] * stride[a] as i64;
        }
        out
    }

    /// The union of two fields of the same jump (branches joined by an add or a concat);
    /// `None` when their jumps differ.
    pub fn union(self, other: Self) -> Option<Self> {
        (self.jump == other.jump).then(|| Self {
            lo: [self.lo[0].min(other.lo[0]), self.lo[1].min(other.lo[1])],
            hi: [self.hi[0].max(other.hi[0]), self.hi[1].max(other.hi[1])],
            jump: self.jump,
        })
    }

    /// The size of the field in pixels (height, width), padding included.
    pub fn size(&self) -> [i64; 2] {
        [self.hi[0] - self.lo[0] + 1, self.hi[1] - self.lo[1] + 1]
    }

    /// The input box `[y0, x0, y1, x1)` that position `(y, x)` sees, clipped to an image of
    /// `size` (height, width).
    pub fn box_at(&self, [y, x]: [usize; 2], size: [usize; 2]) -> [usize; 4] {
        let clip = |v: i64, axis: usize| v.clamp(0, size[axis] as i64) as usize;
        let at = [y as i64, x as i64];
        let lo = |a: usize| clip(self.lo[a] + at[a] * self.jump[a], a);
        let hi = |a: usize| clip(self.hi[a] + at[a] * self.jump[a] + 1, a);
        [lo(0), lo(1), hi(0), hi(1)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_3x3_convolutions_and_a_stride_2_pool_see_8_pixels() {
        // conv 3x3 pad 1, conv 3x3 pad 1, maxpool 2x2 stride 2: field 6, jump 2.
        let rf = ReceptiveField::identity()
            .through([3, 3], [1, 1], [1, 1], [1, 1])
            .through([3, 3], [1, 1], [1, 1], [1, 1])
            .through([2, 2], [2, 2], [1, 1], [0, 0]);
        assert_eq!(rf.size(), [6, 6]);
        assert_eq!(rf.jump, [2, 2]);
        assert_eq!(rf.lo, [-2, -2]);
        assert_eq!(rf.box_at([3, 0], [16, 16]), [4, 0, 10, 4]);
        let wide = ReceptiveField::identity().through([1, 7], [1, 1], [1, 1], [0, 3]);
        assert_eq!(wide.size(), [1, 7]);
        assert_eq!(rf.union(wide), None);
    }
}
