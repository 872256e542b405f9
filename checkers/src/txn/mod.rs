//! The transactional checker: which isolation level a history of transactions really had.
//! Like Elle, it infers a dependency graph between transactions (ww, wr, rw from the
//! values, plus process and real-time order), finds its cycles and the anomalies that need
//! none, names each one (G0, G1a, G1b, G1c, G-single-item, G2-item, lost update, ...), explains
//! it in plain words and says which models of the ladder it rules out.
//!
//! Layout: `micro` parses micro-ops and interns keys and values; `transactions` collects
//! them per transaction; `list_append` and `rw_register` infer version orders and edges (`read_atomic` the order steps that hold only if transactions are seen whole);
//! `order` adds process and real-time edges; `graph` holds the flat graph, Tarjan and BFS;
//! `cycles` searches and classifies; `anomaly` narrates; [`models`] maps anomalies to the
//! ladder and `report` turns the findings into verdicts; [`plume`] reads Plume's text format; [`generate`] makes list-append histories.

mod anomaly;
mod budget;
mod cycles;
pub mod generate;
mod graph;
mod list_append;
mod micro;
pub mod models;
mod order;
pub mod plume;
mod read_atomic;
mod report;
mod rw_register;
mod transactions;

pub use budget::TxnBudget;

use crate::history::History;
use crate::verdict::{CheckerResult, Validity};
use anomaly::Narrator;
use budget::{Exhausted, Meter};
use micro::ReadShape;
use serde_json::{Value, json};
use transactions::Transactions;

/// Which kind of transactional workload a history comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TxnModel {
    /// Appends to lists, reads of whole lists (`append`, `r`).
    #[default]
    ListAppend,
    /// Writes and reads of registers (`w`, `r`), writes unique per key.
    RwRegister,
}

/// What to check and under which assumptions.
#[derive(Debug, Clone)]
pub struct TxnOptions {
    /// The workload's shape.
    pub model: TxnModel,
    /// Models to judge (names of [`models::MODELS`]); empty means all.
    pub consistency_models: Vec<String>,
    /// rw-register: each key is linearizable, so real time orders its versions.
    pub linearizable_keys: bool,
    /// rw-register: each process sees each key's versions in order.
    pub sequential_keys: bool,
    /// rw-register: a transaction's write of a key follows its own read of it.
    pub wfr_keys: bool,
    /// Limits on time and memory.
    pub budget: TxnBudget,
    /// Also report reads of values no transaction wrote (Plume's ThinAirRead). Off by
    /// default, as in Elle, whose histories may read values written outside the history.
    pub garbage_reads: bool,
}

impl Default for TxnOptions {
    fn default() -> TxnOptions {
        TxnOptions {
            model: TxnModel::ListAppend,
            consistency_models: vec![],
            linearizable_keys: false,
            sequential_keys: false,
            wfr_keys: false,
            budget: TxnBudget::default(),
            garbage_reads: false,
        }
    }
}

/// The checker's verdict and each model's.
#[derive(Debug, Clone, PartialEq)]
pub struct TxnReport {
    /// Invalid with one anomaly per violation of a judged model; counts in `details`.
    pub result: CheckerResult,
    /// Every judged model with held (valid), failed (invalid) or unknown, strongest first.
    pub models: Vec<(String, Validity)>,
}

/// Checks a transactional history.
pub fn check(history: &History, opts: &TxnOptions) -> TxnReport {
    let meter = Meter::new(opts.budget);
    let judged: Vec<String> = if opts.consistency_models.is_empty() {
        models::MODELS.iter().map(|m| m.to_string()).collect()
    } else {
        opts.consistency_models.clone()
    };
    if let Some(bad) = judged.iter().find(|m| !models::MODELS.contains(&m.as_str())) {
        let reason =
            format!("unknown consistency model '{bad}': expected one of {}", models::MODELS.join(", "));
        return unknown_everywhere(&judged, reason);
    }
    let shape = match opts.model {
        TxnModel::ListAppend => ReadShape::List,
        TxnModel::RwRegister => ReadShape::Register,
    };
    let tx = match Transactions::collect(history, shape) {
        Ok(tx) => tx,
        Err(e) => return unknown_everywhere(&judged, format!("not a transactional history: {e}")),
    };
    if tx.txns.is_empty() {
        return unknown_everywhere(
            &judged,
            "the history has no transactions (ops with f = txn) to judge".into(),
        );
    }
    let collected = meter.elapsed();
    let inference = match opts.model {
        TxnModel::ListAppend => list_append::infer(&tx, &meter, opts.garbage_reads),
        TxnModel::RwRegister => rw_register::infer(
            &tx,
            &meter,
            rw_register::Assumptions {
                wfr: opts.wfr_keys,
                sequential: opts.sequential_keys,
                linearizable: opts.linearizable_keys,
            },
            opts.garbage_reads,
        ),
    };
    let (mut found, search, keys, edge_count, stopped, inferred) = match inference {
        Ok(inf) => {
            let inferred = meter.elapsed();
            let mut edges = inf.edges;
            order::process_edges(&tx, &mut edges);
            order::realtime_edges(&tx, &mut edges);
            let n_edges = edges.len();
            match meter.memory(n_edges as u64 * list_append::EDGE_BYTES, "the dependency graph") {
                Ok(()) => {
                    let g = graph::Graph::build(tx.txns.len(), edges);
                    let say = Narrator { tx: &tx };
                    let search = cycles::search(&g, &say, &meter);
                    let stopped = search.stopped.clone();
                    (inf.found, Some(search), inf.keys, n_edges, stopped, inferred)
                }
                Err(Exhausted(why)) => (inf.found, None, inf.keys, n_edges, Some(why), inferred),
            }
        }
        Err(Exhausted(why)) => (vec![], None, 0, 0, Some(why), meter.elapsed()),
    };
    let decided = search.as_ref().map(|s| s.decided);
    let stats = json!({
        "transactions": tx.txns.len(),
        "keys": keys,
        "edges": edge_count,
        "largest_scc": search.as_ref().map_or(0, |s| s.largest_scc),
        "cyclic_sccs": search.as_ref().map_or(0, |s| s.cyclic_sccs),
        "seconds": { "collect": collected, "infer": inferred, "total": meter.elapsed() },
    });
    found.extend(search.map(|s| s.found).unwrap_or_default());
    report::assemble(report::Run { tx: &tx, judged: &judged, found, decided, stopped, stats })
}

fn unknown_everywhere(judged: &[String], reason: String) -> TxnReport {
    TxnReport {
        result: CheckerResult::unknown(reason).with_details(Value::Null),
        models: judged.iter().map(|m| (m.clone(), Validity::Unknown)).collect(),
    }
}
