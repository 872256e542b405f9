//! The pure, deterministic core of a quorum-kv node: replica and coordinator in one
//! state machine, with no I/O and no clock of its own. The driver (or a simulated
//! network in tests) hands it client operations, peer messages and ticks, each with the
//! current [`Time`]; after each call [`Core::ready`] gives what to persist, then the
//! messages to send and the client answers, in that order (a replica's acknowledgement
//! must never leave before its state is durable).
//!
//! A coordinator runs each client operation as phases: an optional query of R replicas
//! (reads; ABD writes; read-modify-write of LWW sets and counters), then an optional
//! store at W replicas (writes; ABD write-back), or a Paxos round (`cas=paxos`). Hinted
//! handoff, read repair and anti-entropy all move state with [`Stored::merge`].
//!
//! The replica side (answering peers) lives in [`answers`], the Paxos proposer in
//! [`proposer`], deadlines and periodic work in [`timers`]; this file holds the types,
//! the entry points and the quorum phases.

use crate::quorum::antientropy;
use crate::quorum::clock::Clock;
use crate::quorum::crdt::{OrSet, PnCounter};
use crate::quorum::message::{Body, Envelope, NodeId, Request, Response};
use crate::quorum::options::{CasMode, QuorumOptions, Resolve};
use crate::quorum::paxos::{self, Ballot, Vote};
use crate::quorum::replica::{Stored, join_all};
use crate::quorum::ring::Ring;
use crate::quorum::store::{Record, Recovered};
use crate::quorum::version::{Dot, Sibling, Siblings, VersionVector};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

mod answers;
mod proposer;
mod timers;

/// Dots reserved on disk at a time, so issuing one rarely costs a write.
const DOT_BLOCK: u64 = 1000;
/// How often hints are offered to their replicas (ms).
const HANDOFF_MS: u64 = 200;
/// Most hints offered per handoff round.
const HANDOFF_BATCH: usize = 256;

/// The time as the caller sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Time {
    /// A monotonic clock (ms), for deadlines and intervals.
    pub mono_ms: u64,
    /// The node's wall clock (ms since the epoch), for stamps: faults on it are meant to show.
    pub wall_ms: u64,
}

/// Who asked, so the answer can find its way back.
pub type ClientId = u64;

/// A client request, as the HTTP routes receive it.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientOp {
    /// `GET /kv/{key}`.
    KvGet {
        /// The key.
        key: String,
    },
    /// `PUT /kv/{key}`.
    KvPut {
        /// The key.
        key: String,
        /// The value.
        value: Value,
        /// The context of the read this write follows (version vectors only).
        context: Option<VersionVector>,
    },
    /// `POST /kv/{key}/cas`.
    KvCas {
        /// The key.
        key: String,
        /// Expected value.
        from: Value,
        /// New value.
        to: Value,
    },
    /// `POST /set/{key}`.
    SetAdd {
        /// The key.
        key: String,
        /// The element.
        element: Value,
    },
    /// `GET /set/{key}`.
    SetRead {
        /// The key.
        key: String,
    },
    /// `POST /counter/{key}`.
    CounterAdd {
        /// The key.
        key: String,
        /// The amount.
        delta: i64,
    },
    /// `GET /counter/{key}`.
    CounterRead {
        /// The key.
        key: String,
    },
}

/// A successful answer.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientReply {
    /// A register read.
    Register {
        /// The value (the first sibling when there are several).
        value: Value,
        /// Every sibling, when version vectors kept more than one.
        siblings: Option<Vec<Value>>,
        /// What a follow-up write should send to supersede what was read (vclock only).
        context: Option<VersionVector>,
    },
    /// A write or a matching cas took effect.
    Done,
    /// A cas found another value; nothing changed.
    Mismatch,
    /// A set read.
    Set(Vec<Value>),
    /// A counter read.
    Counter(i64),
}

/// Why an operation did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// It certainly had no effect.
    Definite(String),
    /// It may have taken effect on some replicas.
    Indefinite(String),
    /// The route is not offered under these options; certainly no effect.
    Unsupported(String),
}

/// What the driver must do after a call, in order.
#[derive(Debug, Default)]
pub struct Ready {
    /// Records to append and fsync before anything else leaves.
    pub persist: Vec<Record>,
    /// Messages to peers.
    pub messages: Vec<Envelope>,
    /// Answers to clients.
    pub replies: Vec<(ClientId, Result<ClientReply, Failure>)>,
}

