//! The graph's nodes and their order: every tensor defined once, every input defined, no
//! cycle, and nodes sorted so that each runs after the nodes it reads (as onnxruntime does for
//! files whose nodes are out of order).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

use crate::error::{ModelError, Result};
use crate::ops::Op;

/// One node of the graph, under the names the ONNX file gives it.
#[derive(Debug, Clone)]
pub struct Node {
    /// The layer name: the node's first output tensor (its node name when it has none).
    pub name: String,
    /// The ONNX op type.
    pub op_type: String,
    /// Input tensor names ("" for an omitted optional input).
    pub inputs: Vec<String>,
    /// Output tensor names.
    pub outputs: Vec<String>,
    /// The parsed operator.
    pub op: Op,
}

impl Node {
    /// An error about this node.
    fn error(&self, reason: String) -> ModelError {
        ModelError::BadNode {
            node: self.name.clone(),
            op: self.op_type.clone(),
            reason,
        }
    }
}

/// The nodes in an order where each comes after the producers of its inputs (the file's
/// order among nodes that are free to go first), after checking that every tensor is defined
/// once — by the graph input, an initializer or one node output — and that no cycle exists.
pub fn topological(
    nodes: Vec<Node>,
    input: &str,
    initializers: &HashSet<&str>,
) -> Result<Vec<Node>> {
    let mut producer: HashMap<&str, usize> = HashMap::new();
    for (i, node) in nodes.iter().enumerate() {
        for output in node.outputs.iter().filter(|o| !o.is_empty()) {
            if output == input || initializers.contains(output.as_str()) {
                return Err(node.error(format!(
                    "its output `{output}` shadows the graph input or an initializer of that name"
                )));
            }
            if producer.insert(output, i).is_some() {
                return Err(node.error(format!(
                    "its output `{output}` is also written by another node"
                )));
            }
        }
    }
    // Kahn's algorithm over the edges producer -> consumer.
    let mut waiting = vec![0usize; nodes.len()];
    let mut consumers: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    for (i, node) in nodes.iter().enumerate() {
        let mut seen = HashSet::new();
        for name in node.inputs.iter().filter(|n| !n.is_empty()) {
            match producer.get(name.as_str()) {
                Some(&p) if seen.insert(p) => {
                    waiting[i] += 1;
                    consumers[p].push(i);
                }
                Some(_) => {}
                None if name == input || initializers.contains(name.as_str()) => {}
                None => {
                    return Err(node.error(format!("input `{name}` is produced by no node")));
                }
            }
        }
    }
    // The earliest ready node goes first, so a file already in order keeps its order.
    let mut ready: BinaryHeap<Reverse<usize>> = (0..nodes.len())
        .filter(|&i| waiting[i] == 0)
        .map(Reverse)
        .collect();
    let mut order = Vec::with_capacity(nodes.len());
    while let Some(Reverse(i)) = ready.pop() {
        order.push(i);
        for &c in &consumers[i] {
            waiting[c] -= 1;
            if waiting[c] == 0 {
                ready.push(Reverse(c));
            }
        }
    }
    if let Some(stuck) = (0..nodes.len()).find(|&i| waiting[i] > 0) {
        return Err(
            nodes[stuck].error("it is part of a cycle: its inputs depend on its output".into())
        );
    }
    let mut slots: Vec<Option<Node>> = nodes.into_iter().map(Some).collect();
    Ok(order
        .into_iter()
        .map(|i| slots[i].take().expect("each node once"))
        .collect())
}
