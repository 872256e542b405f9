//! The linearizability checker. [`check`] compiles a history's client calls into the ops of
//! a sequential model ([`ModelKind`]), splits them into independent partitions (one per
//! key for keyed models: P-compositionality), settles each register partition's crashed
//! writes and tries to build its linearization outright (`crashed`, `construct`), searches
//! the partitions still undecided in parallel (see [`search`]), and turns the outcome into
//! a [`CheckerResult`]: valid, invalid with a
//! witness the report can draw, or unknown with the budget that ran out and the
//! partitions that were decided. `docs/linearizability.md` describes the method.

mod construct;
mod crashed;
pub mod generate;
mod memo;
pub mod model;
pub mod models;
mod refute;
pub mod search;

pub use crate::import::FailSemantics;

use crate::history::{History, OpType};
use crate::verdict::{Anomaly, CheckerResult};
use model::{Call, Compiled, Model, Outcome};
use models::*;
use search::{Control, Decision, Entry, Search, Searched, StopReason};
use serde_json::{Value, json};
use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Memo bytes allowed when a budget sets no memory limit of its own.
pub const DEFAULT_MEMORY_BYTES: u64 = 1 << 30;

/// Limits on one check; when one is exceeded the verdict is `unknown`, never a crash.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Budget {
    /// Wall-clock time for the whole check.
    pub time: Option<Duration>,
    /// Bytes of search memo (all partitions together); `None` means
    /// [`DEFAULT_MEMORY_BYTES`], so a check can never exhaust memory.
    pub memory_bytes: Option<u64>,
}

/// The sequential specification to check against, as named by `--model`. Register models
/// take an optional initial value in Knossos's notation (`cas-register 0`); giving one also
/// selects Knossos's reading of a `nil` read result as "not observed".
#[derive(Debug, Clone, PartialEq)]
pub enum ModelKind {
    /// Read/write register, one per key.
    Register {
        /// Initial value (Knossos notation); `None`: null, Sunder's reading.
        initial: Option<Value>,
    },
    /// Read/write/cas register, one per key.
    CasRegister {
        /// Initial value (Knossos notation); `None`: null, Sunder's reading.
        initial: Option<Value>,
    },
    /// A register per key: Sunder's read/write/cas, or Porcupine's get/put/append on
    /// strings (chosen by the ops present).
    Kv,
    /// Knossos's multi-register transactions.
    MultiRegister {
        /// Initial values, a map key -> value; absent keys start at null.
        initial: Option<Value>,
    },
    /// Grow-only set.
    Set,
    /// FIFO queue.
    FifoQueue,
    /// Counter.
    Counter,
    /// Lock.
    Mutex,
}

impl ModelKind {
    /// The model's name as given to `--model`.
    pub fn name(&self) -> &'static str {
        match self {
            ModelKind::Register { .. } => "register",
            ModelKind::CasRegister { .. } => "cas-register",
            ModelKind::Kv => "kv",
            ModelKind::MultiRegister { .. } => "multi-register",
            ModelKind::Set => "set",
            ModelKind::FifoQueue => "fifo-queue",
            ModelKind::Counter => "counter",
            ModelKind::Mutex => "mutex",
        }
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let initial = match self {
            ModelKind::Register { initial }
            | ModelKind::CasRegister { initial }
            | ModelKind::MultiRegister { initial } => initial.as_ref(),
            _ => None,
        };
        match initial {
            Some(v) => write!(f, "{} {v}", self.name()),
            None => f.write_str(self.name()),
        }
    }
}

impl FromStr for ModelKind {
    type Err = String;

    /// `cas-register`, `cas-register 0`, `(cas-register 0)`, `multi-register {:x 0 :y 0}`.
    fn from_str(s: &str) -> Result<ModelKind, String> {
        let s = s.trim();
        let s = s.strip_prefix('(').and_then(|t| t.strip_suffix(')')).unwrap_or(s).trim();
        let (name, rest) = match s.find([' ', '=']) {
            Some(at) => (&s[..at], s[at + 1..].trim()),
            None => (s, ""),
        };
        let initial = if rest.is_empty() {
            None
        } else {
            Some(
                crate::import::read_one(rest)
                    .map_err(|e| format!("bad initial value '{rest}': {}", e.problem))?,
            )
        };
        let plain = |kind: ModelKind| match initial {
            Some(_) => Err(format!("model {name} takes no initial value")),
            None => Ok(kind),
        };
        match name {
            "register" => Ok(ModelKind::Register { initial }),
            "cas-register" => Ok(ModelKind::CasRegister { initial }),
            "multi-register" => Ok(ModelKind::MultiRegister { initial }),
            "kv" => plain(ModelKind::Kv),
            "set" => plain(ModelKind::Set),
            "fifo-queue" | "queue" => plain(ModelKind::FifoQueue),
            "counter" => plain(ModelKind::Counter),
            "mutex" => plain(ModelKind::Mutex),
            other => Err(format!(
                "unknown model '{other}': expected register, cas-register, kv, multi-register, set, fifo-queue, counter or mutex"
            )),
        }
    }
}

