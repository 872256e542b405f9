//! The timed work of a node's core: operation deadlines (definite or indefinite by what
//! already left), sloppy-quorum fallbacks, Paxos retries after back-off, hint handoff
//! rounds and the start of anti-entropy rounds.

use super::{Core, Failure, Goal, HANDOFF_BATCH, Op, PaxosGoal, Phase, Track};
use crate::quorum::antientropy;
use crate::quorum::message::{NodeId, Request};
use crate::quorum::replica::Stored;

impl Core {
    pub(super) fn check_timers(&mut self, id: u64) {
        let now = self.now.mono_ms;
        let Some(op) = self.ops.get(&id) else { return };
        if now >= op.deadline {
            let reads = matches!(op.goal, Goal::ReadRegister | Goal::ReadSet | Goal::ReadCounter)
                || op.paxos == Some(PaxosGoal::Read);
            let failure = if op.sent_effect && !reads {
                Failure::Indefinite(format!("timed out: some replicas of {} may hold the write", op.key))
            } else {
                Failure::Definite(format!("timed out waiting for a quorum of the replicas of {}", op.key))
            };
            self.finish(id, Err(failure));
            return;
        }
        match &op.phase {
            Phase::Backoff { until } if now >= *until => self.prepare(id),
            Phase::Store { started, acks, hinted, state, .. }
                if self.opts.sloppy
                    && now >= started + (self.opts.timeout_ms / 4).max(1)
                    && acks.len() < self.opts.w =>
            {
                let key = op.key.clone();
                let state = state.clone();
                let missing: Vec<NodeId> = self
                    .ring
                    .preference_list(&key)
                    .into_iter()
                    .filter(|n| !acks.contains(n) && !hinted.contains(n))
                    .collect();
                let mut fallbacks = self.ring.fallbacks(&key).into_iter().skip(hinted.len());
                let mut used = Vec::new();
                for target in missing {
                    let Some(stand_in) = fallbacks.next() else { break };
                    used.push(target.clone());
                    let req =
                        Request::Merge { key: key.clone(), state: state.clone(), hint_for: Some(target) };
                    self.send(&stand_in, req, Some(Track::Op(id, 0)));
                }
                if let Some(Op { phase: Phase::Store { hinted, .. }, .. }) = self.ops.get_mut(&id) {
                    hinted.extend(used);
                }
            }
            _ => {}
        }
    }

    pub(super) fn offer_hints(&mut self) {
        let batch: Vec<((NodeId, String), Stored)> =
            self.hints.iter().take(HANDOFF_BATCH).map(|(k, v)| (k.clone(), v.clone())).collect();
        for ((target, key), state) in batch {
            let req = Request::Merge { key: key.clone(), state: state.clone(), hint_for: None };
            self.send(&target.clone(), req, Some(Track::Handoff { target, key, state }));
        }
    }

    pub(super) fn start_anti_entropy(&mut self) {
        if self.others.is_empty() {
            return;
        }
        let peer = self.others[self.anti_entropy_peer % self.others.len()].clone();
        self.anti_entropy_peer += 1;
        let shared = self.shared_with(&peer);
        let digests = antientropy::digests(shared.iter().map(|(k, s)| (k, s)));
        self.send(&peer, Request::Digests { digests }, Some(Track::AntiEntropy { peer: peer.clone() }));
    }
}