/// What `/status` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreStatus {
    /// Hints waiting for their replica.
    pub hints_pending: usize,
    /// Wall-clock ms at which the last anti-entropy round finished.
    pub last_anti_entropy_ms: Option<u64>,
    /// Keys this node holds.
    pub keys: usize,
}

/// What a coordinator does with the merged result of a query.
#[derive(Debug, Clone, PartialEq)]
enum Goal {
    ReadRegister,
    ReadSet,
    ReadCounter,
    Put {
        value: Value,
        context: Option<VersionVector>,
    },
    SetAddLww {
        element: Value,
    },
    CounterAddLww {
        delta: i64,
    },
    /// The state was made up front (CRDT adds); store it.
    Store,
}

#[derive(Debug, Clone, PartialEq)]
enum PaxosGoal {
    Read,
    Put(Value),
    Cas(Value, Value),
}

#[derive(Debug)]
enum Phase {
    Query {
        replies: BTreeMap<NodeId, Option<Stored>>,
    },
    Store {
        state: Stored,
        acks: BTreeSet<NodeId>,
        hinted: BTreeSet<NodeId>,
        started: u64,
        result: ClientReply,
    },
    Prepare {
        ballot: Ballot,
        promises: BTreeMap<NodeId, Option<(Ballot, Value)>>,
        refused: BTreeSet<NodeId>,
    },
    Accept {
        acks: BTreeSet<NodeId>,
        refused: BTreeSet<NodeId>,
        result: ClientReply,
    },
    Backoff {
        until: u64,
    },
}

#[derive(Debug)]
struct Op {
    client: ClientId,
    key: String,
    deadline: u64,
    goal: Goal,
    paxos: Option<PaxosGoal>,
    phase: Phase,
    /// True once any replica may have taken in this operation's effect.
    sent_effect: bool,
    attempt: u32,
    /// Paxos attempts started (each with a fresh ballot).
    generation: u32,
}

/// Why an outstanding request was sent.
#[derive(Debug)]
enum Track {
    /// An operation's request, sent in its `generation`-th Paxos attempt (0 outside Paxos);
    /// answers to an older attempt's ballot must not count toward the current one.
    Op(u64, u32),
    Handoff {
        target: NodeId,
        key: String,
        state: Stored,
    },
    AntiEntropy {
        peer: NodeId,
    },
}

/// Construction parameters.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// This node.
    pub id: NodeId,
    /// Every node of the cluster, this one included.
    pub nodes: Vec<NodeId>,
    /// The options.
    pub opts: QuorumOptions,
    /// Seed of the Paxos backoff jitter.
    pub seed: u64,
    /// Distinct for each start of the node (the driver draws it at random): request ids
    /// start from it, so answers to requests of a previous life, still in flight when
    /// the node was killed, never match a request of this one.
    pub incarnation: u64,
}

/// One node's replica and coordinator state.
#[derive(Debug)]
pub struct Core {
    id: NodeId,
    others: Vec<NodeId>,
    opts: QuorumOptions,
    ring: Ring,
    data: BTreeMap<String, Stored>,
    hints: BTreeMap<(NodeId, String), Stored>,
    clock: Clock,
    next_dot: u64,
    dots_reserved: u64,
    ops: BTreeMap<u64, Op>,
    next_op: u64,
    /// Outstanding requests by id, with the node each went to.
    rpcs: HashMap<u64, (NodeId, Track)>,
    next_rpc: u64,
    inbox: VecDeque<Envelope>,
    ready: Ready,
    rng: ChaCha8Rng,
    paxos_round: u64,
    next_handoff: u64,
    next_anti_entropy: u64,
    anti_entropy_peer: usize,
    last_anti_entropy: Option<u64>,
    now: Time,
    /// Store messages the delay hook holds back, with when each may leave.
    held: Vec<(u64, NodeId, Request, Option<Track>)>,
}

fn internal(prefix: &str, key: &str) -> String {
    format!("{prefix}/{key}")
}

fn register_reply(state: Option<&Stored>, vclock: bool) -> ClientReply {
    match state {
        Some(Stored::Lww { value, .. }) => {
            ClientReply::Register { value: value.clone(), siblings: None, context: None }
        }
        Some(Stored::Siblings(s)) => {
            let values = s.values();
            ClientReply::Register {
                value: values.first().cloned().unwrap_or(Value::Null),
                siblings: (values.len() > 1).then_some(values),
                context: Some(s.context()),
            }
        }
        _ => ClientReply::Register {
            value: Value::Null,
            siblings: None,
            context: vclock.then(VersionVector::default),
        },
    }
}

