//! The graph's nodes and their order: every tensor defined once, every input defined, no
//! cycle, and nodes sorted so that each runs after the nodes it reads (as onnxruntime does for
//! files whose nodes are out of order).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

use onnx_ir::NodeProto;

use crate::error::{ModelError, Result};
use crate::ops::Kernel;

/// One node of the graph, under the names the ONNX file gives it.
#[derive(Debug)]
pub struct Node {
    /// The node's name in the file (its first output when it has none): what errors name.
    pub name: String,
    /// The ONNX op type (`domain::Op` outside the default domain).
    pub op_type: String,
    /// Input tensor names ("" for an omitted optional input).
    pub inputs: Vec<String>,
    /// Output tensor names; the first is the node's layer name.
    pub outputs: Vec<String>,
    /// The parsed operator; `None` when the op is not supported.
    pub kernel: Option<Box<dyn Kernel>>,
}

impl Node {
    /// An error about this node.
    pub fn error(&self, reason: String) -> ModelError {
        ModelError::BadNode {
            node: self.name.clone(),
            op: self.op_type.clone(),
            reason,
        }
    }
}

/// The name errors give a node of the file: its name, else its first output.
pub fn display_name(node: &NodeProto) -> String {
    if node.name.is_empty() {
        node.output.first().cloned().unwrap_or_default()
    } else {
        node.name.clone()
    }
}

/// The node indices in an order where each comes after the producers of its inputs (the
/// file's order among nodes that are free to go first), after checking that every tensor is
/// defined once — by the graph input, an initializer or one node output — and that no cycle
/// exists.
pub fn topological(
    nodes: &[NodeProto],
    input: &str,
    initializers: &HashSet<&str>,
) -> Result<Vec<usize>> {
    let error = |node: &NodeProto, reason: String| ModelError::BadNode {
        node: display_name(node),
        op: node.op_type.clone(),
        reason,
    };
    let mut producer: HashMap<&str, usize> = HashMap::new();
    for (i, node) in nodes.iter().enumerate() {
        if node.output.first().is_none_or(|o| o.is_empty()) {
            return Err(error(node, "the node has no output".into()));
        }
        for output in node.output.iter().filter(|o| !o.is_empty()) {
            if output == input || initializers.contains(output.as_str()) {
                return Err(error(
                    node,
                    format!(
                        "its output `{output}` shadows the graph input or an initializer of that name"
                    ),
                ));
            }
            if producer.insert(output, i).is_some() {
                return Err(error(
                    node,
                    format!("its output `{output}` is also written by another node"),
                ));
            }
        }
    }
    // Kahn's algorithm over the edges producer -> consumer.
    let mut waiting = vec![0usize; nodes.len()];
    let mut consumers: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    for (i, node) in nodes.iter().enumerate() {
        let mut seen = HashSet::new();
        for name in node.input.iter().filter(|n| !n.is_empty()) {
            match producer.get(name.as_str()) {
                Some(&p) if seen.insert(p) => {
                    waiting[i] += 1;
                    consumers[p].push(i);
                }
                Some(_) => {}
                None if name == input || initializers.contains(name.as_str()) => {}
                None => {
                    return Err(error(
                        node,
                        format!("input `{name}` is produced by no node"),
                    ));
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
        return Err(error(
            &nodes[stuck],
            "it is part of a cycle: its inputs depend on its output".into(),
        ));
    }
    Ok(order)
}
