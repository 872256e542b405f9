//! `sunder-systems`: the systems under test. Each is a [`SystemSpec`] in [`catalog`]; a
//! built-in one is a node program started as
//! `sunder node <system> --id ID --listen ADDR --data DIR [--peer ID=ADDR]... [-o KEY=VALUE]...`.
//!
//! Layout:
//! - [`config`]: [`config::NodeConfig`], what the launcher tells every built-in node, and its
//!   `-o` option lookups.
//! - [`spec`]: [`spec::SystemSpec`], a system as one value: nodes, options, how a node starts,
//!   ports, health and leader probes, protocol, capabilities.
//! - [`catalog`]: the list of systems Sunder knows.
//! - [`node`]: [`node::run`], which starts the named built-in system and serves until SIGTERM.
//! - [`protocol`]: the HTTP/JSON wire types of DESIGN.md, shared by every system and client.
//! - [`kv`]: the state machine (registers, sets, counters) every log-based system applies.
//! - [`routes`]: DESIGN.md's client routes over any [`routes::Replica`].
//! - [`serving`]: HTTP in front of a driver thread, each ending the other.
//! - [`single_kv`]: one in-memory node; linearizable by construction, the control case.
//! - [`raft`]: raft-kv, a durable Raft key-value store with switchable read paths and
//!   plantable bugs.
//! - [`quorum`]: quorum-kv, a leaderless Dynamo-style store with tunable N, R, W, clocks,
//!   CRDTs, repair, hinted handoff and Paxos compare-and-set.
//! - [`bank2pc`]: bank-2pc, a sharded transactional store and bank by two-phase (or
//!   three-phase) commit, with plantable bugs.
//! - [`etcd`]: real etcd processes (an external program), reached through its JSON gateway.
//!
//! Nodes learn their peers' addresses from the launcher and never care which network
//! backend carries their traffic.

pub mod bank2pc;
pub mod catalog;
pub mod config;
pub mod etcd;
pub mod kv;
pub mod node;
pub mod protocol;
pub mod quorum;
pub mod raft;
pub mod routes;
pub mod serving;
pub mod single_kv;
pub mod spec;

pub use config::{NodeConfig, NodeError};
pub use node::run;
pub use spec::SystemSpec;