impl Core {
    /// A core restored from what the node's log held.
    pub fn new(cfg: CoreConfig, recovered: Recovered) -> Core {
        let mut nodes = cfg.nodes.clone();
        nodes.sort();
        nodes.dedup();
        let ring = Ring::new(&nodes, cfg.opts.n);
        let mut clock = Clock::new(&cfg.id, cfg.opts.resolve != Resolve::Lww);
        for s in recovered.data.values() {
            if let Some(stamp) = s.stamp() {
                clock.observe(stamp);
            }
        }
        let others = nodes.iter().filter(|n| **n != cfg.id).cloned().collect();
        Core {
            id: cfg.id,
            others,
            ring,
            data: recovered.data,
            hints: recovered.hints,
            clock,
            next_dot: recovered.dots_reserved + 1,
            dots_reserved: recovered.dots_reserved,
            ops: BTreeMap::new(),
            next_op: 1,
            rpcs: HashMap::new(),
            next_rpc: cfg.incarnation,
            inbox: VecDeque::new(),
            ready: Ready::default(),
            rng: ChaCha8Rng::seed_from_u64(cfg.seed),
            paxos_round: 0,
            next_handoff: 0,
            next_anti_entropy: cfg.opts.anti_entropy_ms,
            anti_entropy_peer: 0,
            last_anti_entropy: None,
            now: Time { mono_ms: 0, wall_ms: 0 },
            held: vec![],
            opts: cfg.opts,
        }
    }

    /// This node's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// This node's state of an internal key (`kv/x`, `set/x`, `counter/x`); for tests.
    pub fn local(&self, key: &str) -> Option<&Stored> {
        self.data.get(key)
    }

    /// Every key and state this node holds.
    pub fn data(&self) -> &BTreeMap<String, Stored> {
        &self.data
    }

    /// What `/status` reports.
    pub fn status(&self) -> CoreStatus {
        CoreStatus {
            hints_pending: self.hints.len(),
            last_anti_entropy_ms: self.last_anti_entropy,
            keys: self.data.len(),
        }
    }

    /// Takes what the last calls produced.
    pub fn ready(&mut self) -> Ready {
        std::mem::take(&mut self.ready)
    }

    /// Starts a client operation.
    pub fn client(&mut self, client: ClientId, op: ClientOp, now: Time) {
        self.now = now;
        self.start(client, op);
        self.drain();
    }

    /// Takes in one peer message.
    pub fn step(&mut self, env: Envelope, now: Time) {
        self.now = now;
        self.inbox.push_back(env);
        self.drain();
    }

    /// Advances timers: deadlines, sloppy fallbacks, Paxos retries, handoff, anti-entropy.
    pub fn tick(&mut self, now: Time) {
        self.now = now;
        if !self.held.is_empty() {
            let (due, later): (Vec<_>, Vec<_>) =
                std::mem::take(&mut self.held).into_iter().partition(|h| h.0 <= now.mono_ms);
            self.held = later;
            for (_, to, req, track) in due {
                self.send(&to, req, track);
            }
        }
        let ids: Vec<u64> = self.ops.keys().copied().collect();
        for id in ids {
            self.check_timers(id);
        }
        if now.mono_ms >= self.next_handoff {
            self.next_handoff = now.mono_ms + HANDOFF_MS;
            // Replies still missing from the last round are lost; their hints go again.
            let ops = &self.ops;
            self.rpcs.retain(|_, (_, t)| match t {
                Track::Op(id, _) => ops.contains_key(id),
                Track::Handoff { .. } => false,
                Track::AntiEntropy { .. } => true,
            });
            self.offer_hints();
        }
        if self.opts.anti_entropy_ms > 0 && now.mono_ms >= self.next_anti_entropy {
            self.next_anti_entropy = now.mono_ms + self.opts.anti_entropy_ms;
            self.rpcs.retain(|_, (_, t)| !matches!(t, Track::AntiEntropy { .. }));
            self.start_anti_entropy();
        }
        self.drain();
    }

    // ----- sending -----

    fn send(&mut self, to: &str, req: Request, track: Option<Track>) {
        let id = self.next_rpc;
        self.next_rpc = self.next_rpc.wrapping_add(1);
        if let Some(t) = track {
            self.rpcs.insert(id, (to.to_string(), t));
        }
        let env = Envelope { from: self.id.clone(), to: to.to_string(), id, body: Body::Request(req) };
        if to == self.id { self.inbox.push_back(env) } else { self.ready.messages.push(env) }
    }

