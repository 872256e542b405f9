//! The driver: one OS thread per node that owns the Raft core, the files and the
//! key-value state machine, and runs the core's contract. It batches whatever arrived
//! (client requests, peer messages, timer ticks), steps the core, then handles one
//! [`Ready`]: write hard state and log, fsync once for the whole batch (group commit),
//! only then send messages, apply committed entries and answer clients. Blocking on
//! fsync here never stalls the HTTP runtime, which talks to this thread through a
//! channel.

use crate::config::wall_clock_ms;
use crate::kv::{Command, KvStore, Outcome};
use crate::protocol::ApiError;
use crate::raft::core::{CoreConfig, CoreStatus, RaftCore, Ready};
use crate::raft::message::{Message, NodeId, Payload, Snapshot};
use crate::raft::options::{RaftOptions, ReadPath, TICK_MS};
use crate::raft::storage::{Durability, LogStorage, StorageError};
use axum::http::StatusCode;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// The answer to a client request.
pub type Reply<T> = oneshot::Sender<Result<T, ApiError>>;

/// What the HTTP side asks of the driver.
#[derive(Debug)]
pub enum Event {
    /// A put or cas from a client.
    Write {
        /// The command.
        command: Command,
        /// Where the outcome goes.
        reply: Reply<Outcome>,
    },
    /// A client read.
    Read {
        /// A read command (`Get`, `SetRead` or `CounterRead`).
        query: Command,
        /// Where the value goes.
        reply: Reply<Value>,
    },
    /// Messages from a peer.
    Inbound(Vec<Message>),
    /// `/status`.
    Status(oneshot::Sender<NodeStatus>),
    /// Stop the thread.
    Shutdown,
}

/// What `/status` reports: the core's view plus what the files hold.
#[derive(Debug, Clone)]
pub struct NodeStatus {
    /// Role, term, leader, indices and snapshot counters.
    pub core: CoreStatus,
    /// Bytes in the log file.
    pub log_bytes: u64,
    /// Log entries after the snapshot.
    pub log_entries: u64,
}

/// Proposal waiting for its entry to be applied.
struct PendingWrite {
    term: u64,
    reply: Reply<Outcome>,
    since: Instant,
}

struct PendingRead {
    query: Command,
    reply: Reply<Value>,
    since: Instant,
}

/// The state one driver thread owns.
pub struct Driver {
    core: RaftCore,
    storage: LogStorage,
    kv: KvStore,
    opts: RaftOptions,
    peers: HashMap<NodeId, mpsc::UnboundedSender<Message>>,
    /// Proposals by log index; several when a node proposed at an index more than once
    /// (its earlier entry was cut away locally, which alone does not prove it lost).
    writes: BTreeMap<u64, Vec<PendingWrite>>,
    log_reads: BTreeMap<u64, Vec<(u64, PendingRead)>>,
    index_reads: HashMap<u64, PendingRead>,
    /// Reads whose index is known, waiting for the state machine to reach it.
    applied_reads: Vec<(u64, PendingRead)>,
    next_ctx: u64,
    applied: u64,
    /// Wall-clock ms at which each recent heartbeat round began (for leases).
    round_started: BTreeMap<u64, u128>,
    last_flush: Instant,
}

fn not_leader(leader: Option<NodeId>) -> ApiError {
    let status =
        if leader.is_some() { StatusCode::MISDIRECTED_REQUEST } else { StatusCode::SERVICE_UNAVAILABLE };
    let mut err = ApiError::definite(status, "not the leader");
    err.body.leader = leader;
    err
}

/// Seed for a node's election-timeout RNG, derived from its id so runs repeat.
pub fn seed_for(id: &str) -> u64 {
    id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3))
}

