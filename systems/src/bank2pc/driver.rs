//! The driver: one OS thread per node that owns the core and both logs and runs the
//! core's contract. It batches whatever arrived (client transactions, peer messages, a
//! timer tick), steps the core, then handles each [`Ready`]: append its records, fsync
//! each log touched once for the whole batch (group commit), and only then send its
//! messages and answer its clients. Messages a node sends itself (it is often a
//! participant of what it coordinates) go straight back into the core. Blocking on
//! fsync here never stalls the HTTP runtime, which talks to this thread by channel.

use crate::bank2pc::core::{Core, CoreConfig, CoreStatus, Ready, RequestId, TxnOutcome};
use crate::bank2pc::log::{DECISION_LOG, DurableLog, LogError, VOTE_LOG};
use crate::bank2pc::message::{LogKind, Message, NodeId, Op};
use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// Milliseconds between the core's ticks.
pub const TICK_MS: u64 = 10;

/// What the HTTP side asks of the driver.
#[derive(Debug)]
pub enum Event {
    /// A client transaction to coordinate.
    Txn {
        /// Its operations.
        ops: Vec<Op>,
        /// Where its outcome goes.
        reply: oneshot::Sender<TxnOutcome>,
    },
    /// Messages from a peer.
    Inbound {
        /// The sender.
        from: NodeId,
        /// Its messages, in the order it sent them.
        messages: Vec<Message>,
    },
    /// `/status`.
    Status(oneshot::Sender<DriverStatus>),
    /// Stop the thread.
    Shutdown,
}

/// The core's status with the driver's clock, so ages can be turned into wall time.
#[derive(Debug, Clone)]
pub struct DriverStatus {
    /// The core's view.
    pub core: CoreStatus,
    /// The core's current time (ms since the driver started).
    pub now: u64,
}

/// The state one driver thread owns.
pub struct Driver {
    core: Core,
    votes: DurableLog,
    decisions: DurableLog,
    peers: HashMap<NodeId, mpsc::UnboundedSender<Message>>,
    replies: HashMap<RequestId, oneshot::Sender<TxnOutcome>>,
    next_request: RequestId,
    started: Instant,
}

impl Driver {
    /// Opens the node's logs in `data` and rebuilds the core from them.
    pub fn open(
        cfg: CoreConfig,
        data: &Path,
        peers: HashMap<NodeId, mpsc::UnboundedSender<Message>>,
    ) -> Result<Driver, LogError> {
        let id = cfg.id.clone();
        let (votes, v) = DurableLog::open(&data.join(VOTE_LOG))?;
        let (decisions, d) = DurableLog::open(&data.join(DECISION_LOG))?;
        for (log, replayed) in [(&votes, &v), (&decisions, &d)] {
            if replayed.truncated_bytes > 0 {
                eprintln!(
                    "bank-2pc {id}: cut a torn tail of {} bytes from {}; kept {} records",
                    replayed.truncated_bytes,
                    log.path().display(),
                    replayed.records.len()
                );
            }
        }
        let mut records = v.records;
        records.extend(d.records);
        let core = Core::open(cfg, &records, 0);
        let mut driver = Driver {
            core,
            votes,
            decisions,
            peers,
            replies: HashMap::new(),
            next_request: 0,
            started: Instant::now(),
        };
        // The genesis and incarnation records are durable before the node serves.
        driver.process(0)?;
        Ok(driver)
    }

    fn now(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Runs until [`Event::Shutdown`] or until every sender is gone. A log failure ends
    /// the node: carrying on without durable votes or decisions would break atomicity.
    pub fn run(mut self, events: Receiver<Event>) -> Result<(), LogError> {
        let tick = Duration::from_millis(TICK_MS);
        let mut next_tick = Instant::now() + tick;
        loop {
            let wait = next_tick.saturating_duration_since(Instant::now());
            let first = match events.recv_timeout(wait) {
                Ok(ev) => Some(ev),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
            };
            let now = self.now();
            for ev in first.into_iter().chain(std::iter::from_fn(|| events.try_recv().ok())) {
                match ev {
                    Event::Shutdown => return Ok(()),
                    Event::Txn { ops, reply } => {
                        self.next_request += 1;
                        self.replies.insert(self.next_request, reply);
                        self.core.begin(self.next_request, ops, now);
                    }
                    Event::Inbound { from, messages } => {
                        for m in messages {
                            self.core.step(&from, m, now);
                        }
                    }
                    Event::Status(reply) => {
                        let _ = reply.send(DriverStatus { core: self.core.status(), now });
                    }
                }
            }
            if Instant::now() >= next_tick {
                self.core.tick(now);
                next_tick = Instant::now() + tick;
            }
            self.process(now)?;
        }
    }

    /// Handles `Ready`s until the core has nothing more to do: records durable first,
    /// then messages and replies; messages to this node are stepped at once.
    fn process(&mut self, now: u64) -> Result<(), LogError> {
        loop {
            let ready: Ready = self.core.ready();
            if ready.is_empty() {
                return Ok(());
            }
            for r in &ready.records {
                match r.log() {
                    LogKind::Votes => self.votes.append(r)?,
                    LogKind::Decisions => self.decisions.append(r)?,
                }
            }
            self.votes.sync()?;
            self.decisions.sync()?;
            let mut local = VecDeque::new();
            for (to, msg) in ready.messages {
                if to == self.core.id() {
                    local.push_back(msg);
                } else if let Some(tx) = self.peers.get(&to) {
                    let _ = tx.send(msg);
                }
            }
            for (request, outcome) in ready.replies {
                if let Some(tx) = self.replies.remove(&request) {
                    let _ = tx.send(outcome);
                }
            }
            let me = self.core.id().to_string();
            for msg in local {
                self.core.step(&me, msg, now);
            }
        }
    }
}

/// Starts a driver on its own thread; returns the channel to it and the thread handle.
pub fn spawn(driver: Driver) -> (Sender<Event>, std::thread::JoinHandle<Result<(), LogError>>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let name = format!("bank2pc-{}", driver.core.id());
    let handle = std::thread::Builder::new()
        .name(name)
        .spawn(move || driver.run(rx))
        .expect("spawn the bank-2pc driver");
    (tx, handle)
}