/// Checks that `history` is linearizable with respect to `model`, reading `fail` ops as
/// `fail_semantics` says, within `budget`.
pub fn check(
    history: &History,
    model: ModelKind,
    fail_semantics: FailSemantics,
    budget: &Budget,
) -> CheckerResult {
    let name = model.to_string();
    let result = match model {
        ModelKind::Register { initial } => {
            run(history, RegisterModel::new(initial.as_ref(), false), fail_semantics, budget, settle_register)
        }
        ModelKind::CasRegister { initial } => {
            run(history, RegisterModel::new(initial.as_ref(), true), fail_semantics, budget, settle_register)
        }
        ModelKind::Kv if has_string_kv_ops(history) => {
            run(history, StringKvModel::default(), fail_semantics, budget, settle_nothing)
        }
        ModelKind::Kv => {
            run(history, RegisterModel::new(None, true), fail_semantics, budget, settle_register)
        }
        ModelKind::MultiRegister { initial } => match MultiRegisterModel::new(initial.as_ref()) {
            Ok(m) => run(history, m, fail_semantics, budget, settle_nothing),
            Err(e) => CheckerResult::unknown(format!("cannot check: {e}")),
        },
        ModelKind::Set => run(history, SetModel::default(), fail_semantics, budget, settle_nothing),
        ModelKind::FifoQueue => {
            run(history, FifoQueueModel::default(), fail_semantics, budget, settle_nothing)
        }
        ModelKind::Counter => run(history, CounterModel, fail_semantics, budget, settle_nothing),
        ModelKind::Mutex => run(history, MutexModel, fail_semantics, budget, settle_nothing),
    };
    let mut details = match result.details {
        Value::Object(m) => m,
        _ => Default::default(),
    };
    details.insert("model".into(), Value::String(name));
    CheckerResult { details: Value::Object(details), ..result }
}

/// Settles a register partition's crashed writes before its search (see [`crashed`]), then
/// tries to build its linearization directly (see [`construct`]).
fn settle_register(model: &RegisterModel, partition: &mut Partition<RegisterOp>) -> crashed::Settled {
    let mut settled = crashed::settle(model.init(), &mut partition.entries);
    settled.constructed = construct::linearizable(model, &partition.entries);
    if !settled.constructed {
        settled.refuted = refute::refute(model.init(), &partition.entries);
    }
    settled
}

/// How long the search may still look for its own witness once a partition is proved not
/// linearizable without one (`refute`): the verdict is certain, and the search's witness
/// (the longest linearizable prefix) is only the richer account.
const SEARCH_AFTER_REFUTATION: std::time::Duration = std::time::Duration::from_millis(250);

/// Models whose crashed ops are searched as they are.
fn settle_nothing<M: Model>(_: &M, _: &mut Partition<M::Op>) -> crashed::Settled {
    crashed::Settled::default()
}

fn has_string_kv_ops(history: &History) -> bool {
    history.ops().iter().any(|op| !op.is_nemesis() && matches!(op.f.as_str(), "get" | "put" | "append"))
}

/// One partition: its key and its entries. An entry's completion op (an `info` one
/// included, which the entry's `ret` is not), for the witness, is its call's partner in
/// the history ([`completion_index`]).
struct Partition<O> {
    key: Option<crate::history::Name>,
    entries: Vec<Entry<O>>,
}

/// The history index of entry `e`'s completion, if its call completed.
fn completion_index<O>(history: &History, partition: &Partition<O>, e: usize) -> Option<u64> {
    history.partner(partition.entries[e].call).map(|p| history.ops()[p].index)
}

