//! quorum-kv: a leaderless, Dynamo-style store, the AP side of the comparison. Every
//! node is replica and coordinator; a key lives on N nodes of a consistent-hashing
//! ring; reads wait for R replies and writes for W acknowledgements. A few settings
//! apart it lands on very different rungs of the consistency ladder: R + W > N with
//! ABD write-back is linearizable, without it new-old inversions show, R = W = 1 is only
//! eventually consistent, wall-clock last-write-wins loses writes under clock skew,
//! version vectors keep siblings, CRDT sets and counters converge without coordination,
//! and `cas=paxos` makes every register operation a Paxos round. `docs/quorum-kv.md`
//! explains each option.
//!
//! Layout (pure parts first):
//! - [`clock`]: wall-clock and hybrid-logical-clock stamps for last-write-wins.
//! - [`version`]: version vectors and sibling sets (dotted, so no concurrent write is lost).
//! - [`crdt`]: the observed-remove set and the PN-counter.
//! - [`paxos`]: single-decree Paxos acceptor rules and the value a proposer carries forward.
//! - [`replica`]: one key's state on a replica and the one merge every repair path uses.
//! - [`ring`]: consistent hashing with virtual nodes, preference lists and fallbacks.
//! - [`antientropy`]: per-range digests and the ranges two replicas disagree on.
//! - [`message`]: what nodes send each other.
//! - [`coordinator`]: the deterministic core: quorum reads and writes, read repair,
//!   ABD write-back, hinted handoff, anti-entropy rounds and Paxos proposals.
//! - [`store`]: the checksummed, fsynced append-only log and its replay.
//! - [`options`]: the `-o` options.
//! - [`driver`]: the thread that owns core and log, and the only reader of clocks.
//! - [`server`]: the HTTP routes for clients and peers, and the peer senders.

pub mod antientropy;
pub mod clock;
pub mod coordinator;
pub mod crdt;
pub mod driver;
pub mod message;
pub mod options;
pub mod paxos;
pub mod replica;
pub mod ring;
pub mod server;
pub mod store;
pub mod version;

use crate::spec::{Capabilities, HealthProbe, LeaderProbe, Program, Protocol, StopPolicy, SystemSpec};

pub use server::{serve, serve_on};

/// The catalog entry. For the lead's richer `SystemSpec`: no leader; workloads register
/// (cas only with `cas=paxos`), set and counter; both network backends; clock faults
/// reach it (stamps come from `SystemTime::now()`).
pub const SPEC: SystemSpec = SystemSpec {
    name: "quorum-kv",
    doc: "leaderless Dynamo-style store: tunable n/r/w, lww|hlc|vclock, CRDTs, repair, hints, paxos cas",
    min_nodes: 1,
    max_nodes: 9,
    default_nodes: 3,
    default_nemesis: "partition,kill",
    options: options::OPTION_SPECS,
    program: Program::Builtin(|cfg, shutdown| Box::pin(serve(cfg, shutdown))),
    ports: &["client"],
    health: HealthProbe::HttpGet("/status"),
    // Every node is a replica and a coordinator: there is no leader.
    leader: LeaderProbe::None,
    protocol: Protocol::SunderHttp,
    stop: StopPolicy::term(3000),
    capabilities: Capabilities {
        workloads: &["register", "set", "counter"],
        // Compare-and-set is honest only through single-decree Paxos.
        cas: false,
        cas_when: Some(("cas", "paxos")),
        backends: &["netns", "local"],
        // LWW by wall clock is exposed to libfaketime's skew on purpose.
        clock_faults: true,
        faults: None,
        limits: None,
        leader_hints: false,
        status_timeline: false,
    },
    data_files: &[store::LOG_FILE],
};