    fn drain(&mut self) {
        while let Some(env) = self.inbox.pop_front() {
            match env.body {
                Body::Request(req) => {
                    let resp = self.serve(&env.from, req);
                    let back = Envelope {
                        from: self.id.clone(),
                        to: env.from.clone(),
                        id: env.id,
                        body: Body::Response(resp),
                    };
                    if env.from == self.id {
                        self.inbox.push_back(back)
                    } else {
                        self.ready.messages.push(back)
                    }
                }
                Body::Response(resp) => self.on_response(&env.from, env.id, resp),
            }
        }
    }

    fn persist_key(&mut self, key: &str) {
        if let Some(state) = self.data.get(key) {
            self.ready.persist.push(Record::Put { key: key.to_string(), state: state.clone() });
        }
    }

    fn take_dot(&mut self) -> Dot {
        if self.next_dot > self.dots_reserved {
            self.dots_reserved += DOT_BLOCK;
            self.ready.persist.push(Record::Reserve { dots: self.dots_reserved });
        }
        let dot = Dot { node: self.id.clone(), counter: self.next_dot };
        self.next_dot += 1;
        dot
    }

    // ----- coordinator side -----

    fn start(&mut self, client: ClientId, op: ClientOp) {
        let paxos_on = self.opts.cas == CasMode::Paxos;
        let (key, goal, paxos) = match op {
            ClientOp::KvCas { key, from, to } => {
                if !paxos_on {
                    let msg = "compare-and-set is not supported unless -o cas=paxos";
                    self.ready.replies.push((client, Err(Failure::Unsupported(msg.into()))));
                    return;
                }
                (internal("kv", &key), Goal::Store, Some(PaxosGoal::Cas(from, to)))
            }
            ClientOp::KvGet { key } if paxos_on => (internal("kv", &key), Goal::Store, Some(PaxosGoal::Read)),
            ClientOp::KvPut { key, value, .. } if paxos_on => {
                (internal("kv", &key), Goal::Store, Some(PaxosGoal::Put(value)))
            }
            ClientOp::KvGet { key } => (internal("kv", &key), Goal::ReadRegister, None),
            ClientOp::KvPut { key, value, context } => {
                (internal("kv", &key), Goal::Put { value, context }, None)
            }
            ClientOp::SetRead { key } => (internal("set", &key), Goal::ReadSet, None),
            ClientOp::CounterRead { key } => (internal("counter", &key), Goal::ReadCounter, None),
            ClientOp::SetAdd { key, element } if !self.opts.crdt => {
                (internal("set", &key), Goal::SetAddLww { element }, None)
            }
            ClientOp::CounterAdd { key, delta } if !self.opts.crdt => {
                (internal("counter", &key), Goal::CounterAddLww { delta }, None)
            }
            ClientOp::SetAdd { key, element } => {
                let key = internal("set", &key);
                let state = Stored::Set(OrSet::add(&element, self.take_dot()));
                self.begin_store(client, key, state, ClientReply::Done);
                return;
            }
            ClientOp::CounterAdd { key, delta } => {
                let key = internal("counter", &key);
                // The coordinator keeps its own contribution durable locally, so its next
                // add builds on it even when it replicates no copy of the key.
                let mut counter = match self.data.get(&key) {
                    Some(Stored::Counter(c)) => c.clone(),
                    _ => PnCounter::default(),
                };
                counter.add(&self.id, delta);
                let state = Stored::Counter(counter);
                self.data.insert(key.clone(), state.clone());
                self.persist_key(&key);
                self.begin_store(client, key, state, ClientReply::Done);
                return;
            }
        };
        let op_id = self.new_op(client, key.clone(), goal.clone(), paxos.clone());
        if paxos.is_some() {
            self.prepare(op_id);
            return;
        }
        let query_first = match goal {
            Goal::Put { .. } => self.opts.read_writeback,
            _ => true,
        };
        if query_first {
            for node in self.ring.preference_list(&key) {
                self.send(&node, Request::Get { key: key.clone() }, Some(Track::Op(op_id, 0)));
            }
        } else {
            self.after_query(op_id, None);
        }
    }