fn compile<M: Model>(
    history: &History,
    model: &mut M,
    fail_semantics: FailSemantics,
) -> Result<Vec<Partition<M::Op>>, String> {
    let ops = history.ops();
    let mut partitions: Vec<Partition<M::Op>> = Vec::new();
    let mut by_key: rustc_hash::FxHashMap<Option<crate::history::Name>, usize> = Default::default();
    // Each partition sized once from its calls by key (the register models key a call by
    // its op's key): grown by doubling, the vectors of a run of millions of calls would
    // hold up to twice their size while the register view and the search run beside them.
    // A model that keys calls otherwise grows its partitions as they come.
    let mut calls_by_key: rustc_hash::FxHashMap<Option<&str>, usize> = Default::default();
    for (inv, _) in history.client_calls() {
        *calls_by_key.entry(ops[inv].key.as_deref()).or_default() += 1;
    }
    let calls_of = |key: &Option<crate::history::Name>| match key {
        Some(k) => calls_by_key.get(&Some(k.as_str())).copied().unwrap_or(0),
        None if calls_by_key.len() == 1 => calls_by_key.values().sum(),
        None => calls_by_key.get(&None).copied().unwrap_or(0),
    };
    for (inv, comp) in history.client_calls() {
        let completion = comp.map(|c| &ops[c]);
        let outcome = match completion {
            Some(c) if c.kind == OpType::Ok => Outcome::Ok(&c.value),
            Some(c) if c.kind == OpType::Fail => match fail_semantics {
                FailSemantics::NotApplied => continue,
                FailSemantics::CasMismatch => Outcome::Fail,
            },
            _ => Outcome::Unknown,
        };
        let call = Call { invoke: &ops[inv], completion, outcome };
        let (key, op) = match model.compile(&call).map_err(|p| format!("op {}: {p}", ops[inv].index))? {
            Compiled::Skip => continue,
            Compiled::Op { key, op } => (key, op),
        };
        let ret = match outcome {
            Outcome::Unknown => usize::MAX,
            _ => comp.unwrap_or(usize::MAX),
        };
        let at = *by_key.entry(key.clone()).or_insert_with(|| {
            let calls = calls_of(&key);
            partitions.push(Partition { key, entries: Vec::with_capacity(calls) });
            partitions.len() - 1
        });
        partitions[at].entries.push(Entry { op, call: inv, ret });
    }
    Ok(partitions)
}

