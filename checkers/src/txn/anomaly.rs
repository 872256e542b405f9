//! Anomalies as the transactional checker reports them: a machine name in Elle's vocabulary,
//! the transactions involved, and a sentence that reads the evidence in plain words. Cycles
//! are classified here (G0, G1c, G-single-item, G-nonadjacent-item, G2-item, with a `-process` or
//! `-realtime` suffix when session or real-time order closes them) and narrated edge by edge.

use super::graph::{PROCESS, REALTIME, RW, WR, WW, kind_name};
use super::micro::MopKind;
use super::transactions::Transactions;
use serde_json::{Value, json};

/// One anomaly found, before it becomes a [`crate::verdict::Anomaly`].
#[derive(Debug, Clone)]
pub(crate) struct Found {
    /// Elle's name: `G0`, `G1a`, `G-single-realtime`, `lost-update`, ...
    pub kind: String,
    /// Transaction ids involved.
    pub txns: Vec<u32>,
    /// The evidence in words.
    pub explanation: String,
    /// Structured evidence (a cycle's edges, the key and values).
    pub witness: Value,
}

/// One step of a cycle: an edge of one kind from one transaction to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Step {
    /// Source transaction id.
    pub from: u32,
    /// Target transaction id.
    pub to: u32,
    /// One kind bit.
    pub kind: u8,
}

/// Elle's name for a cycle, from the kinds of its edges.
pub(crate) fn classify(steps: &[Step]) -> String {
    let rw: Vec<usize> = steps.iter().enumerate().filter(|(_, s)| s.kind == RW).map(|(i, _)| i).collect();
    let base = match rw.len() {
        0 if steps.iter().all(|s| s.kind != WR) => "G0",
        0 => "G1c",
        // Every rw edge inferred here is on an item (no predicates), so Elle's item names.
        1 => "G-single-item",
        _ => {
            let n = steps.len();
            let adjacent = (0..n).any(|i| steps[i].kind == RW && steps[(i + 1) % n].kind == RW);
            if adjacent { "G2-item" } else { "G-nonadjacent-item" }
        }
    };
    if steps.iter().any(|s| s.kind == REALTIME) {
        format!("{base}-realtime")
    } else if steps.iter().any(|s| s.kind == PROCESS) {
        format!("{base}-process")
    } else {
        base.to_string()
    }
}

/// Words for transactions, keys and values of one history.
pub(crate) struct Narrator<'a> {
    /// The transactions.
    pub tx: &'a Transactions,
}

impl Narrator<'_> {
    /// `T<index>`: a transaction by the history index of its completion.
    pub(crate) fn name(&self, t: u32) -> String {
        format!("T{}", self.tx.txns[t as usize].index)
    }

    /// A key's name.
    pub(crate) fn key(&self, k: u32) -> String {
        self.tx.table.keys.name(k)
    }

    /// A value's name.
    pub(crate) fn value(&self, v: u32) -> String {
        self.tx.table.values.name(v)
    }

    /// A list of values as `[1 2 3]`.
    pub(crate) fn list(&self, vs: &[u32]) -> String {
        let parts: Vec<String> = vs.iter().map(|&v| self.value(v)).collect();
        format!("[{}]", parts.join(" "))
    }

    /// What `t` wrote to `k`: "appended 3 to x" or "wrote x=3" (the last write if several).
    pub(crate) fn wrote(&self, t: u32, k: u32) -> String {
        let writes: Vec<&super::micro::Mop> = self
            .tx
            .mops(t)
            .iter()
            .filter(|m| m.key == k && matches!(m.kind, MopKind::Append | MopKind::Write))
            .collect();
        match writes.last() {
            Some(m) if m.kind == MopKind::Append => {
                let vs: Vec<String> = writes.iter().map(|m| self.value(m.value)).collect();
                format!("appended {} to {}", vs.join(", "), self.key(k))
            }
            Some(m) => format!("wrote {}={}", self.key(k), self.value(m.value)),
            None => format!("wrote {}", self.key(k)),
        }
    }

    /// What `t` first read of `k`: "read x=[1 2]" or "read x=3".
    pub(crate) fn read(&self, t: u32, k: u32) -> String {
        let m = self
            .tx
            .mops(t)
            .iter()
            .find(|m| m.key == k && matches!(m.kind, MopKind::ReadList | MopKind::ReadValue));
        match m {
            Some(m) if m.kind == MopKind::ReadList => {
                format!("read {}={}", self.key(k), self.list(self.tx.table.list(m)))
            }
            Some(m) => format!("read {}={}", self.key(k), self.value(m.value)),
            None => format!("read {}", self.key(k)),
        }
    }

    /// One cycle step in words.
    fn step(&self, s: &Step, key: Option<u32>) -> String {
        let (a, b) = (self.name(s.from), self.name(s.to));
        match (s.kind, key) {
            (WW, Some(k)) => {
                format!("{a} {} and {b} {} after it (ww)", self.wrote(s.from, k), self.wrote(s.to, k))
            }
            (WR, Some(k)) => {
                format!("{b} {}, which shows that {a} {} (wr)", self.read(s.to, k), self.wrote(s.from, k))
            }
            (RW, Some(k)) => format!(
                "{a} {}, which misses that {b} {}, so {a} came before {b} (rw)",
                self.read(s.from, k),
                self.wrote(s.to, k)
            ),
            (PROCESS, _) => format!(
                "{a} ended before {b} began on the same process {} (process)",
                self.tx.txns[s.from as usize].process
            ),
            (REALTIME, _) => format!("{a} completed before {b} was invoked (realtime)"),
            (kind, _) => format!("{a} precedes {b} ({})", kind_name(kind)),
        }
    }

    /// A cycle as an anomaly: its kind, a sentence per edge, and the edges as JSON.
    pub(crate) fn cycle(&self, steps: &[Step], key_of: impl Fn(&Step) -> Option<u32>) -> Found {
        let kind = classify(steps);
        let sentences: Vec<String> = steps.iter().map(|s| self.step(s, key_of(s))).collect();
        let first = self.name(steps[0].from);
        let explanation = format!(
            "{}; so {first} would have to come before itself: no order of these {} transactions explains what they saw ({kind}).",
            sentences.join("; "),
            steps.len()
        );
        let edges: Vec<Value> = steps
            .iter()
            .map(|s| {
                let mut e = json!({
                    "from": self.tx.txns[s.from as usize].index,
                    "to": self.tx.txns[s.to as usize].index,
                    "type": kind_name(s.kind),
                });
                if let Some(k) = key_of(s) {
                    e["key"] = Value::String(self.key(k));
                }
                e
            })
            .collect();
        Found {
            kind,
            txns: steps.iter().map(|s| s.from).collect(),
            explanation,
            witness: json!({ "cycle": edges }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(kind: u8) -> Step {
        Step { from: 0, to: 0, kind }
    }

    #[test]
    fn classifies_cycles_by_their_rw_edges() {
        assert_eq!(classify(&[s(WW), s(WW)]), "G0");
        assert_eq!(classify(&[s(WW), s(WR)]), "G1c");
        assert_eq!(classify(&[s(WR), s(RW)]), "G-single-item");
        assert_eq!(classify(&[s(RW), s(WR), s(RW), s(WW)]), "G-nonadjacent-item");
        assert_eq!(classify(&[s(RW), s(RW)]), "G2-item");
        assert_eq!(classify(&[s(RW), s(WW), s(RW)]), "G2-item");
        assert_eq!(classify(&[s(RW), s(REALTIME)]), "G-single-item-realtime");
        assert_eq!(classify(&[s(WW), s(PROCESS)]), "G0-process");
    }
}
