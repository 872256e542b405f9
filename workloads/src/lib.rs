//! `sunder-workloads`: what clients do. A workload is one [`workload::WorkloadSpec`] value:
//! its `-w` options, a seeded generator per worker, the final phase's operations and the
//! checkers that judge it. A client speaks one protocol and reports how each operation ended,
//! `ok`, `fail` or `info`, by the rule that makes a checker's verdict true: `fail` only when
//! the node said the operation certainly did not happen.
//!
//! Layout:
//! - [`invocation`]: [`invocation::Invocation`] and [`invocation::Completion`], the
//!   generator-to-client and client-to-runner shapes.
//! - [`workload`]: the [`workload::Workload`] and [`workload::Generator`] seams, options and
//!   the seeded-value rules every workload shares.
//! - [`register`], [`set`], [`counter`], [`bank`], [`transactions`] (list-append and
//!   rw-register): the workloads.
//! - [`catalog`]: the list of workloads Sunder knows.
//! - [`client`]: the [`client::Client`] seam and the client for a system's protocol.
//! - [`sunder_http`]: the client for Sunder's own HTTP protocol.
//! - [`etcd_gateway`]: the client for etcd's v3 JSON gateway; [`base64`]: its encoding.

pub mod bank;
pub mod base64;
pub mod catalog;
pub mod client;
pub mod counter;
pub mod etcd_gateway;
pub mod invocation;
pub mod register;
pub mod set;
pub mod sunder_http;
pub mod transactions;
pub mod workload;

pub use invocation::{Completion, Invocation, Object, Outcome};
pub use workload::{Generator, Workload, WorkloadSpec};
