//! The coordinator side of a node: it turns a client's transaction into prepares, one
//! participant after another in shard order (the order that keeps locking deadlock-free,
//! see [`crate::bank2pc::locks`]), and decides. A commit decision is made durable before
//! any participant or the client hears of it; an abort is never logged (presumed abort:
//! a coordinator asked about a transaction it has no commit record of answers abort).
//! After a restart it resends every logged commit not yet acknowledged by all (two-phase
//! commit only: three-phase participants finish what a dead coordinator left by timeout).
//!
//! Three-phase commit adds a round between the decision and the commit: every
//! participant must acknowledge a pre-commit first (or the round times out), so a
//! participant that hears nothing more knows which way the others will go; the client
//! hears of the commit only when that round is over.

use crate::bank2pc::core::{Protocol, Ready, RequestId};
use crate::bank2pc::message::{Message, NodeId, Op, Reads, Record, TxnId, Vote};
use crate::bank2pc::shard::Shards;
use std::collections::{BTreeMap, BTreeSet};

/// What a coordinator needs to know.
#[derive(Debug, Clone)]
pub struct CoordinatorConfig {
    /// This node.
    pub id: NodeId,
    /// Two- or three-phase commit.
    pub protocol: Protocol,
    /// How long to wait for all votes before aborting (and, in three-phase commit, for
    /// all pre-commit acknowledgements before committing anyway).
    pub timeout_ms: u64,
    /// How often unacknowledged decisions are sent again.
    pub retry_ms: u64,
    /// Planted bug: commit decisions are not logged, so a restart forgets them.
    pub unsafe_no_decision_log: bool,
    /// Test hook: wait this long between logging the commit of a transaction that
    /// writes and telling its participants (queries about it go unanswered meanwhile).
    pub pause_before_commit_ms: u64,
}

#[derive(Debug)]
struct Active {
    request: RequestId,
    /// Participants in visiting order, with their share of the operations.
    plan: Vec<(NodeId, Vec<(usize, Op)>)>,
    /// Index in `plan` of the participant whose vote is awaited.
    next: usize,
    reads: Reads,
    started: u64,
    writes: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    PreCommit,
    Commit,
}

#[derive(Debug)]
struct Committing {
    participants: Vec<NodeId>,
    unacked: BTreeSet<NodeId>,
    phase: Phase,
    phase_started: u64,
    send_at: u64,
    /// Test hook: nothing about the outcome leaves before this time.
    paused_until: u64,
    /// Three-phase commit: the client's reply, held until the pre-commit round is over.
    reply: Option<(RequestId, Reads)>,
}

/// The transactions this node coordinates.
#[derive(Debug)]
pub struct Coordinator {
    cfg: CoordinatorConfig,
    incarnation: u64,
    next_seq: u64,
    active: BTreeMap<TxnId, Active>,
    committing: BTreeMap<TxnId, Committing>,
    /// Every commit decision this node knows of (from its log, or made since start).
    committed: BTreeSet<TxnId>,
}

impl Coordinator {
    /// Rebuilds the coordinator from its decision log and starts a new incarnation.
    pub fn recover(cfg: CoordinatorConfig, records: &[Record], now: u64, out: &mut Ready) -> Coordinator {
        let mut incarnation = 0;
        let mut committed = BTreeSet::new();
        let mut committing = BTreeMap::new();
        for r in records {
            match r {
                Record::Incarnation { number } => incarnation = incarnation.max(*number),
                Record::Decided { txn, participants } => {
                    committed.insert(txn.clone());
                    // A three-phase participant never asks and decides alone by timeout,
                    // so a restarted coordinator leaves its unfinished transactions to
                    // them: resending the commit could reach one that never pre-committed
                    // (its own local participant, just replayed, among them) and make it
                    // commit where the others, timed out, aborted.
                    if cfg.protocol == Protocol::ThreePhase {
                        continue;
                    }
                    committing.insert(
                        txn.clone(),
                        Committing {
                            participants: participants.clone(),
                            unacked: participants.iter().cloned().collect(),
                            phase: Phase::Commit,
                            phase_started: now,
                            send_at: now,
                            paused_until: now,
                            reply: None,
                        },
                    );
                }
                Record::Ended { txn } => {
                    committing.remove(txn);
                }
                _ => {}
            }
        }
        incarnation += 1;
        out.record(Record::Incarnation { number: incarnation });
        Coordinator { cfg, incarnation, next_seq: 0, active: BTreeMap::new(), committing, committed }
    }

