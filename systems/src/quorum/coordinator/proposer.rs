//! The Paxos proposer of a node's core (`cas=paxos`): prepare with a fresh ballot,
//! accept what the operation makes of the carried-forward value, and back off when
//! preempted, never retrying once a new value's accept has left.

use super::{ClientReply, Core, Failure, PaxosGoal, Phase, Track};
use crate::quorum::message::Request;
use crate::quorum::paxos::Ballot;
use rand::RngExt;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

impl Core {
    pub(super) fn prepare(&mut self, id: u64) {
        self.paxos_round += 1;
        let ballot = Ballot { round: self.paxos_round, node: self.id.clone() };
        let Some(op) = self.ops.get_mut(&id) else { return };
        op.generation += 1;
        let generation = op.generation;
        op.phase =
            Phase::Prepare { ballot: ballot.clone(), promises: BTreeMap::new(), refused: BTreeSet::new() };
        let key = op.key.clone();
        for node in self.ring.preference_list(&key) {
            self.send(
                &node,
                Request::Prepare { key: key.clone(), ballot: ballot.clone() },
                Some(Track::Op(id, generation)),
            );
        }
    }

    pub(super) fn accept(&mut self, id: u64, ballot: Ballot, current: Value) {
        let Some(op) = self.ops.get_mut(&id) else { return };
        let (value, result) = match op.paxos.clone() {
            Some(PaxosGoal::Read) | None => {
                (current.clone(), ClientReply::Register { value: current, siblings: None, context: None })
            }
            Some(PaxosGoal::Put(v)) => (v, ClientReply::Done),
            Some(PaxosGoal::Cas(from, to)) if from == current => (to, ClientReply::Done),
            // A mismatch still accepts the value it found, so the answer rests on a
            // chosen value rather than on one a minority happened to accept.
            Some(PaxosGoal::Cas(..)) => (current, ClientReply::Mismatch),
        };
        // Only a new value is an effect; reads and mismatches accept what they found.
        if result == ClientReply::Done {
            op.sent_effect = true;
        }
        op.phase = Phase::Accept { acks: BTreeSet::new(), refused: BTreeSet::new(), result };
        let key = op.key.clone();
        let generation = op.generation;
        for node in self.ring.preference_list(&key) {
            let req = Request::Accept { key: key.clone(), ballot: ballot.clone(), value: value.clone() };
            self.send(&node, req, Some(Track::Op(id, generation)));
        }
    }

    pub(super) fn back_off(&mut self, id: u64) {
        let Some(op) = self.ops.get_mut(&id) else { return };
        if op.sent_effect {
            // An accept of this operation's new value may linger at a minority, and a later
            // proposer may carry it forward and choose it. Retrying would apply the
            // operation a second time, later, after other writes: so the outcome is unknown.
            let failure =
                Failure::Indefinite(format!("paxos round for {} preempted after its accept", op.key));
            self.finish(id, Err(failure));
            return;
        }
        op.attempt += 1;
        let cap = 5u64 << op.attempt.min(5);
        let wait = self.rng.random_range(1..=cap);
        op.phase = Phase::Backoff { until: self.now.mono_ms + wait };
    }
}
