//! bank-2pc: a sharded transactional key-value store and bank whose keys live on
//! different nodes and whose transactions commit atomically by two-phase commit (or,
//! with `-o protocol=3pc`, three-phase commit). It shows what atomic commitment costs and
//! where it breaks: a correct 2PC keeps the bank's total and never shows a torn read,
//! but blocks while a coordinator that crashed between prepare and commit is away; 3PC
//! does not block, and creates or destroys money under a partition; and three planted
//! shortcuts (heuristic abort, no decision log, unlocked reads) break it in ways Sunder
//! should catch.
//!
//! Layout:
//! - [`message`]: transaction ids, operations, messages and durable records.
//! - [`shard`]: which node owns a key.
//! - [`locks`]: two-phase locking on one participant, deadlock-free by shard order.
//! - [`participant`]: a node's data, votes and in-doubt transactions.
//! - [`coordinator`]: turning a client transaction into prepares and a decision.
//! - [`core`]: both sides of a node as one pure, deterministic state machine.
//! - [`log`]: the checksummed, append-only vote and decision logs.
//! - [`options`]: the `-o` options.
//! - [`driver`]: the thread that owns the core and the logs and runs them.
//! - [`server`]: the HTTP routes for clients and peers, and the peer senders.

pub mod coordinator;
pub mod core;
pub mod driver;
pub mod locks;
pub mod log;
pub mod message;
pub mod options;
pub mod participant;
pub mod server;
pub mod shard;

use crate::spec::{Capabilities, HealthProbe, LeaderProbe, Program, Protocol, StopPolicy, SystemSpec};

pub use server::{serve, serve_on};

/// The catalog entry. (For the richer `SystemSpec` to come: no leader; workloads bank,
/// list-append, rw-register, and register without cas.)
pub const SPEC: SystemSpec = SystemSpec {
    name: "bank-2pc",
    doc: "sharded transactional store and bank by two-phase (or three-phase) commit",
    min_nodes: 1,
    max_nodes: 9,
    default_nodes: 3,
    default_nemesis: "partition,kill",
    options: options::OPTION_SPECS,
    program: Program::Builtin(|cfg, shutdown| Box::pin(serve(cfg, shutdown))),
    ports: &["client"],
    health: HealthProbe::HttpGet("/status"),
    // Any node coordinates (or the fixed one): there is no elected leader to wait for.
    leader: LeaderProbe::None,
    protocol: Protocol::SunderHttp,
    stop: StopPolicy::term(3000),
    capabilities: Capabilities {
        workloads: &["bank", "list-append", "rw-register", "register"],
        cas: false,
        cas_when: None,
        backends: &["netns", "local"],
        clock_faults: true,
        faults: None,
        limits: None,
        leader_hints: false,
        status_timeline: true,
    },
    data_files: &[log::VOTE_LOG, log::DECISION_LOG],
};
