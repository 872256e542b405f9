//! The participant side of a node: it owns this shard's data and locks. On a prepare it
//! takes the locks (waiting in line if they are held), runs the operations against its
//! data, makes a yes vote durable (locks, writes and reads) and votes; it then holds the
//! locks until it learns the outcome, asking the coordinator while it waits (two-phase
//! commit) or deciding on its own by timeout (three-phase commit). The planted bugs live
//! here too: a heuristic abort of a transaction still in doubt, and reads that take no
//! lock.

use crate::bank2pc::core::{Protocol, Ready};
use crate::bank2pc::locks::LockTable;
use crate::bank2pc::message::{LockMode, Message, NodeId, Op, Reads, Record, TxnId, Vote};
use serde_json::Value;
use std::collections::BTreeMap;

/// What a participant needs to know.
#[derive(Debug, Clone)]
pub struct ParticipantConfig {
    /// This node.
    pub id: NodeId,
    /// Two- or three-phase commit.
    pub protocol: Protocol,
    /// Three-phase commit: how long to wait for the coordinator before deciding alone
    /// (commit when pre-committed, abort otherwise). Heuristic abort: how long to stay in
    /// doubt before aborting alone.
    pub decide_alone_after_ms: u64,
    /// How often an in-doubt participant asks the coordinator again.
    pub retry_ms: u64,
    /// How long a prepare may wait for its locks before it is refused: the coordinator's
    /// vote timeout, after which the coordinator has given up on the transaction anyway.
    pub prepare_wait_ms: u64,
    /// Planted bug: abort on its own once in doubt for `decide_alone_after_ms`.
    pub unsafe_heuristic_abort: bool,
    /// Planted bug: keys a transaction only reads are read without a lock.
    pub unsafe_unlocked_reads: bool,
}

#[derive(Debug, Clone)]
struct Prepared {
    writes: BTreeMap<String, Value>,
    reads: Reads,
    since: u64,
    last_query: u64,
    precommitted: bool,
}

/// One transaction this participant voted yes on and has no outcome for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InDoubt {
    /// The transaction.
    pub txn: TxnId,
    /// Whom it asks.
    pub coordinator: NodeId,
    /// When (in the core's time) it entered doubt.
    pub since: u64,
    /// Three-phase commit: it acknowledged a pre-commit.
    pub precommitted: bool,
}

/// This shard's data and locks, and every transaction it is part of.
#[derive(Debug)]
pub struct Participant {
    cfg: ParticipantConfig,
    data: BTreeMap<String, Value>,
    locks: LockTable,
    /// Prepares waiting for their locks, with when each arrived.
    pending: BTreeMap<TxnId, (u64, Vec<(usize, Op)>)>,
    prepared: BTreeMap<TxnId, Prepared>,
    /// Outcomes known here; an abort seen before its prepare refuses the late prepare.
    finished: BTreeMap<TxnId, bool>,
    /// Prepares that had to wait for a lock, and all prepares, since start.
    waited: u64,
    prepares: u64,
}

/// The locks a set of operations needs: exclusive where any operation writes the key.
fn lock_set(ops: &[(usize, Op)], unlocked_reads: bool) -> Vec<(String, LockMode)> {
    let mut wants: BTreeMap<String, LockMode> = BTreeMap::new();
    for (_, op) in ops {
        let mode = if op.writes() { LockMode::Exclusive } else { LockMode::Shared };
        let m = wants.entry(op.key().to_string()).or_insert(mode);
        *m = (*m).max(mode);
    }
    wants.into_iter().filter(|(_, m)| !(unlocked_reads && *m == LockMode::Shared)).collect()
}

impl Participant {
    /// Rebuilds the participant from its vote log: the genesis balances, every committed
    /// write in log order, and every transaction still in doubt with its locks taken
    /// again. An empty log (first start) writes the genesis record of `genesis`.
    pub fn recover(
        cfg: ParticipantConfig,
        records: &[Record],
        genesis: BTreeMap<String, i64>,
        now: u64,
        out: &mut Ready,
    ) -> Participant {
        let mut p = Participant {
            cfg,
            data: BTreeMap::new(),
            locks: LockTable::default(),
            pending: BTreeMap::new(),
            prepared: BTreeMap::new(),
            finished: BTreeMap::new(),
            waited: 0,
            prepares: 0,
        };
        let mut born = false;
        let mut held: BTreeMap<TxnId, Vec<(String, LockMode)>> = BTreeMap::new();
        for r in records {
            match r {
                Record::Genesis { balances } => {
                    born = true;
                    for (k, v) in balances {
                        p.data.insert(k.clone(), Value::from(*v));
                    }
                }
                Record::Voted { txn, locks, writes, reads } => {
                    held.insert(txn.clone(), locks.clone());
                    // The log keeps no time: doubt restarts now, and the first tick asks.
                    let prepared = Prepared {
                        writes: writes.clone(),
                        reads: reads.clone(),
                        since: now,
                        last_query: 0,
                        precommitted: false,
                    };
                    p.prepared.insert(txn.clone(), prepared);
                }
                Record::PreCommitted { txn } => {
                    if let Some(pr) = p.prepared.get_mut(txn) {
                        pr.precommitted = true;
                    }
                }
                Record::Finished { txn, commit } => {
                    if let Some(pr) = p.prepared.remove(txn)
                        && *commit
                    {
                        p.data.extend(pr.writes);
                    }
                    held.remove(txn);
                    p.finished.insert(txn.clone(), *commit);
                }
                _ => {}
            }
        }
        if !born {
            for (k, v) in &genesis {
                p.data.insert(k.clone(), Value::from(*v));
            }
            out.record(Record::Genesis { balances: genesis });
        }
        for (txn, locks) in held {
            // These locks were compatible when granted and nothing else holds any yet.
            let granted = p.locks.acquire(&txn, locks);
            debug_assert!(granted, "in-doubt locks conflict after replay");
        }
        p
    }