impl Driver {
    /// Opens the node's files and restores the core from them.
    pub fn open(
        id: &str,
        data: &Path,
        kv: KvStore,
        opts: RaftOptions,
        peers: HashMap<NodeId, mpsc::UnboundedSender<Message>>,
    ) -> Result<Driver, StorageError> {
        let durability = Durability { fsync: !opts.unsafe_no_fsync, forget_vote: opts.unsafe_vote_twice };
        let (storage, recovered) = LogStorage::open(data, durability)?;
        let mut kv = kv;
        if let Some(snap) = &recovered.snapshot {
            kv = serde_json::from_slice(&snap.data).map_err(|e| StorageError::Corrupt {
                path: data.join(crate::raft::storage::SNAPSHOT_FILE),
                problem: format!(
                    "snapshot of index {} passes its checksum but is no state machine: {e}",
                    snap.index
                ),
            })?;
            eprintln!(
                "raft-kv {id}: restored the snapshot of index {} (term {}), then {} log entries",
                snap.index,
                snap.term,
                recovered.entries.len()
            );
        }
        if recovered.truncated_bytes > 0 {
            eprintln!(
                "raft-kv {id}: cut a torn or corrupt log tail of {} bytes; kept {} entries",
                recovered.truncated_bytes,
                recovered.entries.len()
            );
        }
        let mut names: Vec<NodeId> = peers.keys().cloned().collect();
        names.sort();
        let mut cfg = CoreConfig::new(id, names, seed_for(id));
        cfg.election_ticks = opts.election_ticks();
        cfg.heartbeat_ticks = opts.heartbeat_ticks();
        cfg.unsafe_commit_old_term = opts.unsafe_commit_old_term;
        cfg.snapshot_every = opts.snapshot_every;
        cfg.snapshot_chunk_bytes = opts.snapshot_chunk_bytes;
        cfg.unsafe_snapshot_past_commit = opts.unsafe_snapshot_past_commit;
        let applied = recovered.snapshot.as_ref().map_or(0, |s| s.index);
        let core = RaftCore::restore(cfg, recovered.hard_state, recovered.snapshot, recovered.entries);
        Ok(Driver {
            core,
            storage,
            kv,
            opts,
            peers,
            writes: BTreeMap::new(),
            log_reads: BTreeMap::new(),
            index_reads: HashMap::new(),
            applied_reads: Vec::new(),
            next_ctx: 0,
            applied,
            round_started: BTreeMap::new(),
            last_flush: Instant::now(),
        })
    }

    /// Runs until [`Event::Shutdown`] or until every sender is gone. A storage failure
    /// ends the node: continuing without durable state would break Raft's promises.
    pub fn run(mut self, events: Receiver<Event>) -> Result<(), StorageError> {
        let tick = Duration::from_millis(TICK_MS);
        let mut next_tick = Instant::now() + tick;
        loop {
            let round_before = self.core.round();
            let batch_start = wall_clock_ms();
            let wait = next_tick.saturating_duration_since(Instant::now());
            let first = match events.recv_timeout(wait) {
                Ok(ev) => Some(ev),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
            };
            for ev in first.into_iter().chain(std::iter::from_fn(|| events.try_recv().ok())) {
                if matches!(ev, Event::Shutdown) {
                    // A clean stop keeps even unsafe-mode appends; only a kill loses them.
                    return self.storage.flush_buffer();
                }
                self.handle(ev);
            }
            let now = Instant::now();
            if now >= next_tick {
                self.core.tick();
                // After a stall, skip missed ticks rather than firing a burst of them.
                next_tick = now + tick;
                self.expire(now);
            }
            let ready = self.core.ready();
            let round = self.core.round();
            if round > round_before {
                // The round's messages leave after this instant, so a lease measured from
                // it never outlasts the followers' vote-refusal window.
                self.round_started.insert(round, batch_start);
                while self.round_started.len() > 64 {
                    self.round_started.pop_first();
                }
            }
            self.process(ready)?;
            if self.opts.unsafe_no_fsync && self.last_flush.elapsed() >= Duration::from_secs(1) {
                self.storage.flush_buffer()?;
                self.last_flush = Instant::now();
            }
        }
    }

