//! What a replica holds for one key, and how two copies of it join. Every way state
//! moves between replicas (writes, read repair, write-back, hinted handoff, anti-entropy)
//! is the same operation, [`Stored::merge`], so they can never disagree about which
//! version wins.

use crate::quorum::clock::Stamp;
use crate::quorum::crdt::{OrSet, PnCounter};
use crate::quorum::paxos::Acceptor;
use crate::quorum::version::Siblings;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One key's state on a replica.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stored {
    /// A last-write-wins value (registers under lww or hlc; sets and counters with `crdt=false`).
    Lww {
        /// Its version.
        stamp: Stamp,
        /// The value.
        value: Value,
    },
    /// A register under version vectors.
    Siblings(Siblings),
    /// An observed-remove set.
    Set(OrSet),
    /// A PN-counter.
    Counter(PnCounter),
    /// A Paxos acceptor (`cas=paxos`); never merged, only changed by Paxos messages.
    Paxos(Acceptor),
}

impl Stored {
    /// Joins `other` into `self`; returns whether `self` changed. States of different
    /// kinds (only possible across differently configured nodes) leave `self` as it is.
    pub fn merge(&mut self, other: &Stored) -> bool {
        match (self, other) {
            (Stored::Lww { stamp, value }, Stored::Lww { stamp: s, value: v }) if s > stamp => {
                *stamp = s.clone();
                *value = v.clone();
                true
            }
            (Stored::Lww { .. }, Stored::Lww { .. }) => false,
            (Stored::Siblings(a), Stored::Siblings(b)) => a.merge(b),
            (Stored::Set(a), Stored::Set(b)) => a.merge(b),
            (Stored::Counter(a), Stored::Counter(b)) => a.merge(b),
            _ => false,
        }
    }

    /// True for state anti-entropy and repair may copy (every kind but Paxos acceptors,
    /// whose safety rests on each acceptor's own promises).
    pub fn mergeable(&self) -> bool {
        !matches!(self, Stored::Paxos(_))
    }

    /// The last-write-wins stamp, if this is such a value.
    pub fn stamp(&self) -> Option<&Stamp> {
        match self {
            Stored::Lww { stamp, .. } => Some(stamp),
            _ => None,
        }
    }
}

/// Joins replies into one state (`None` when no replica had the key).
pub fn join_all<'a>(states: impl IntoIterator<Item = &'a Option<Stored>>) -> Option<Stored> {
    let mut out: Option<Stored> = None;
    for s in states.into_iter().flatten() {
        match &mut out {
            None => out = Some(s.clone()),
            Some(o) => {
                o.merge(s);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lww(time: u64, node: &str, v: Value) -> Stored {
        Stored::Lww { stamp: Stamp { time, logical: 0, node: node.into() }, value: v }
    }

    #[test]
    fn lww_merge_keeps_the_highest_stamp_in_any_order() {
        let states =
            [Some(lww(5, "n1", json!(1))), None, Some(lww(9, "n2", json!(2))), Some(lww(7, "n3", json!(3)))];
        let mut rev = states.clone();
        rev.reverse();
        assert_eq!(join_all(&states), Some(lww(9, "n2", json!(2))));
        assert_eq!(join_all(&states), join_all(&rev));
        assert_eq!(join_all(&[None, None]), None);
    }

    #[test]
    fn a_late_lww_write_with_an_older_stamp_is_discarded() {
        let mut s = lww(10, "n1", json!("new"));
        assert!(!s.merge(&lww(3, "n2", json!("older clock"))));
        assert_eq!(s, lww(10, "n1", json!("new")));
    }
}