    /// Handles a message meant for the participant side.
    pub fn step(&mut self, msg: Message, now: u64, out: &mut Ready) {
        match msg {
            Message::Prepare { txn, ops } => self.prepare(txn, ops, now, out),
            Message::PreCommit { txn } => self.precommit(txn, out),
            Message::Decision { txn, commit } => {
                let ack = commit;
                self.finish(&txn, commit, now, out);
                if ack {
                    out.send(&txn.coordinator, Message::DecisionAck { txn: txn.clone() });
                }
            }
            _ => {}
        }
    }

    fn prepare(&mut self, txn: TxnId, ops: Vec<(usize, Op)>, now: u64, out: &mut Ready) {
        if let Some(&commit) = self.finished.get(&txn) {
            if !commit {
                let reason = "aborted before its prepare arrived".to_string();
                out.send(&txn.coordinator.clone(), Message::Vote { txn, vote: Vote::No { reason } });
            }
            return;
        }
        if let Some(p) = self.prepared.get(&txn) {
            let vote = Vote::Yes { reads: p.reads.clone() };
            out.send(&txn.coordinator.clone(), Message::Vote { txn, vote });
            return;
        }
        if self.pending.contains_key(&txn) {
            return;
        }
        self.prepares += 1;
        if self.locks.acquire(&txn, lock_set(&ops, self.cfg.unsafe_unlocked_reads)) {
            self.execute(txn, ops, now, out);
        } else {
            self.waited += 1;
            self.pending.insert(txn, (now, ops));
        }
        self.wake(now, out);
    }

    fn current(&self, overlay: &BTreeMap<String, Value>, key: &str) -> Value {
        overlay.get(key).or_else(|| self.data.get(key)).cloned().unwrap_or(Value::Null)
    }

    /// Runs the operations of a transaction that holds its locks, then votes.
    fn execute(&mut self, txn: TxnId, ops: Vec<(usize, Op)>, now: u64, out: &mut Ready) {
        let mut overlay: BTreeMap<String, Value> = BTreeMap::new();
        let mut reads = Vec::new();
        let mut refusal = None;
        for (i, op) in &ops {
            match op {
                Op::Read { key } => reads.push((*i, self.current(&overlay, key))),
                Op::Write { key, value } => {
                    overlay.insert(key.clone(), value.clone());
                }
                Op::Append { key, value } => match self.current(&overlay, key) {
                    Value::Null => {
                        overlay.insert(key.clone(), Value::Array(vec![value.clone()]));
                    }
                    Value::Array(mut list) => {
                        list.push(value.clone());
                        overlay.insert(key.clone(), Value::Array(list));
                    }
                    _ => {
                        refusal = Some(format!("cannot append to {key}: it holds no list"));
                        break;
                    }
                },
                Op::Add { key, delta } => {
                    let Some(balance) = self.current(&overlay, key).as_i64() else {
                        refusal = Some(format!("no such account {key:?}"));
                        break;
                    };
                    match balance.checked_add(*delta) {
                        Some(b) if b >= 0 || *delta >= 0 => {
                            overlay.insert(key.clone(), Value::from(b));
                        }
                        Some(_) => {
                            refusal = Some(format!("insufficient funds in {key}"));
                            break;
                        }
                        None => {
                            refusal = Some(format!("balance of {key} would overflow"));
                            break;
                        }
                    }
                }
            }
        }
        let coordinator = txn.coordinator.clone();
        if let Some(reason) = refusal {
            self.locks.release(&txn);
            self.finished.insert(txn.clone(), false);
            out.send(&coordinator, Message::Vote { txn, vote: Vote::No { reason } });
            return;
        }
        out.record(Record::Voted {
            txn: txn.clone(),
            locks: lock_set(&ops, self.cfg.unsafe_unlocked_reads),
            writes: overlay.clone(),
            reads: reads.clone(),
        });
        let prepared = Prepared {
            writes: overlay,
            reads: reads.clone(),
            since: now,
            last_query: now,
            precommitted: false,
        };
        self.prepared.insert(txn.clone(), prepared);
        out.send(&coordinator, Message::Vote { txn, vote: Vote::Yes { reads } });
    }