    /// Starts a client's transaction; its outcome comes back as a reply to `request`.
    pub fn begin(&mut self, request: RequestId, ops: Vec<Op>, shards: &Shards, now: u64, out: &mut Ready) {
        let mut by_owner: BTreeMap<NodeId, Vec<(usize, Op)>> = BTreeMap::new();
        for (i, op) in ops.into_iter().enumerate() {
            by_owner.entry(shards.owner(op.key()).clone()).or_default().push((i, op));
        }
        // Shards orders nodes the way a BTreeMap orders their names: this is shard order.
        let plan: Vec<(NodeId, Vec<(usize, Op)>)> = by_owner.into_iter().collect();
        let writes = plan.iter().any(|(_, ops)| ops.iter().any(|(_, op)| op.writes()));
        if plan.is_empty() {
            out.reply(request, Ok(Vec::new()));
            return;
        }
        self.next_seq += 1;
        let txn =
            TxnId { coordinator: self.cfg.id.clone(), incarnation: self.incarnation, seq: self.next_seq };
        out.send(&plan[0].0, Message::Prepare { txn: txn.clone(), ops: plan[0].1.clone() });
        self.active.insert(txn, Active { request, plan, next: 0, reads: Vec::new(), started: now, writes });
    }

    /// Handles a message meant for the coordinator side.
    pub fn step(&mut self, from: &str, msg: Message, now: u64, out: &mut Ready) {
        match msg {
            Message::Vote { txn, vote } => self.vote(from, txn, vote, now, out),
            Message::PreCommitAck { txn } => {
                if let Some(c) = self.committing.get_mut(&txn)
                    && c.phase == Phase::PreCommit
                {
                    c.unacked.remove(from);
                    if c.unacked.is_empty() {
                        Self::enter_commit(c, now, out);
                        self.send_phase(&txn, now, out);
                    }
                }
            }
            Message::DecisionAck { txn } => {
                if let Some(c) = self.committing.get_mut(&txn)
                    && c.phase == Phase::Commit
                {
                    c.unacked.remove(from);
                    if c.unacked.is_empty() {
                        self.committing.remove(&txn);
                        if !self.cfg.unsafe_no_decision_log {
                            out.record(Record::Ended { txn });
                        }
                    }
                }
            }
            Message::Query { txn } => {
                if self.committing.get(&txn).is_some_and(|c| now < c.paused_until) {
                    // The test hook holds the outcome back, from queries too.
                } else if self.committed.contains(&txn) {
                    out.send(from, Message::Decision { txn, commit: true });
                } else if !self.active.contains_key(&txn) {
                    // Presumed abort: no commit record means no commit was ever sent.
                    out.send(from, Message::Decision { txn, commit: false });
                }
            }
            _ => {}
        }
    }

    fn vote(&mut self, from: &str, txn: TxnId, vote: Vote, now: u64, out: &mut Ready) {
        let Some(a) = self.active.get_mut(&txn) else {
            if matches!(vote, Vote::Yes { .. }) {
                // A late vote (the transaction timed out, or began before a restart).
                let commit = self.committed.contains(&txn);
                out.send(from, Message::Decision { txn, commit });
            }
            return;
        };
        if a.plan[a.next].0 != from {
            return;
        }
        match vote {
            Vote::Yes { reads } => {
                a.reads.extend(reads);
                a.next += 1;
                if a.next < a.plan.len() {
                    let (to, ops) = &a.plan[a.next];
                    out.send(to, Message::Prepare { txn, ops: ops.clone() });
                } else {
                    self.decide_commit(txn, now, out);
                }
            }
            Vote::No { reason } => self.abort(&txn, reason, out),
        }
    }

