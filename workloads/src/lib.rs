//! `sunder-workloads`: what clients do. Seeded generators decide each operation; clients
//! carry it to a node over the system's protocol and report how it ended, `ok`, `fail` or
//! `info`, by the rule that makes a checker's verdict true: `fail` only when the node said
//! the operation certainly did not happen.
//!
//! Layout:
//! - [`invocation`]: [`invocation::Invocation`] and [`invocation::Completion`], the
//!   generator-to-client and client-to-runner shapes.
//! - [`register`]: the register workload's seeded generator (read, write, cas over K keys,
//!   write values unique per key).
//! - [`kv_client`]: the HTTP client for DESIGN.md's key-value protocol.
//! - [`catalog`]: the workloads Sunder knows.

pub mod catalog;
pub mod invocation;
pub mod kv_client;
pub mod register;

pub use invocation::{Completion, Invocation, Outcome};
