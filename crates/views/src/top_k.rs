//! The K best of a stream, kept in a heap of K: never the whole stream in memory.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// An entry ranked by its score (ties by insertion order, earlier first).
#[derive(Debug, Clone)]
struct Ranked<T> {
    score: f32,
    order: usize,
    item: T,
}

impl<T> PartialEq for Ranked<T> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl<T> Eq for Ranked<T> {}

impl<T> PartialOrd for Ranked<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Ranked<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.score
            .total_cmp(&other.score)
            .then(other.order.cmp(&self.order))
    }
}

/// The `k` entries of highest score seen so far.
#[derive(Debug, Clone)]
pub struct TopK<T> {
    k: usize,
    seen: usize,
    heap: BinaryHeap<Reverse<Ranked<T>>>,
}

impl<T> TopK<T> {
    /// Keeps `k` entries.
    pub fn new(k: usize) -> Self {
        Self {
            k,
            seen: 0,
            heap: BinaryHeap::with_capacity(k + 1),
        }
    }

    /// Offers an entry.
    pub fn push(&mut self, score: f32, item: T) {
        self.seen += 1;
        self.heap.push(Reverse(Ranked {
            score,
            order: self.seen,
            item,
        }));
        if self.heap.len() > self.k {
            self.heap.pop();
        }
    }

    /// The kept entries, best first.
    pub fn into_sorted(self) -> Vec<(f32, T)> {
        let mut items: Vec<Ranked<T>> = self.heap.into_iter().map(|Reverse(r)| r).collect();
        items.sort_by(|a, b| b.cmp(a));
        items.into_iter().map(|r| (r.score, r.item)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_best_k_in_order() {
        let mut top = TopK::new(3);
        for (i, s) in [0.5, 3.0, -1.0, 2.0, 3.0, 0.0].into_iter().enumerate() {
            top.push(s, i);
        }
        assert_eq!(top.into_sorted(), vec![(3.0, 1), (3.0, 4), (2.0, 3)]);
    }
}
