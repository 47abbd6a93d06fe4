//! The load report of operators the importer does not implement: every one at once, so that a
//! user sees the whole list on the first try, not one op per attempt.

use std::fmt;

/// One unsupported op type of a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsupportedOp {
    /// The ONNX op type (`domain::Op` outside the default domain).
    pub op: String,
    /// The opset of the op's domain that the model declares.
    pub opset: i64,
    /// The names of the nodes that use it, in graph order.
    pub nodes: Vec<String>,
}

/// Every unsupported op of a model, in order of first use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnsupportedReport(pub Vec<UnsupportedOp>);

impl UnsupportedReport {
    /// Adds a node that uses `op`.
    pub fn add(&mut self, op: &str, opset: i64, node: &str) {
        match self.0.iter_mut().find(|u| u.op == op) {
            Some(u) => u.nodes.push(node.to_string()),
            None => self.0.push(UnsupportedOp {
                op: op.to_string(),
                opset,
                nodes: vec![node.to_string()],
            }),
        }
    }

    /// Whether every op is supported.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for UnsupportedReport {
    /// `Einsum (opset 17) x2: nodes `a`, `b`; NonMaxSuppression (opset 17) x1: node `c``.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|u| {
                let shown: Vec<String> = u.nodes.iter().take(5).map(|n| format!("`{n}`")).collect();
                let more = u.nodes.len().saturating_sub(5);
                format!(
                    "{} (opset {}) x{}: node{} {}{}",
                    u.op,
                    u.opset,
                    u.nodes.len(),
                    if u.nodes.len() == 1 { "" } else { "s" },
                    shown.join(", "),
                    if more > 0 {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    }
                )
            })
            .collect();
        f.write_str(&parts.join("; "))
    }
}