    fn new_op(&mut self, client: ClientId, key: String, goal: Goal, paxos: Option<PaxosGoal>) -> u64 {
        let id = self.next_op;
        self.next_op += 1;
        let op = Op {
            client,
            key,
            deadline: self.now.mono_ms + self.opts.timeout_ms,
            goal,
            paxos,
            phase: Phase::Query { replies: BTreeMap::new() },
            sent_effect: false,
            attempt: 0,
            generation: 0,
        };
        self.ops.insert(id, op);
        id
    }

    fn begin_store(&mut self, client: ClientId, key: String, state: Stored, result: ClientReply) {
        let id = self.new_op(client, key, Goal::Store, None);
        self.store_phase(id, state, result);
    }

    fn store_phase(&mut self, id: u64, state: Stored, result: ClientReply) {
        let Some(op) = self.ops.get_mut(&id) else { return };
        op.sent_effect = true;
        op.phase = Phase::Store {
            state: state.clone(),
            acks: BTreeSet::new(),
            hinted: BTreeSet::new(),
            started: self.now.mono_ms,
            result,
        };
        let key = op.key.clone();
        for node in self.ring.preference_list(&key) {
            let req = Request::Merge { key: key.clone(), state: state.clone(), hint_for: None };
            if self.opts.debug_store_delay_ms > 0 && node != self.id {
                let at = self.now.mono_ms + self.opts.debug_store_delay_ms;
                self.held.push((at, node, req, Some(Track::Op(id, 0))));
            } else {
                self.send(&node, req, Some(Track::Op(id, 0)));
            }
        }
    }

    /// The query phase has R replies (`merged` is their join), or was skipped.
    fn after_query(&mut self, id: u64, replies: Option<BTreeMap<NodeId, Option<Stored>>>) {
        let Some(op) = self.ops.get(&id) else { return };
        let key = op.key.clone();
        let goal = op.goal.clone();
        let merged = replies.as_ref().and_then(|r| join_all(r.values()));
        if let Some(stamp) = merged.as_ref().and_then(Stored::stamp) {
            self.clock.observe(&stamp.clone());
        }
        if let (Some(replies), Some(m), true) = (&replies, &merged, self.opts.read_repair) {
            // Fire and forget: a lost repair is retried by the next read or anti-entropy.
            for (node, _) in replies.iter().filter(|(_, s)| s.as_ref() != Some(m)) {
                self.send(node, Request::Merge { key: key.clone(), state: m.clone(), hint_for: None }, None);
            }
        }
        let vclock = self.opts.resolve == Resolve::Vclock;
        let wall = self.now.wall_ms;
        let floor = merged.as_ref().and_then(Stored::stamp).cloned();
        let stamp = |clock: &mut Clock, abd: bool| {
            if abd { clock.stamp_above(wall, floor.as_ref()) } else { clock.stamp(wall) }
        };
        let write_back = |core: &mut Core, result: ClientReply| match (&merged, core.opts.read_writeback) {
            (Some(m), true) => core.store_phase(id, m.clone(), result),
            _ => core.finish(id, Ok(result)),
        };
        match goal {
            Goal::ReadRegister => write_back(self, register_reply(merged.as_ref(), vclock)),
            Goal::ReadSet => {
                let elements = match &merged {
                    Some(Stored::Set(s)) => s.elements(),
                    Some(Stored::Lww { value: Value::Array(a), .. }) => a.clone(),
                    _ => Vec::new(),
                };
                write_back(self, ClientReply::Set(elements))
            }
            Goal::ReadCounter => {
                let value = match &merged {
                    Some(Stored::Counter(c)) => c.value(),
                    Some(Stored::Lww { value, .. }) => value.as_i64().unwrap_or(0),
                    _ => 0,
                };
                write_back(self, ClientReply::Counter(value))
            }
            Goal::Put { value, context } if vclock => {
                let context = context.unwrap_or_else(|| match merged.as_ref().or(self.data.get(&key)) {
                    Some(Stored::Siblings(s)) => s.context(),
                    _ => VersionVector::default(),
                });
                let dot = self.take_dot();
                let state = Stored::Siblings(Siblings(vec![Sibling { dot, context, value }]));
                self.store_phase(id, state, ClientReply::Done);
            }
            Goal::Put { value, .. } => {
                let stamp = stamp(&mut self.clock, replies.is_some());
                self.store_phase(id, Stored::Lww { stamp, value }, ClientReply::Done);
            }
            Goal::SetAddLww { element } => {
                let mut elements = match &merged {
                    Some(Stored::Lww { value: Value::Array(a), .. }) => a.clone(),
                    _ => Vec::new(),
                };
                if !elements.contains(&element) {
                    elements.push(element);
                }
                let stamp = stamp(&mut self.clock, self.opts.read_writeback);
                self.store_phase(id, Stored::Lww { stamp, value: Value::Array(elements) }, ClientReply::Done);
            }
            Goal::CounterAddLww { delta } => {
                let current = merged.as_ref().and_then(|m| match m {
                    Stored::Lww { value, .. } => value.as_i64(),
                    _ => None,
                });
                let stamp = stamp(&mut self.clock, self.opts.read_writeback);
                let value = Value::from(current.unwrap_or(0) + delta);
                self.store_phase(id, Stored::Lww { stamp, value }, ClientReply::Done);
            }
            Goal::Store => self.finish(id, Ok(ClientReply::Done)),
        }
    }

