//! Integer tensors on the host: the shape arithmetic of exported graphs (Shape → Gather →
//! Concat → Reshape, PyTorch's pad computation) runs here, at load when it is constant and
//! per step, cheaply, when it reads the shape of an activation.

use crate::value::Ints;

/// Numpy broadcasting of two shapes.
pub fn broadcast(a: &[usize], b: &[usize]) -> Result<Vec<usize>, String> {
    let rank = a.len().max(b.len());
    let at = |s: &[usize], i: usize| (i + s.len()).checked_sub(rank).map_or(1, |j| s[j]);
    (0..rank)
        .map(|i| match (at(a, i), at(b, i)) {
            (x, y) if x == y || y == 1 => Ok(x),
            (1, y) => Ok(y),
            _ => Err(format!("shapes {a:?} and {b:?} do not broadcast")),
        })
        .collect()
}

/// Integers as sizes, each non-negative.
pub fn to_sizes(v: &[i64]) -> Result<Vec<usize>, String> {
    v.iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("bad shape {v:?}")))
        .collect()
}

/// Row-major strides of `shape`.
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut out = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        out[i] = out[i + 1] * shape[i + 1];
    }
    out
}

impl Ints {
    /// A tensor of `shape` whose value at each multi-index is `value(index)`.
    pub fn from_fn(shape: Vec<usize>, mut value: impl FnMut(&[usize]) -> i64) -> Self {
        let count: usize = shape.iter().product();
        let mut data = Vec::with_capacity(count);
        let mut index = vec![0; shape.len()];
        for _ in 0..count {
            data.push(value(&index));
            for axis in (0..shape.len()).rev() {
                index[axis] += 1;
                if index[axis] < shape[axis] {
                    break;
                }
                index[axis] = 0;
            }
        }
        Self { shape, data }
    }

    /// The value at a multi-index of a shape this tensor broadcasts to.
    pub fn at_broadcast(&self, index: &[usize]) -> i64 {
        let offset = index.len() - self.shape.len();
        let strides = strides(&self.shape);
        let flat: usize = self
            .shape
            .iter()
            .enumerate()
            .map(|(i, &d)| {
                if d == 1 {
                    0
                } else {
                    index[offset + i] * strides[i]
                }
            })
            .sum();
        self.data[flat]
    }

    /// Element-wise `f` with broadcasting; `None` from `f` is an overflow or division by zero.
    pub fn zip(&self, other: &Ints, f: impl Fn(i64, i64) -> Option<i64>) -> Result<Ints, String> {
        let shape = broadcast(&self.shape, &other.shape)?;
        let mut failed = None;
        let out = Ints::from_fn(shape, |i| {
            let (a, b) = (self.at_broadcast(i), other.at_broadcast(i));
            f(a, b).unwrap_or_else(|| {
                failed = Some((a, b));
                0
            })
        });
        match failed {
            Some((a, b)) => Err(format!(
                "integer overflow or division by zero in {a} and {b}"
            )),
            None => Ok(out),
        }
    }

    /// The tensor with its axes permuted.
    pub fn transpose(&self, perm: &[usize]) -> Ints {
        let strides = strides(&self.shape);
        let shape = perm.iter().map(|&p| self.shape[p]).collect();
        Ints::from_fn(shape, |i| {
            let flat: usize = perm.iter().zip(i).map(|(&p, &x)| x * strides[p]).sum();
            self.data[flat]
        })
    }

    /// Strided selection: along each axis, the output index `k` reads `start + k * step`.
    pub fn select(&self, out_shape: Vec<usize>, start: &[i64], step: &[i64]) -> Ints {
        let strides = strides(&self.shape);
        Ints::from_fn(out_shape, |i| {
            let flat: i64 = (0..i.len())
                .map(|a| (start[a] + i[a] as i64 * step[a]) * strides[a] as i64)
                .sum();
            self.data[flat as usize]
        })
    }

    /// The tensor broadcast to `shape`.
    pub fn expand(&self, shape: Vec<usize>) -> Ints {
        Ints::from_fn(shape, |i| self.at_broadcast(i))
    }

    /// Concatenation along `axis`; the shapes agree elsewhere.
    pub fn concat(parts: &[&Ints], axis: usize) -> Ints {
        let mut shape = parts[0].shape.clone();
        shape[axis] = parts.iter().map(|p| p.shape[axis]).sum();
        Ints::from_fn(shape, |i| {
            let mut k = i[axis];
            for p in parts {
                if k < p.shape[axis] {
                    let mut j = i.to_vec();
                    j[axis] = k;
                    let flat: usize = j.iter().zip(strides(&p.shape)).map(|(a, s)| a * s).sum();
                    return p.data[flat];
                }
                k -= p.shape[axis];
            }
            unreachable!("the index is inside the concatenation")
        })
    }

    /// `indices` (already resolved against `axis`'s length) taken along `axis`.
    pub fn take(&self, axis: usize, indices: &Ints) -> Ints {
        let mut shape = self.shape[..axis].to_vec();
        shape.extend(&indices.shape);
        shape.extend(&self.shape[axis + 1..]);
        let strides = strides(&self.shape);
        let index_strides = strides_of(indices);
        let k = indices.shape.len();
        Ints::from_fn(shape, |i| {
            let picked: usize = (0..k).map(|j| i[axis + j] * index_strides[j]).sum();
            let source = indices.data[picked] as usize;
            let mut flat = source * strides[axis];
            for a in 0..axis {
                flat += i[a] * strides[a];
            }
            for a in axis + 1..self.shape.len() {
                flat += i[a + k - 1] * strides[a];
            }
            self.data[flat]
        })
    }
}

fn strides_of(v: &Ints) -> Vec<usize> {
    strides(&v.shape)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(shape: &[usize], data: &[i64]) -> Ints {
        Ints::new(shape.to_vec(), data.to_vec()).unwrap()
    }

    #[test]
    fn transpose_and_select_index_like_numpy() {
        let a = m(&[2, 3], &[0, 1, 2, 3, 4, 5]);
        assert_eq!(a.transpose(&[1, 0]).data, vec![0, 3, 1, 4, 2, 5]);
        // a[::-1, 1:] reversed rows, columns from 1
        assert_eq!(
            a.select(vec![2, 2], &[1, 1], &[-1, 1]).data,
            vec![4, 5, 1, 2]
        );
    }

    #[test]
    fn zip_broadcasts_and_take_gathers() {
        let a = m(&[2, 1], &[10, 20]);
        let b = m(&[3], &[1, 2, 3]);
        assert_eq!(
            a.zip(&b, i64::checked_add).unwrap().data,
            vec![11, 12, 13, 21, 22, 23]
        );
        let t = m(&[2, 3], &[0, 1, 2, 3, 4, 5]);
        assert_eq!(t.take(1, &m(&[2], &[2, 0])).data, vec![2, 0, 5, 3]);
        assert_eq!(t.take(0, &m(&[], &[1])).data, vec![3, 4, 5]);
        assert_eq!(
            Ints::concat(&[&m(&[1, 2], &[1, 2]), &m(&[1, 1], &[9])], 1).data,
            vec![1, 2, 9]
        );
    }
}
