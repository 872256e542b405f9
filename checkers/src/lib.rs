//! `sunder-check`: Sunder's history model and every checker. Pure and synchronous: no
//! runtime, no network, usable on its own on any history file.
//!
//! Layout:
//! - [`history`]: [`history::Op`], [`history::History`] (validated, invocations paired with
//!   completions), the JSONL reader and the flushing writer the runner records with.
//! - [`verdict`]: [`verdict::Validity`], [`verdict::CheckerResult`], [`verdict::Anomaly`] and
//!   [`verdict::Results`], the shape of `results.json`, with DESIGN.md's composition rule;
//!   [`distinct`] merges repeated and look-alike anomalies and ties them to the
//!   [`fault_windows`] and nodes of their ops; [`anomaly_names`] gives each kind plain words.
//! - [`error`]: [`error::InputError`], bad input located by file and line.
//! - [`stats`]: counts and availability; judges nothing.
//! - [`import`]: Jepsen EDN/JSON/log and Porcupine kv histories to [`History`].
//! - [`linearizable`]: the linearizability checker (search, models, generated histories).
//! - [`ladder`]: every consistency model below linearizability on a register/kv history,
//!   built from [`sequential`], [`causal`], [`session`] and [`convergence`].
//! - [`bank`], [`counter`], [`set_full`], [`unique_ids`]: Jepsen's workload invariants.
//! - [`export`]: any history as Jepsen EDN, for cross-checking with Knossos or Elle.
//! - [`live`]: the same judgement made while a run writes its history, for the plans whose
//!   checkers consume ops in order; it defers to [`plan::judge`] for anything it cannot decide.
//! - [`plan`]: which checkers judge a history ([`plan::Plan`]), and [`plan::judge`], which
//!   runs them and composes `results.json`.
//! - [`txn`]: isolation levels of transactional histories (list-append, rw-register), Elle-style.
//!
//! Checkers take a `&History` and return a `CheckerResult`; the harness composes them.

pub mod anomaly_names;
pub mod distinct;
pub mod error;
pub mod fault_windows;
pub mod history;
pub mod stats;
pub mod verdict;

pub mod bank;
pub mod causal;
pub mod convergence;
pub mod counter;
pub mod ladder;
pub mod sequential;
pub mod session;
pub mod set_full;
pub mod unique_ids;

pub use error::InputError;
pub use history::{History, Op, OpType, Process};
pub use verdict::{Anomaly, CheckerResult, Results, Validity};
pub mod export;
pub mod import;
pub mod linearizable;
pub mod live;
pub mod plan;
pub mod txn;