    fn handle(&mut self, ev: Event) {
        match ev {
            Event::Write { command, reply } => match self.core.propose(command) {
                Ok((index, term)) => {
                    self.writes.entry(index).or_default().push(PendingWrite {
                        term,
                        reply,
                        since: Instant::now(),
                    });
                }
                Err(e) => {
                    let _ = reply.send(Err(not_leader(e.leader)));
                }
            },
            Event::Read { query, reply } => self.read(query, reply),
            Event::Inbound(msgs) => {
                for m in msgs {
                    self.core.step(m);
                }
            }
            Event::Status(reply) => {
                let status = NodeStatus {
                    core: self.core.status(),
                    log_bytes: self.storage.log_bytes(),
                    log_entries: self.core.log().len() as u64,
                };
                let _ = reply.send(status);
            }
            Event::Shutdown => {}
        }
    }

    fn read(&mut self, query: Command, reply: Reply<Value>) {
        let read = PendingRead { query, reply, since: Instant::now() };
        match self.opts.reads {
            ReadPath::Local => {
                let value = self.kv.read(&read.query).unwrap_or_default();
                let _ = read.reply.send(Ok(value));
            }
            ReadPath::Log => match self.core.propose(read.query.clone()) {
                Ok((index, term)) => {
                    self.log_reads.entry(index).or_default().push((term, read));
                }
                Err(e) => {
                    let _ = read.reply.send(Err(not_leader(e.leader)));
                }
            },
            ReadPath::Lease if self.lease_valid() => {
                let index = self.core.status().commit_index;
                self.applied_reads.push((index, read));
            }
            ReadPath::Lease | ReadPath::ReadIndex => {
                self.next_ctx += 1;
                let ctx = self.next_ctx;
                match self.core.read_index(ctx) {
                    Ok(()) => {
                        self.index_reads.insert(ctx, read);
                    }
                    Err(e) => {
                        let _ = read.reply.send(Err(not_leader(e.leader)));
                    }
                }
            }
        }
    }

    /// A lease holds while the latest majority-confirmed heartbeat round began less than
    /// `lease_ms` ago on this node's wall clock: a clock that runs slow or jumps back
    /// stretches the lease past the moment a new leader can exist.
    fn lease_valid(&self) -> bool {
        if !self.core.committed_in_term() {
            return false;
        }
        let Some(round) = self.core.quorum_round() else { return false };
        let Some(started) = self.round_started.get(&round) else { return false };
        wall_clock_ms() < started + self.opts.lease_ms() as u128
    }

    fn process(&mut self, ready: Ready) -> Result<(), StorageError> {
        if let Some(hard) = &ready.hard_state {
            self.storage.save_hard_state(hard)?;
        }
        if let Some(snap) = &ready.install {
            self.install(snap, &ready.install_log)?;
        }
        if let Some(from) = ready.log_from {
            self.storage.write_log(from, &ready.entries)?;
            self.storage.sync()?;
        }
        for msg in ready.messages {
            if let Some(tx) = self.peers.get(&msg.to) {
                let _ = tx.send(msg);
            }
        }
        for entry in ready.committed {
            self.applied = entry.index;
            let outcome = match &entry.payload {
                Payload::Noop => None,
                Payload::Command { command } => Some(self.kv.apply(command)),
            };
            // A proposal whose (index, term) is not the applied entry can never be
            // committed: another entry holds its slot for good, so the refusal is definite.
            let lost =
                || ApiError::definite(StatusCode::SERVICE_UNAVAILABLE, "lost leadership before commit");
            for w in self.writes.remove(&entry.index).unwrap_or_default() {
                let result = match &outcome {
                    Some(o) if w.term == entry.term => Ok(o.clone()),
                    _ => Err(lost()),
                };
                let _ = w.reply.send(result);
            }
            for (term, r) in self.log_reads.remove(&entry.index).unwrap_or_default() {
                let result = match &outcome {
                    Some(Outcome::Value(v)) if term == entry.term => Ok(v.clone()),
                    _ => Err(lost()),
                };
                let _ = r.reply.send(result);
            }
        }
        if let Some(index) = ready.snapshot_due {
            self.take_snapshot(index)?;
        }
        for read in ready.reads {
            if let Some(r) = self.index_reads.remove(&read.ctx) {
                self.applied_reads.push((read.index, r));
            }
        }
        for ctx in ready.failed_reads {
            if let Some(r) = self.index_reads.remove(&ctx) {
                let _ = r.reply.send(Err(not_leader(self.core.status().leader)));
            }
        }
        let applied = self.applied;
        let (now, later): (Vec<_>, Vec<_>) = self.applied_reads.drain(..).partition(|(i, _)| *i <= applied);
        self.applied_reads = later;
        for (_, r) in now {
            let value = self.kv.read(&r.query).unwrap_or_default();
            let _ = r.reply.send(Ok(value));
        }
        Ok(())
    }

