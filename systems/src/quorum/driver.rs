//! The driver: one OS thread per node that owns the core and the log and runs the
//! core's contract. It batches whatever arrived (client operations, peer messages, a
//! 10 ms tick), steps the core, then appends and fsyncs what changed once for the whole
//! batch, and only then sends messages and answers clients. It is the only place that
//! reads clocks: the monotonic one for deadlines and the wall clock (possibly faked by
//! libfaketime) for stamps.

use crate::config::wall_clock_ms;
use crate::quorum::coordinator::{ClientId, ClientOp, ClientReply, Core, CoreStatus, Failure, Time};
use crate::quorum::message::{Envelope, NodeId};
use crate::quorum::store::{StorageError, Store};
use std::collections::HashMap;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// Interval of the core's timers.
pub const TICK_MS: u64 = 10;

/// The answer to a client operation.
pub type Reply = oneshot::Sender<Result<ClientReply, Failure>>;

/// What the HTTP side asks of the driver.
#[derive(Debug)]
pub enum Event {
    /// A client operation.
    Client {
        /// The operation.
        op: ClientOp,
        /// Where its outcome goes.
        reply: Reply,
    },
    /// Messages from a peer.
    Inbound(Vec<Envelope>),
    /// `/status`.
    Status(oneshot::Sender<CoreStatus>),
    /// Stop the thread.
    Shutdown,
}

/// The state one driver thread owns.
pub struct Driver {
    core: Core,
    store: Store,
    peers: HashMap<NodeId, mpsc::UnboundedSender<Envelope>>,
    waiting: HashMap<ClientId, Reply>,
    next_client: ClientId,
    started: Instant,
}

impl Driver {
    /// A driver over a restored core and its open log.
    pub fn new(core: Core, store: Store, peers: HashMap<NodeId, mpsc::UnboundedSender<Envelope>>) -> Driver {
        Driver { core, store, peers, waiting: HashMap::new(), next_client: 1, started: Instant::now() }
    }

    fn now(&self) -> Time {
        Time { mono_ms: self.started.elapsed().as_millis() as u64, wall_ms: wall_clock_ms() as u64 }
    }

    /// Runs until [`Event::Shutdown`] or until every sender is gone. A storage failure
    /// ends the node: acknowledging what it cannot persist would be a lie.
    pub fn run(mut self, events: Receiver<Event>) -> Result<(), StorageError> {
        let tick = Duration::from_millis(TICK_MS);
        let mut next_tick = Instant::now() + tick;
        loop {
            let wait = next_tick.saturating_duration_since(Instant::now());
            let first = match events.recv_timeout(wait) {
                Ok(ev) => Some(ev),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
            };
            for ev in first.into_iter().chain(std::iter::from_fn(|| events.try_recv().ok())) {
                let now = self.now();
                match ev {
                    Event::Shutdown => return Ok(()),
                    Event::Client { op, reply } => {
                        let id = self.next_client;
                        self.next_client += 1;
                        self.waiting.insert(id, reply);
                        self.core.client(id, op, now);
                    }
                    Event::Inbound(batch) => {
                        for env in batch {
                            self.core.step(env, now);
                        }
                    }
                    Event::Status(reply) => {
                        let _ = reply.send(self.core.status());
                    }
                }
            }
            if Instant::now() >= next_tick {
                let now = self.now();
                self.core.tick(now);
                // After a stall, skip missed ticks rather than firing a burst of them.
                next_tick = Instant::now() + tick;
            }
            let ready = self.core.ready();
            self.store.append(&ready.persist)?;
            for env in ready.messages {
                if let Some(tx) = self.peers.get(&env.to) {
                    let _ = tx.send(env);
                }
            }
            for (id, result) in ready.replies {
                if let Some(tx) = self.waiting.remove(&id) {
                    let _ = tx.send(result);
                }
            }
            // A client that gave up closed its channel; its entry would otherwise linger.
            if self.waiting.len() > 10_000 {
                self.waiting.retain(|_, tx| !tx.is_closed());
            }
        }
    }
}

/// Starts a driver on its own thread; returns the channel to it and the thread handle.
pub fn spawn(driver: Driver, id: &str) -> (Sender<Event>, std::thread::JoinHandle<Result<(), StorageError>>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::Builder::new()
        .name(format!("quorum-{id}"))
        .spawn(move || driver.run(rx))
        .expect("spawn the quorum driver thread");
    (tx, handle)
}
