//! raft-kv: a durable Raft key-value store, the CP, linearizable baseline Sunder's
//! users compare other systems against. It follows Figure 2 and sections 5 and 8 of
//! Ongaro and Ousterhout's paper, keeps term, vote and log on disk with checksums and
//! group commit, serves reads through the log, a read index, a lease or local state,
//! and can plant three bugs on request so users see Sunder catch each.
//!
//! Layout:
//! - [`message`]: entries, hard state and the messages nodes exchange.
//! - [`core`]: the pure, deterministic consensus state machine (no I/O, no clock).
//! - [`storage`]: the term/vote file and the checksummed append-only log.
//! - [`options`]: the `-o` options.
//! - [`driver`]: the thread that owns core, storage and state machine and runs them.
//! - [`server`]: the HTTP routes for clients and peers, and the peer senders.

pub mod core;
pub mod driver;
pub mod message;
pub mod options;
pub mod server;
pub mod storage;

use crate::spec::{Capabilities, HealthProbe, LeaderProbe, Program, Protocol, StopPolicy, SystemSpec};

pub use server::{serve, serve_on};

/// The catalog entry.
pub const SPEC: SystemSpec = SystemSpec {
    name: "raft-kv",
    doc: "durable Raft key-value store; linearizable unless a read path or bug says otherwise",
    min_nodes: 1,
    max_nodes: 9,
    default_nodes: 5,
    default_nemesis: "partition,kill",
    options: options::OPTION_SPECS,
    program: Program::Builtin(|cfg, shutdown| Box::pin(serve(cfg, shutdown))),
    ports: &["client"],
    health: HealthProbe::HttpGet("/status"),
    leader: LeaderProbe::SunderStatus,
    protocol: Protocol::SunderHttp,
    stop: StopPolicy::term(3000),
    capabilities: Capabilities {
        workloads: &["register", "set", "counter", "bank", "list-append", "rw-register"],
        cas: true,
        cas_when: None,
        backends: &["netns", "local"],
        clock_faults: true,
        faults: None,
        limits: None,
        leader_hints: true,
        status_timeline: false,
    },
    data_files: storage::DATA_FILES,
};