    fn decide_commit(&mut self, txn: TxnId, now: u64, out: &mut Ready) {
        let Some(a) = self.active.remove(&txn) else { return };
        let participants: Vec<NodeId> = a.plan.into_iter().map(|(p, _)| p).collect();
        if !self.cfg.unsafe_no_decision_log {
            out.record(Record::Decided { txn: txn.clone(), participants: participants.clone() });
        }
        self.committed.insert(txn.clone());
        let mut reads = a.reads;
        reads.sort_by_key(|(i, _)| *i);
        // 2PC answers once the commit is durable: from then on it will happen. 3PC waits
        // for the pre-commit round, because participants that never pre-commit abort on
        // their own if the coordinator dies now.
        let (phase, reply) = match self.cfg.protocol {
            Protocol::TwoPhase => {
                out.reply(a.request, Ok(reads));
                (Phase::Commit, None)
            }
            Protocol::ThreePhase => (Phase::PreCommit, Some((a.request, reads))),
        };
        let pause = if a.writes { self.cfg.pause_before_commit_ms } else { 0 };
        let c = Committing {
            unacked: participants.iter().cloned().collect(),
            participants,
            phase,
            phase_started: now + pause,
            send_at: now + pause,
            paused_until: now + pause,
            reply,
        };
        self.committing.insert(txn.clone(), c);
        if pause == 0 {
            self.send_phase(&txn, now, out);
        }
    }

    fn abort(&mut self, txn: &TxnId, reason: String, out: &mut Ready) {
        let Some(a) = self.active.remove(txn) else { return };
        // Everyone asked so far, the one whose vote was awaited included (its prepare
        // may still be waiting for locks there).
        for (p, _) in &a.plan[..=a.next.min(a.plan.len() - 1)] {
            out.send(p, Message::Decision { txn: txn.clone(), commit: false });
        }
        out.reply(a.request, Err(reason));
    }

    fn enter_commit(c: &mut Committing, now: u64, out: &mut Ready) {
        if let Some((request, reads)) = c.reply.take() {
            out.reply(request, Ok(reads));
        }
        c.phase = Phase::Commit;
        c.unacked = c.participants.iter().cloned().collect();
        c.phase_started = now;
    }

    /// Sends the current phase's message to every participant that has not acknowledged.
    fn send_phase(&mut self, txn: &TxnId, now: u64, out: &mut Ready) {
        let Some(c) = self.committing.get_mut(txn) else { return };
        for p in &c.unacked {
            let msg = match c.phase {
                Phase::PreCommit => Message::PreCommit { txn: txn.clone() },
                Phase::Commit => Message::Decision { txn: txn.clone(), commit: true },
            };
            out.send(p, msg);
        }
        c.send_at = now + self.cfg.retry_ms;
    }

    /// Lets time pass: transactions whose votes are late abort; decisions nobody
    /// acknowledged yet are sent again; a three-phase pre-commit round that timed out
    /// moves on to commit.
    pub fn tick(&mut self, now: u64, out: &mut Ready) {
        let late: Vec<TxnId> = self
            .active
            .iter()
            .filter(|(_, a)| now.saturating_sub(a.started) >= self.cfg.timeout_ms)
            .map(|(t, _)| t.clone())
            .collect();
        for txn in late {
            let reason = format!("aborted: not every participant voted within {} ms", self.cfg.timeout_ms);
            self.abort(&txn, reason, out);
        }
        let due: Vec<TxnId> = self.committing.keys().cloned().collect();
        for txn in due {
            let c = self.committing.get_mut(&txn).expect("listed");
            if c.phase == Phase::PreCommit && now.saturating_sub(c.phase_started) >= self.cfg.timeout_ms {
                Self::enter_commit(c, now, out);
                self.send_phase(&txn, now, out);
            } else if now >= c.send_at {
                self.send_phase(&txn, now, out);
            }
        }
    }

    /// Transactions waiting for votes, and decided ones not yet acknowledged by all.
    pub fn pending(&self) -> (usize, usize) {
        (self.active.len(), self.committing.len())
    }

    /// Whether this coordinator knows `txn` committed.
    pub fn committed(&self, txn: &TxnId) -> bool {
        self.committed.contains(txn)
    }
}
