//! Two-phase locking on one participant: shared locks for keys a transaction only
//! reads, exclusive locks for keys it writes, all held until the outcome is known.
//!
//! Deadlocks are avoided, not detected: a transaction acquires its locks on one
//! participant all at once (all or nothing), and visits participants one after another
//! in the fixed node order of [`crate::bank2pc::shard::Shards::nodes`]. A transaction
//! waiting here holds locks only on earlier participants, and the transactions it waits
//! for hold locks here, so every wait points forward in that order (or, between waiters
//! here, to an earlier arrival) and no cycle can form. Waiters are granted first come,
//! first served: a newcomer never overtakes an earlier waiter it conflicts with, so a
//! stream of readers cannot starve a writer.

use crate::bank2pc::message::{LockMode, TxnId};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

#[derive(Debug, Clone)]
struct Held {
    mode: LockMode,
    owners: BTreeSet<TxnId>,
}

#[derive(Debug, Clone)]
struct Waiter {
    txn: TxnId,
    wants: Vec<(String, LockMode)>,
}

/// The locks of one participant and the transactions waiting for them.
#[derive(Debug, Clone, Default)]
pub struct LockTable {
    held: BTreeMap<String, Held>,
    waiting: VecDeque<Waiter>,
}

fn conflicts(a: LockMode, b: LockMode) -> bool {
    a == LockMode::Exclusive || b == LockMode::Exclusive
}

impl LockTable {
    fn free_for(&self, txn: &TxnId, wants: &[(String, LockMode)]) -> bool {
        wants.iter().all(|(key, mode)| match self.held.get(key) {
            None => true,
            Some(h) => h.owners.iter().all(|o| o == txn) || !conflicts(h.mode, *mode),
        })
    }

    fn clashes_with(wants: &[(String, LockMode)], earlier: &Waiter) -> bool {
        wants.iter().any(|(key, mode)| earlier.wants.iter().any(|(k, m)| k == key && conflicts(*mode, *m)))
    }

    fn grant(&mut self, txn: &TxnId, wants: &[(String, LockMode)]) {
        for (key, mode) in wants {
            let h = self.held.entry(key.clone()).or_insert(Held { mode: *mode, owners: BTreeSet::new() });
            if *mode == LockMode::Exclusive {
                h.mode = LockMode::Exclusive;
            }
            h.owners.insert(txn.clone());
        }
    }

    /// Takes every lock in `wants` for `txn` at once and returns true, or queues `txn`
    /// behind the holders and earlier waiters it conflicts with and returns false.
    pub fn acquire(&mut self, txn: &TxnId, wants: Vec<(String, LockMode)>) -> bool {
        let overtakes = self.waiting.iter().any(|w| Self::clashes_with(&wants, w));
        if !overtakes && self.free_for(txn, &wants) {
            self.grant(txn, &wants);
            return true;
        }
        self.waiting.push_back(Waiter { txn: txn.clone(), wants });
        false
    }

    /// Drops every lock `txn` holds and its place in the queue, if any.
    pub fn release(&mut self, txn: &TxnId) {
        self.held.retain(|_, h| {
            h.owners.remove(txn);
            !h.owners.is_empty()
        });
        self.waiting.retain(|w| &w.txn != txn);
    }

    /// Grants, in arrival order, every waiter whose locks are now free and that conflicts
    /// with no earlier waiter; returns the transactions that now hold their locks.
    pub fn grant_waiters(&mut self) -> Vec<TxnId> {
        let mut granted = Vec::new();
        let mut still: VecDeque<Waiter> = VecDeque::new();
        while let Some(w) = self.waiting.pop_front() {
            let blocked = still.iter().any(|e| Self::clashes_with(&w.wants, e));
            if !blocked && self.free_for(&w.txn, &w.wants) {
                self.grant(&w.txn, &w.wants);
                granted.push(w.txn);
            } else {
                still.push_back(w);
            }
        }
        self.waiting = still;
        granted
    }

    /// Whether `txn` is queued.
    pub fn is_waiting(&self, txn: &TxnId) -> bool {
        self.waiting.iter().any(|w| &w.txn == txn)
    }

    /// Every lock held: key, holder and mode, in key order.
    pub fn held(&self) -> Vec<(String, TxnId, LockMode)> {
        let mut out = Vec::new();
        for (key, h) in &self.held {
            for o in &h.owners {
                out.push((key.clone(), o.clone(), h.mode));
            }
        }
        out
    }

    /// How many transactions are queued.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(seq: u64) -> TxnId {
        TxnId { coordinator: "n1".into(), incarnation: 1, seq }
    }

    fn x(key: &str) -> (String, LockMode) {
        (key.to_string(), LockMode::Exclusive)
    }

    fn s(key: &str) -> (String, LockMode) {
        (key.to_string(), LockMode::Shared)
    }

    #[test]
    fn readers_share_and_a_writer_waits_for_them() {
        let mut l = LockTable::default();
        assert!(l.acquire(&t(1), vec![s("a")]));
        assert!(l.acquire(&t(2), vec![s("a")]));
        assert!(!l.acquire(&t(3), vec![x("a")]));
        l.release(&t(1));
        assert!(l.grant_waiters().is_empty());
        l.release(&t(2));
        assert_eq!(l.grant_waiters(), vec![t(3)]);
        assert_eq!(l.held(), vec![("a".to_string(), t(3), LockMode::Exclusive)]);
    }

    #[test]
    fn a_reader_does_not_overtake_a_waiting_writer() {
        let mut l = LockTable::default();
        assert!(l.acquire(&t(1), vec![s("a")]));
        assert!(!l.acquire(&t(2), vec![x("a")]));
        assert!(!l.acquire(&t(3), vec![s("a")]), "would starve the writer");
        l.release(&t(1));
        assert_eq!(l.grant_waiters(), vec![t(2)]);
        l.release(&t(2));
        assert_eq!(l.grant_waiters(), vec![t(3)]);
    }

    #[test]
    fn acquisition_is_all_or_nothing() {
        let mut l = LockTable::default();
        assert!(l.acquire(&t(1), vec![x("b")]));
        assert!(!l.acquire(&t(2), vec![x("a"), x("b")]));
        assert!(l.held().iter().all(|(k, _, _)| k == "b"), "t2 holds nothing while it waits");
        assert!(l.acquire(&t(3), vec![x("c")]), "c is free and t3 clashes with no waiter on it");
        assert!(!l.acquire(&t(4), vec![x("a")]), "a is free, but t2 waits for it first");
    }
}
