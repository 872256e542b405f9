//! The state-based CRDTs behind `crdt=true`: an observed-remove set and a PN-counter.
//! Replicas merge states by join (commutative, associative, idempotent), so they
//! converge whatever order read repair, hinted handoff and anti-entropy deliver them in,
//! and no coordinator ever has to read before it writes.

use crate::quorum::version::Dot;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Observed-remove set: each add is tagged with a fresh dot; a remove deletes the dots it
/// observed, so an add the remover had not seen survives. Elements are kept as their
/// canonical JSON text so the state orders and compares equal on every node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrSet {
    /// Element (canonical JSON) to the dots of the adds of it.
    pub adds: BTreeMap<String, BTreeSet<Dot>>,
    /// Dots whose add a remove observed.
    pub removed: BTreeSet<Dot>,
}

impl OrSet {
    /// The state of one add of `element` tagged `dot`.
    pub fn add(element: &serde_json::Value, dot: Dot) -> OrSet {
        let mut s = OrSet::default();
        s.adds.entry(element.to_string()).or_default().insert(dot);
        s
    }

    /// Removes every add of `element` this state has observed.
    pub fn remove(&mut self, element: &serde_json::Value) {
        if let Some(dots) = self.adds.get(&element.to_string()) {
            self.removed.extend(dots.iter().cloned());
        }
    }

    /// Elements present: those with an add no remove observed.
    pub fn elements(&self) -> Vec<serde_json::Value> {
        self.adds
            .iter()
            .filter(|(_, dots)| dots.iter().any(|d| !self.removed.contains(d)))
            .filter_map(|(e, _)| serde_json::from_str(e).ok())
            .collect()
    }

    /// Join; returns whether anything changed.
    pub fn merge(&mut self, other: &OrSet) -> bool {
        let before = (self.adds.values().map(BTreeSet::len).sum::<usize>(), self.removed.len());
        for (e, dots) in &other.adds {
            self.adds.entry(e.clone()).or_default().extend(dots.iter().cloned());
        }
        self.removed.extend(other.removed.iter().cloned());
        before != (self.adds.values().map(BTreeSet::len).sum::<usize>(), self.removed.len())
    }
}

/// PN-counter: per node, the total it added and the total it subtracted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PnCounter {
    /// Increments by node.
    pub p: BTreeMap<String, u64>,
    /// Decrements by node.
    pub n: BTreeMap<String, u64>,
}

impl PnCounter {
    /// Adds `delta` as `node`'s contribution.
    pub fn add(&mut self, node: &str, delta: i64) {
        let side = if delta >= 0 { &mut self.p } else { &mut self.n };
        *side.entry(node.to_string()).or_insert(0) += delta.unsigned_abs();
    }

    /// The counter's value.
    pub fn value(&self) -> i64 {
        let p: u64 = self.p.values().sum();
        let n: u64 = self.n.values().sum();
        p as i64 - n as i64
    }

    /// Join: pointwise maximum of both sides; returns whether anything changed.
    pub fn merge(&mut self, other: &PnCounter) -> bool {
        let mut changed = false;
        for (mine, theirs) in [(&mut self.p, &other.p), (&mut self.n, &other.n)] {
            for (node, c) in theirs {
                let e = mine.entry(node.clone()).or_insert(0);
                if *c > *e {
                    *e = *c;
                    changed = true;
                }
            }
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dot(node: &str, counter: u64) -> Dot {
        Dot { node: node.into(), counter }
    }

    #[test]
    fn or_set_keeps_an_add_concurrent_with_a_remove() {
        let mut a = OrSet::add(&json!("x"), dot("n1", 1));
        let mut b = a.clone();
        b.remove(&json!("x"));
        a.merge(&OrSet::add(&json!("x"), dot("n2", 1)));
        a.merge(&b);
        assert_eq!(a.elements(), vec![json!("x")]);
        b.merge(&a);
        assert_eq!(b, a);
    }

    #[test]
    fn or_set_remove_deletes_the_adds_it_observed() {
        let mut s = OrSet::add(&json!(1), dot("n1", 1));
        s.merge(&OrSet::add(&json!(2), dot("n2", 1)));
        s.remove(&json!(1));
        assert_eq!(s.elements(), vec![json!(2)]);
    }

    #[test]
    fn or_set_merge_is_commutative_associative_idempotent() {
        let a = OrSet::add(&json!(1), dot("n1", 1));
        let b = OrSet::add(&json!(2), dot("n2", 1));
        let mut c = OrSet::add(&json!(1), dot("n3", 1));
        c.remove(&json!(1));
        let join = |xs: &[&OrSet]| {
            let mut s = OrSet::default();
            for x in xs {
                s.merge(x);
            }
            s
        };
        let abc = join(&[&a, &b, &c]);
        assert_eq!(abc, join(&[&c, &a, &b]));
        assert_eq!(abc, join(&[&join(&[&a, &b]), &c]));
        assert!(!join(&[&abc]).clone().merge(&abc));
    }

    #[test]
    fn pn_counter_merge_is_commutative_associative_idempotent() {
        let mut a = PnCounter::default();
        a.add("n1", 5);
        let mut b = PnCounter::default();
        b.add("n2", -3);
        let mut c = PnCounter::default();
        c.add("n1", 7);
        let join = |xs: &[&PnCounter]| {
            let mut s = PnCounter::default();
            for x in xs {
                s.merge(x);
            }
            s
        };
        let abc = join(&[&a, &b, &c]);
        assert_eq!(abc, join(&[&c, &b, &a]));
        assert_eq!(abc, join(&[&join(&[&b, &c]), &a]));
        let mut again = abc.clone();
        assert!(!again.merge(&abc));
        assert_eq!(abc.value(), 7 - 3);
    }

    #[test]
    fn pn_counter_sums_every_nodes_contribution() {
        let mut s = PnCounter::default();
        s.add("n1", 2);
        s.add("n1", -1);
        let mut t = PnCounter::default();
        t.add("n2", 10);
        s.merge(&t);
        assert_eq!(s.value(), 11);
    }
}