    /// Replaces the state machine with a snapshot the leader sent, durably first.
    fn install(&mut self, snap: &Snapshot, tail: &[crate::raft::message::Entry]) -> Result<(), StorageError> {
        let kv: KvStore = serde_json::from_slice(&snap.data).map_err(|e| StorageError::Corrupt {
            path: Path::new("InstallSnapshot").to_path_buf(),
            problem: format!("the leader's snapshot of index {} is no state machine: {e}", snap.index),
        })?;
        self.storage.install(snap, tail)?;
        self.kv = kv;
        self.applied = snap.index;
        // Proposals at indices the snapshot covers were decided elsewhere; their clients
        // hear it from the outcome they can no longer be told, i.e. an indefinite timeout.
        self.writes.retain(|i, _| *i > snap.index);
        self.log_reads.retain(|i, _| *i > snap.index);
        eprintln!(
            "raft-kv {}: installed a snapshot of index {} (term {}) from the leader",
            self.core.id(),
            snap.index,
            snap.term
        );
        Ok(())
    }

    /// Serializes the state machine as of `index` (what has been applied) and compacts.
    fn take_snapshot(&mut self, index: u64) -> Result<(), StorageError> {
        let data = serde_json::to_vec(&self.kv).expect("the store serializes");
        self.core.snapshot_taken(index, data);
        let snap = self.core.snapshot().clone();
        if snap.index == index {
            self.storage.compact(&snap)?;
        }
        Ok(())
    }

    /// Forgets requests whose client has long given up, so a node that lost leadership
    /// does not hoard them; their HTTP handlers already answered with a timeout.
    fn expire(&mut self, now: Instant) {
        let limit = Duration::from_millis(self.opts.request_timeout_ms * 2 + 1000);
        for ws in self.writes.values_mut() {
            ws.retain(|w| now.duration_since(w.since) < limit);
        }
        self.writes.retain(|_, ws| !ws.is_empty());
        for rs in self.log_reads.values_mut() {
            rs.retain(|(_, r)| now.duration_since(r.since) < limit);
        }
        self.log_reads.retain(|_, rs| !rs.is_empty());
        self.index_reads.retain(|_, r| now.duration_since(r.since) < limit);
        self.applied_reads.retain(|(_, r)| now.duration_since(r.since) < limit);
    }
}

/// Starts a driver on its own thread; returns the channel to it and the thread handle.
pub fn spawn(driver: Driver) -> (Sender<Event>, std::thread::JoinHandle<Result<(), StorageError>>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let name = format!("raft-{}", driver.core.id());
    let handle = std::thread::Builder::new()
        .name(name)
        .spawn(move || driver.run(rx))
        .expect("spawn the raft driver thread");
    (tx, handle)
}