    fn finish(&mut self, id: u64, result: Result<ClientReply, Failure>) {
        if let Some(op) = self.ops.remove(&id) {
            self.ready.replies.push((op.client, result));
        }
    }

    fn on_response(&mut self, from: &str, rpc: u64, resp: Response) {
        // An answer must come from the node asked: ids alone could collide with answers
        // meant for this node's previous life, had its incarnations overlapped.
        if self.rpcs.get(&rpc).is_none_or(|(to, _)| to != from) {
            return;
        }
        let Some((_, track)) = self.rpcs.remove(&rpc) else { return };
        match track {
            Track::Op(id, generation) => {
                if self.ops.get(&id).is_some_and(|op| op.generation == generation) {
                    self.op_response(id, from, resp);
                }
            }
            Track::Handoff { target, key, state } => {
                if resp == Response::Ack && self.hints.get(&(target.clone(), key.clone())) == Some(&state) {
                    self.hints.remove(&(target.clone(), key.clone()));
                    self.ready.persist.push(Record::HintDone { target, key });
                }
            }
            Track::AntiEntropy { peer } => {
                if let Response::Differ { buckets, states } = resp {
                    for (k, s) in &states {
                        if s.mergeable() && self.ring.holds(&self.id, k) {
                            self.merge_local(k, s);
                        }
                    }
                    if !buckets.is_empty() {
                        let shared = self.shared_with(&peer);
                        let mine = antientropy::in_buckets(shared.iter().map(|(k, s)| (k, s)), &buckets);
                        self.send(&peer, Request::MergeMany { states: mine }, None);
                    }
                    self.last_anti_entropy = Some(self.now.wall_ms);
                }
            }
        }
    }

    fn op_response(&mut self, id: u64, from: &str, resp: Response) {
        let r = self.opts.r;
        let w = self.opts.w;
        let majority = paxos::majority(self.ring.n());
        let Some(op) = self.ops.get_mut(&id) else { return };
        match (&mut op.phase, resp) {
            (Phase::Query { replies }, Response::State { state }) => {
                replies.insert(from.to_string(), state);
                if replies.len() >= r {
                    let replies = std::mem::take(replies);
                    self.after_query(id, Some(replies));
                }
            }
            (Phase::Store { acks, result, .. }, Response::Ack) => {
                acks.insert(from.to_string());
                if acks.len() >= w {
                    let result = result.clone();
                    self.finish(id, Ok(result));
                }
            }
            (Phase::Prepare { ballot, promises, refused }, Response::Vote { vote }) => match vote {
                Vote::Promise { accepted } => {
                    promises.insert(from.to_string(), accepted);
                    if promises.len() >= majority {
                        let ballot = ballot.clone();
                        let current = paxos::carried_forward(promises.values());
                        self.accept(id, ballot, current);
                    }
                }
                Vote::Refused { promised } => {
                    self.paxos_round = self.paxos_round.max(promised.round);
                    refused.insert(from.to_string());
                    if refused.len() > self.ring.n() - majority {
                        self.back_off(id);
                    }
                }
                Vote::Accepted => {}
            },
            (Phase::Accept { acks, refused, result, .. }, Response::Vote { vote }) => match vote {
                Vote::Accepted => {
                    acks.insert(from.to_string());
                    if acks.len() >= majority {
                        let result = result.clone();
                        self.finish(id, Ok(result));
                    }
                }
                Vote::Refused { promised } => {
                    self.paxos_round = self.paxos_round.max(promised.round);
                    refused.insert(from.to_string());
                    if refused.len() > self.ring.n() - majority {
                        self.back_off(id);
                    }
                }
                Vote::Promise { .. } => {}
            },
            _ => {}
        }
    }
}