fn run<M: Model>(
    history: &History,
    mut model: M,
    fail_semantics: FailSemantics,
    budget: &Budget,
    settle: impl Fn(&M, &mut Partition<M::Op>) -> crashed::Settled,
) -> CheckerResult {
    let started = Instant::now();
    let mut partitions = match compile(history, &mut model, fail_semantics) {
        Ok(p) => p,
        Err(e) => return CheckerResult::unknown(format!("cannot check: {e}")),
    };
    let mut settled = crashed::Settled::default();
    let mut constructed = vec![false; partitions.len()];
    let mut refuted = vec![None; partitions.len()];
    for ((partition, constructed), refuted) in partitions.iter_mut().zip(&mut constructed).zip(&mut refuted) {
        let s = settle(&model, partition);
        settled.bounded += s.bounded;
        settled.dropped += s.dropped;
        *constructed = s.constructed;
        *refuted = s.refuted;
    }
    let memory_limit = budget.memory_bytes.unwrap_or(DEFAULT_MEMORY_BYTES);
    let mut deadline = budget.time.map(|t| started + t);
    if refuted.iter().any(Option::is_some) {
        let soon = Instant::now() + SEARCH_AFTER_REFUTATION;
        deadline = Some(deadline.map_or(soon, |d| d.min(soon)));
    }
    let control = Control::new(deadline, Some(memory_limit));
    let results = search_all(&model, &partitions, &constructed, &control);

    let total_ops: usize = partitions.iter().map(|p| p.entries.len()).sum();
    let decided = results.iter().filter(|r| !matches!(r.decision, Decision::Stopped(_))).count();
    let memo_entries: usize = results.iter().map(|r| r.memo_entries).sum();
    let mut details = json!({
        "partitions": partitions.len(),
        "decided": decided,
        "ops": total_ops,
        "memo_entries": memo_entries,
        "crashed_writes_bounded": settled.bounded,
        "crashed_writes_dropped": settled.dropped,
        "constructed": constructed.iter().filter(|c| **c).count(),
        "refuted": refuted.iter().filter(|r| r.is_some()).count(),
    });

    // The witness comes from the invalid partition that starts earliest in the history among
    // those decided by the round that found one, a set thread timing does not change.
    let invalid = (0..partitions.len())
        .filter(|&i| results[i].decision == Decision::Nonlinearizable)
        .min_by_key(|&i| partitions[i].entries.first().map(|e| e.call));
    if let Some(i) = invalid {
        let mut anomaly =
            witness(history, &model, &partitions[i], results[i].best_depth, deadline, memory_limit);
        if let Some(r) = refuted[i].filter(|_| anomaly.witness.is_null()) {
            // The search's second pass ran out of time for its prefix: the proof says more.
            anomaly = refutation_anomaly(history, &model, &partitions[i], &r);
        }
        details["invalid_partition"] = json!(partitions[i].key);
        return CheckerResult::invalid(vec![anomaly]).with_details(details);
    }
    // No search finished with a witness in time, but a partition is proved not
    // linearizable: the one that starts earliest in the history says why.
    let proved = (0..partitions.len())
        .filter_map(|i| refuted[i].map(|r| (i, r)))
        .min_by_key(|(i, _)| partitions[*i].entries.first().map(|e| e.call));
    if let Some((i, r)) = proved {
        let anomaly = refutation_anomaly(history, &model, &partitions[i], &r);
        details["invalid_partition"] = json!(partitions[i].key);
        details["decided_by"] = json!("real-time refutation");
        return CheckerResult::invalid(vec![anomaly]).with_details(details);
    }
    let stopped: Vec<&Option<crate::history::Name>> = (0..partitions.len())
        .filter(|&i| matches!(results[i].decision, Decision::Stopped(_)))
        .map(|i| &partitions[i].key)
        .collect();
    if stopped.is_empty() {
        return CheckerResult::valid().with_details(details);
    }
    let why = match control.stopped() {
        Some(StopReason::Time) => format!(
            "the time budget of {:.1} s ran out",
            budget.time.map(|t| t.as_secs_f64()).unwrap_or_default()
        ),
        _ => format!("the memory budget of {} MiB of search memo ran out", memory_limit >> 20),
    };
    details["undecided_partitions"] = json!(stopped.iter().take(50).collect::<Vec<_>>());
    details["decided_partitions"] = json!(
        (0..partitions.len())
            .filter(|&i| !matches!(results[i].decision, Decision::Stopped(_)))
            .map(|i| &partitions[i].key)
            .take(50)
            .collect::<Vec<_>>()
    );
    CheckerResult::unknown(format!(
        "{why}: {decided} of {} partitions were decided (all linearizable), {} were not",
        partitions.len(),
        stopped.len()
    ))
    .with_details(details)
}

/// Where one partition's search is between rounds.
enum Slot<'a, M: Model> {
    /// Not started.
    Waiting,
    /// Started, undecided.
    Running(Box<Search<'a, M>>),
    /// Decided; its memo is released.
    Done(Searched<M::State>),
}

/// Steps every undecided partition gets in the first round; each later round doubles it.
const FIRST_ROUND_STEPS: u64 = 1 << 14;

