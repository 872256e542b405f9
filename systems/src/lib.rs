//! `sunder-systems`: the systems under test, each a node program started as
//! `sunder node <system> --id ID --listen ADDR --data DIR [--peer ID=ADDR]... [-o KEY=VALUE]...`.
//!
//! Layout:
//! - [`node`]: [`node::NodeConfig`], what the launcher tells every node, and [`node::run`],
//!   which starts the named system and serves until SIGTERM.
//! - [`catalog`]: the systems Sunder knows and the `-o` options each accepts.
//! - [`protocol`]: the HTTP/JSON wire types of DESIGN.md, shared by every system.
//! - [`kv`]: the key-value state machine (get, put, cas) every KV system applies.
//! - [`single_kv`]: one in-memory node; linearizable by construction, the control case.
//! - [`raft`]: raft-kv, a durable Raft key-value store with switchable read paths and
//!   plantable bugs.
//! - [`quorum`]: quorum-kv, a leaderless Dynamo-style store with tunable N, R, W, clocks,
//!   CRDTs, repair, hinted handoff and Paxos compare-and-set.
//!
//! Nodes learn their peers' addresses from the launcher and never care which network
//! backend carries their traffic.

pub mod catalog;
pub mod kv;
pub mod node;
pub mod protocol;
pub mod quorum;
pub mod raft;
pub mod single_kv;

pub use node::{NodeConfig, NodeError, run};