    /// Runs every waiting prepare whose locks have come free, until none has.
    fn wake(&mut self, now: u64, out: &mut Ready) {
        loop {
            let granted = self.locks.grant_waiters();
            if granted.is_empty() {
                return;
            }
            for txn in granted {
                if let Some((_, ops)) = self.pending.remove(&txn) {
                    self.execute(txn, ops, now, out);
                }
            }
        }
    }

    fn precommit(&mut self, txn: TxnId, out: &mut Ready) {
        let coordinator = txn.coordinator.clone();
        if let Some(p) = self.prepared.get_mut(&txn) {
            if !p.precommitted {
                p.precommitted = true;
                out.record(Record::PreCommitted { txn: txn.clone() });
            }
            out.send(&coordinator, Message::PreCommitAck { txn });
        } else if self.finished.get(&txn) == Some(&true) {
            out.send(&coordinator, Message::PreCommitAck { txn });
        }
    }

    /// Applies an outcome, learned or chosen: the writes on commit, the locks released,
    /// and waiting prepares run. An outcome for a transaction never prepared here only
    /// keeps a later prepare from locking anything.
    fn finish(&mut self, txn: &TxnId, commit: bool, now: u64, out: &mut Ready) {
        if let Some(p) = self.prepared.remove(txn) {
            out.record(Record::Finished { txn: txn.clone(), commit });
            if commit {
                self.data.extend(p.writes);
            }
        } else if self.pending.remove(txn).is_none() {
            self.finished.entry(txn.clone()).or_insert(commit);
            return;
        }
        self.locks.release(txn);
        self.finished.insert(txn.clone(), commit);
        self.wake(now, out);
    }

    /// Lets time pass: in-doubt transactions ask their coordinator again (two-phase
    /// commit) or decide alone once their time is up (three-phase commit, or the
    /// heuristic-abort bug).
    pub fn tick(&mut self, now: u64, out: &mut Ready) {
        self.refuse_stale_prepares(now, out);
        let ids: Vec<TxnId> = self.prepared.keys().cloned().collect();
        for txn in ids {
            let p = &self.prepared[&txn];
            let waited = now.saturating_sub(p.since);
            match self.cfg.protocol {
                Protocol::ThreePhase if waited >= self.cfg.decide_alone_after_ms => {
                    let commit = p.precommitted;
                    self.finish(&txn, commit, now, out);
                }
                Protocol::TwoPhase
                    if self.cfg.unsafe_heuristic_abort && waited >= self.cfg.decide_alone_after_ms =>
                {
                    self.finish(&txn, false, now, out);
                }
                Protocol::TwoPhase if now.saturating_sub(p.last_query) >= self.cfg.retry_ms => {
                    out.send(&txn.coordinator, Message::Query { txn: txn.clone() });
                    if let Some(p) = self.prepared.get_mut(&txn) {
                        p.last_query = now;
                    }
                }
                _ => {}
            }
        }
    }

    /// Refuses every prepare that has waited for its locks longer than the coordinator's
    /// vote timeout. Its coordinator has aborted it by then (it began before the prepare
    /// arrived), or is down; left in the queue, it would take its locks once they free up
    /// and vote to nobody, so a dead coordinator's queued prepares would block the keys
    /// again one after another (under three-phase commit, for a whole timeout each).
    fn refuse_stale_prepares(&mut self, now: u64, out: &mut Ready) {
        let stale: Vec<TxnId> = self
            .pending
            .iter()
            .filter(|(_, (since, _))| now.saturating_sub(*since) >= self.cfg.prepare_wait_ms)
            .map(|(t, _)| t.clone())
            .collect();
        if stale.is_empty() {
            return;
        }
        for txn in stale {
            self.pending.remove(&txn);
            self.locks.release(&txn);
            self.finished.insert(txn.clone(), false);
            let reason = "waited too long for its locks".to_string();
            out.send(&txn.coordinator.clone(), Message::Vote { txn, vote: Vote::No { reason } });
        }
        self.wake(now, out);
    }

    /// Transactions voted yes on and still without an outcome.
    pub fn in_doubt(&self) -> Vec<InDoubt> {
        self.prepared
            .iter()
            .map(|(txn, p)| InDoubt {
                txn: txn.clone(),
                coordinator: txn.coordinator.clone(),
                since: p.since,
                precommitted: p.precommitted,
            })
            .collect()
    }

    /// Every lock held here: key, holder, mode.
    pub fn locks(&self) -> Vec<(String, TxnId, LockMode)> {
        self.locks.held()
    }

    /// Prepares waiting for locks right now.
    pub fn waiting(&self) -> usize {
        self.locks.waiting()
    }

    /// Prepares since start, and how many of them had to wait for a lock.
    pub fn lock_waits(&self) -> (u64, u64) {
        (self.prepares, self.waited)
    }

    /// The committed value of a key held here (`null` when absent).
    pub fn value(&self, key: &str) -> Value {
        self.data.get(key).cloned().unwrap_or(Value::Null)
    }

    /// Every committed key and value held here.
    pub fn data(&self) -> &BTreeMap<String, Value> {
        &self.data
    }
}