/// Searches every partition not already `constructed` on as many threads as there are cores, in rounds: in each
/// round every undecided partition advances by the same number of steps (doubling from
/// round to round, no work is repeated). After a round in which some partition was found
/// not linearizable, the rest are cancelled. Since which partitions are decided after a
/// round does not depend on thread timing, neither does the reported witness.
fn search_all<M: Model>(
    model: &M,
    partitions: &[Partition<M::Op>],
    constructed: &[bool],
    control: &Control,
) -> Vec<Searched<M::State>> {
    // A partition whose linearization was built and verified needs no search.
    let mut undecided: Vec<usize> = (0..partitions.len()).filter(|&i| !constructed[i]).collect();
    // Largest first, so the longest searches start early and the last round is short.
    undecided.sort_by_key(|&i| std::cmp::Reverse(partitions[i].entries.len()));
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let slots: Vec<Mutex<Slot<'_, M>>> = partitions
        .iter()
        .zip(constructed)
        .map(|(p, &built)| {
            Mutex::new(if built {
                Slot::Done(Searched {
                    decision: Decision::Linearizable,
                    best_depth: p.entries.len(),
                    memo_entries: 0,
                    capture: None,
                })
            } else {
                Slot::Waiting
            })
        })
        .collect();
    let mut round_steps = FIRST_ROUND_STEPS;
    while !undecided.is_empty() {
        // A lone partition needs no rounds: nothing else could be reported instead.
        let steps = if undecided.len() == 1 { u64::MAX } else { round_steps };
        let next = AtomicUsize::new(0);
        let work = || {
            while let Some(&i) = undecided.get(next.fetch_add(1, Ordering::Relaxed)) {
                let mut slot = slots[i].lock().unwrap_or_else(|e| e.into_inner());
                let mut search = match std::mem::replace(&mut *slot, Slot::Waiting) {
                    Slot::Running(search) => search,
                    _ => Box::new(Search::new(model, &partitions[i].entries, control, None)),
                };
                // A decided search gives its memo back at once.
                *slot = match search.run(steps) {
                    Some(_) => Slot::Done(search.finish()),
                    None => Slot::Running(search),
                };
            }
        };
        let threads = cores.min(undecided.len());
        if threads <= 1 {
            work();
        } else {
            std::thread::scope(|s| {
                for _ in 0..threads {
                    s.spawn(work);
                }
            });
        }
        let decision = |i: usize| match &*slots[i].lock().unwrap_or_else(|e| e.into_inner()) {
            Slot::Done(searched) => Some(searched.decision),
            _ => None,
        };
        let any_invalid = undecided.iter().any(|&i| decision(i) == Some(Decision::Nonlinearizable));
        undecided.retain(|&i| decision(i).is_none());
        if any_invalid || control.stopped().is_some() {
            break;
        }
        round_steps = round_steps.saturating_mul(2);
    }
    slots
        .into_iter()
        .map(|m| match m.into_inner().unwrap_or_else(|e| e.into_inner()) {
            Slot::Done(searched) => searched,
            Slot::Running(search) => search.finish(),
            Slot::Waiting => Searched {
                decision: Decision::Stopped(control.stopped().unwrap_or(StopReason::Cancelled)),
                best_depth: 0,
                memo_entries: 0,
                capture: None,
            },
        })
        .collect()
}

/// Re-runs the search of an invalid partition to capture its deepest configuration, and
/// describes it. The second pass shares the check's deadline; if it runs out, the anomaly
/// still stands, described without a prefix.
fn witness<M: Model>(
    history: &History,
    model: &M,
    partition: &Partition<M::Op>,
    best_depth: usize,
    deadline: Option<Instant>,
    memory_limit: u64,
) -> Anomaly {
    let ops = history.ops();
    let key = partition.key.as_deref();
    let control = Control::new(deadline, Some(memory_limit));
    let captured = search::search(model, &partition.entries, &control, Some(best_depth)).capture;
    let index = |e: usize| ops[partition.entries[e].call].index;
    let Some(c) = captured else {
        // The second pass ran out of budget: say what is known without the prefix.
        return Anomaly {
            kind: "nonlinearizable".into(),
            explanation: format!(
                "The ops on {} cannot be linearized: at most {best_depth} of its {} ops could be put in an order the model accepts.",
                model::subject(key, "object"),
                partition.entries.len()
            ),
            ops: partition.entries.iter().map(|e| ops[e.call].index).take(20).collect(),
            witness: Value::Null,
            ..Anomaly::default()
        };
    };
    let failed = &partition.entries[c.failed];
    let invoke = &ops[failed.call];
    let state_now = c.states.last().cloned().unwrap_or_else(|| model.init());
    let concurrent = match c.concurrent.len() {
        0 => "no other op was pending then".to_string(),
        1 => "neither order with the one op concurrent with it explains its result".to_string(),
        n => format!("no order of the {n} ops concurrent with it explains its result"),
    };
    let explanation = format!(
        "Process {}'s {} (op {}) cannot be linearized: after the longest linearizable prefix found ({} ops), {}, and {concurrent}.",
        invoke.process,
        model.describe(&failed.op, key),
        invoke.index,
        c.prefix.len(),
        model.describe_state(&state_now, key),
    );
    let describe_entry = |e: usize| entry_json(history, model, partition, e);
    let mut proof = vec![invoke.index];
    proof.extend(completion_index(history, partition, c.failed));
    proof.extend(c.concurrent.iter().map(|&e| index(e)));
    Anomaly {
        kind: "nonlinearizable".into(),
        explanation,
        ops: proof,
        witness: json!({
            "key": key,
            "prefix": c.prefix.iter().map(|&e| index(e)).collect::<Vec<_>>(),
            "states": c.states.iter().map(|s| model.state_json(s)).collect::<Vec<_>>(),
            "failed": invoke.index,
            "concurrent": c.concurrent.iter().map(|&e| index(e)).collect::<Vec<_>>(),
            "initial_state": model.state_json(&model.init()),
            "ops": c.prefix.iter().chain(std::iter::once(&c.failed)).chain(c.concurrent.iter())
                .map(|&e| describe_entry(e)).collect::<Vec<_>>(),
        }),
        ..Anomaly::default()
    }
}

