//! Version vectors for `resolve=vclock`: a register holds every concurrent write as a
//! sibling. Each sibling carries the dot of the write that made it (the coordinator's id
//! and a counter unique to that node) and the context that write had read. A sibling is
//! superseded exactly when some other sibling's context covers its dot, so two writes
//! from the same coordinator that read the same context both survive (dotted version
//! vectors; plain per-node counters would let the second silently dominate the first).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The write that made a sibling: node and that node's counter.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Dot {
    /// Coordinator id.
    pub node: String,
    /// Counter, unique per node.
    pub counter: u64,
}

/// What a client has seen: for each node the highest counter of its writes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct VersionVector(pub BTreeMap<String, u64>);

impl VersionVector {
    /// True when the write `dot` is in this causal past.
    pub fn covers(&self, dot: &Dot) -> bool {
        self.0.get(&dot.node).is_some_and(|c| *c >= dot.counter)
    }

    /// Pointwise maximum.
    pub fn join(&mut self, other: &VersionVector) {
        for (n, c) in &other.0 {
            let e = self.0.entry(n.clone()).or_insert(0);
            *e = (*e).max(*c);
        }
    }

    /// Adds one write's dot.
    pub fn add(&mut self, dot: &Dot) {
        let e = self.0.entry(dot.node.clone()).or_insert(0);
        *e = (*e).max(dot.counter);
    }

    /// True when every entry of `self` is at most that of `other`.
    pub fn dominated_by(&self, other: &VersionVector) -> bool {
        self.0.iter().all(|(n, c)| other.0.get(n).is_some_and(|o| o >= c))
    }
}

/// One concurrent version of a register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sibling {
    /// The write that made it.
    pub dot: Dot,
    /// What that write had read (its causal past, without `dot`).
    pub context: VersionVector,
    /// The value written.
    pub value: Value,
}

/// A register under version vectors: the siblings no other sibling supersedes, sorted
/// by dot so equal states compare and hash equal on every node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Siblings(pub Vec<Sibling>);

impl Siblings {
    /// The context a client reads: every dot of every sibling and their pasts.
    pub fn context(&self) -> VersionVector {
        let mut vv = VersionVector::default();
        for s in &self.0 {
            vv.join(&s.context);
            vv.add(&s.dot);
        }
        vv
    }

    /// Takes in a sibling set from elsewhere; returns whether anything changed. Join is
    /// commutative, associative and idempotent, so replicas converge in any order.
    pub fn merge(&mut self, other: &Siblings) -> bool {
        let mut all: Vec<Sibling> = self.0.iter().chain(other.0.iter()).cloned().collect();
        all.sort_by(|a, b| a.dot.cmp(&b.dot));
        all.dedup_by(|a, b| a.dot == b.dot);
        let kept: Vec<Sibling> = all
            .iter()
            .filter(|s| !all.iter().any(|o| o.dot != s.dot && o.context.covers(&s.dot)))
            .cloned()
            .collect();
        let changed = kept != self.0;
        self.0 = kept;
        changed
    }

    /// The values, in dot order.
    pub fn values(&self) -> Vec<Value> {
        self.0.iter().map(|s| s.value.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn write(node: &str, counter: u64, context: &VersionVector, value: Value) -> Siblings {
        Siblings(vec![Sibling { dot: Dot { node: node.into(), counter }, context: context.clone(), value }])
    }

    #[test]
    fn version_vectors_keep_concurrent_writes_as_siblings() {
        let empty = VersionVector::default();
        let mut a = write("n1", 1, &empty, json!(1));
        let b = write("n2", 1, &empty, json!(2));
        assert!(a.merge(&b));
        assert_eq!(a.values(), vec![json!(1), json!(2)]);
    }

    #[test]
    fn same_coordinator_writes_from_one_context_stay_siblings() {
        let empty = VersionVector::default();
        let mut a = write("n1", 1, &empty, json!("x"));
        a.merge(&write("n1", 2, &empty, json!("y")));
        assert_eq!(a.values().len(), 2);
    }

    #[test]
    fn a_write_with_the_read_context_supersedes_the_siblings_it_read() {
        let empty = VersionVector::default();
        let mut state = write("n1", 1, &empty, json!(1));
        state.merge(&write("n2", 1, &empty, json!(2)));
        let ctx = state.context();
        let newer = write("n3", 1, &ctx, json!(3));
        state.merge(&newer);
        assert_eq!(state.values(), vec![json!(3)]);
        // An old sibling arriving late changes nothing.
        assert!(!state.merge(&write("n1", 1, &empty, json!(1))));
    }

    #[test]
    fn sibling_merge_is_commutative_associative_idempotent() {
        let empty = VersionVector::default();
        let a = write("n1", 1, &empty, json!(1));
        let b = write("n2", 4, &empty, json!(2));
        let c = write("n3", 2, &a.context(), json!(3));
        let join = |xs: &[&Siblings]| {
            let mut s = Siblings::default();
            for x in xs {
                s.merge(x);
            }
            s
        };
        let abc = join(&[&a, &b, &c]);
        assert_eq!(abc, join(&[&c, &b, &a]));
        assert_eq!(abc, join(&[&b, &join(&[&c, &a])]));
        assert_eq!(abc, join(&[&abc, &abc]));
        assert_eq!(abc.values(), vec![json!(2), json!(3)]);
    }

    #[test]
    fn dominance_is_pointwise() {
        let a = VersionVector([("n1".to_string(), 1)].into());
        let b = VersionVector([("n1".to_string(), 2), ("n2".to_string(), 1)].into());
        assert!(a.dominated_by(&b));
        assert!(!b.dominated_by(&a));
    }
}
