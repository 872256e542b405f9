//! The replica side of a node's core: how it answers what peers ask (reads of its copy,
//! merges and hints, Paxos votes, anti-entropy digests) and the one place that joins
//! state into its own copy and marks it for the log.

use super::Core;
use crate::quorum::antientropy;
use crate::quorum::message::{Request, Response};
use crate::quorum::paxos::{Acceptor, Vote};
use crate::quorum::replica::Stored;
use crate::quorum::store::Record;

impl Core {
    /// Joins `state` into the local copy; persists when it changed.
    pub(super) fn merge_local(&mut self, key: &str, state: &Stored) {
        if let Some(stamp) = state.stamp() {
            self.clock.observe(stamp);
        }
        let changed = match self.data.get_mut(key) {
            Some(mine) => mine.merge(state),
            None => {
                self.data.insert(key.to_string(), state.clone());
                true
            }
        };
        if changed {
            self.persist_key(key);
        }
    }

    pub(super) fn serve(&mut self, from: &str, req: Request) -> Response {
        match req {
            Request::Get { key } => Response::State { state: self.data.get(&key).cloned() },
            Request::Merge { key, state, hint_for: Some(target) } if target != self.id => {
                let slot = (target, key);
                let changed = match self.hints.get_mut(&slot) {
                    Some(h) => h.merge(&state),
                    None => {
                        self.hints.insert(slot.clone(), state);
                        true
                    }
                };
                if changed {
                    let (target, key) = slot.clone();
                    self.ready.persist.push(Record::Hint { target, key, state: self.hints[&slot].clone() });
                }
                Response::Ack
            }
            Request::Merge { key, state, .. } => {
                if state.mergeable() {
                    self.merge_local(&key, &state);
                }
                Response::Ack
            }
            Request::Prepare { key, ballot } => {
                let vote = self.acceptor(&key).prepare(&ballot);
                self.persist_key(&key);
                Response::Vote { vote }
            }
            Request::Accept { key, ballot, value } => {
                let vote = self.acceptor(&key).accept(&ballot, &value);
                if vote == Vote::Accepted {
                    self.persist_key(&key);
                }
                Response::Vote { vote }
            }
            Request::Digests { digests } => {
                let shared = self.shared_with(from);
                let mine = antientropy::digests(shared.iter().map(|(k, s)| (k, s)));
                let buckets = antientropy::differing(&mine, &digests);
                let states = antientropy::in_buckets(shared.iter().map(|(k, s)| (k, s)), &buckets);
                Response::Differ { buckets, states }
            }
            Request::MergeMany { states } => {
                for (k, s) in states {
                    if s.mergeable() && self.ring.holds(&self.id, &k) {
                        self.merge_local(&k, &s);
                    }
                }
                Response::Ack
            }
        }
    }

    pub(super) fn acceptor(&mut self, key: &str) -> &mut Acceptor {
        let slot = self.data.entry(key.to_string()).or_insert_with(|| Stored::Paxos(Acceptor::default()));
        if !matches!(slot, Stored::Paxos(_)) {
            *slot = Stored::Paxos(Acceptor::default());
        }
        match slot {
            Stored::Paxos(a) => a,
            _ => unreachable!("just made an acceptor"),
        }
    }

    /// The mergeable keys this node and `peer` both replicate.
    pub(super) fn shared_with(&self, peer: &str) -> Vec<(String, Stored)> {
        self.data
            .iter()
            .filter(|(k, s)| s.mergeable() && self.ring.holds(&self.id, k) && self.ring.holds(peer, k))
            .map(|(k, s)| (k.clone(), s.clone()))
            .collect()
    }
}