/// One op of a witness, in the model's words, as the report lists it.
fn entry_json<M: Model>(history: &History, model: &M, partition: &Partition<M::Op>, e: usize) -> Value {
    let (ops, entry) = (history.ops(), &partition.entries[e]);
    json!({
        "index": ops[entry.call].index,
        "completion": completion_index(history, partition, e),
        "process": ops[entry.call].process,
        "description": model.describe(&entry.op, partition.key.as_deref()),
    })
}

/// The anomaly of a partition proved not linearizable by a read of an overwritten value.
fn refutation_anomaly<M: Model>(
    history: &History,
    model: &M,
    partition: &Partition<M::Op>,
    r: &refute::Refutation,
) -> Anomaly {
    let ops = history.ops();
    let key = partition.key.as_deref();
    let entry = |e: usize| &partition.entries[e];
    let index = |e: usize| ops[entry(e).call].index;
    let completion = |e: usize| completion_index(history, partition, e);
    let said = |e: usize| format!("{} (op {})", model.describe(&entry(e).op, key), index(e));
    let done = |e: usize| completion(e).map_or_else(|| "its first reader".to_string(), |c| format!("op {c}"));
    let read = &ops[entry(r.read).call];
    let source = match (r.written_by, r.seen_by) {
        (Some(w), Some(s)) if s == w => {
            format!("that value was written by {}, complete at {}; then", said(w), done(w))
        }
        (Some(w), Some(s)) => format!(
            "that value was written by {} and seen by {}, complete at {}; then",
            said(w),
            said(s),
            done(s)
        ),
        _ => "that is the initial value, but".to_string(),
    };
    let explanation = format!(
        "Process {}'s {} (op {}): {source} {} was invoked and completed at {}, before the read was invoked. No op writes the value again, so in every order that respects real time the read comes after the overwrite and cannot return it.",
        read.process,
        model.describe(&entry(r.read).op, key),
        read.index,
        said(r.overwrite),
        done(r.overwrite),
    );
    let mut proof = vec![read.index];
    proof.extend(completion(r.read));
    for e in [Some(r.overwrite), r.written_by, r.seen_by].into_iter().flatten() {
        if !proof.contains(&index(e)) {
            proof.push(index(e));
        }
    }
    let described: Vec<Value> = [r.written_by, r.seen_by, Some(r.overwrite), Some(r.read)]
        .into_iter()
        .flatten()
        .map(|e| entry_json(history, model, partition, e))
        .collect();
    Anomaly {
        kind: "nonlinearizable".into(),
        explanation,
        ops: proof,
        witness: json!({
            "key": key,
            "failed": read.index,
            "concurrent": [],
            "overwritten_by": index(r.overwrite),
            "written_by": r.written_by.map(index),
            "initial_state": model.state_json(&model.init()),
            "ops": described,
        }),
        ..Anomaly::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_model_names_with_knossos_initial_values() {
        assert_eq!("kv".parse::<ModelKind>().unwrap(), ModelKind::Kv);
        assert_eq!(
            "(cas-register 0)".parse::<ModelKind>().unwrap(),
            ModelKind::CasRegister { initial: Some(json!(0)) }
        );
        assert_eq!(
            "multi-register {:x 0 :y 0}".parse::<ModelKind>().unwrap(),
            ModelKind::MultiRegister { initial: Some(json!({"x": 0, "y": 0})) }
        );
        assert!("mutex 3".parse::<ModelKind>().is_err());
        assert!("graph".parse::<ModelKind>().unwrap_err().contains("unknown model"));
    }
}
