//! What a history is judged by, and the judging itself. A [`Plan`] lists the checkers a
//! history gets, each with its parameters: a workload hands its plan to the harness (a set
//! workload's `set-full`, a counter workload's bounds), `sunder check --model M` builds one
//! from a name, and [`judge`] runs it and composes `results.json` by DESIGN.md's rule. The
//! harness names no workload and no checker: it passes plans through.

use crate::bank::{self, BankSettings};
use crate::causal::memory::CleanViews;
use crate::counter::{self, CounterSettings};
use crate::history::History;
use crate::import::FailSemantics;
use crate::ladder::{self, LadderBudget, register::RegisterHistory};
use crate::linearizable::{self, Budget, ModelKind};
use crate::sequential::SearchBudget;
use crate::set_full::{self, SetFullSettings};
use crate::txn::{self, TxnModel, TxnOptions};
use crate::unique_ids;
use crate::verdict::{CheckerResult, Results, Validity};
use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

/// One checker, with the parameters it needs.
#[derive(Debug, Clone)]
pub enum Check {
    /// Linearizability against a model; for register-like models (kv, register,
    /// cas-register) also every model of the consistency ladder below it.
    Linearizable(ModelKind),
    /// Jepsen's bank invariants.
    Bank(BankSettings),
    /// Jepsen's set checker (a final read holds every acknowledged add).
    Set,
    /// Jepsen's set-full checker (lost, stale and never-read elements).
    SetFull(SetFullSettings),
    /// Jepsen's counter checker (every read within the bounds the adds allow).
    Counter(CounterSettings),
    /// Jepsen's unique-ids checker.
    UniqueIds,
    /// Isolation levels of a transactional history (list-append or rw-register), from the
    /// cycles of its dependency graph; judged under `sunder check`'s time budget.
    Transactions(TxnOptions),
}

/// The checkers one history is judged by.
#[derive(Debug, Clone)]
pub struct Plan {
    /// In the order they run; results are keyed by checker name.
    pub checks: Vec<Check>,
}

impl Plan {
    /// A plan of one checker.
    pub fn one(check: Check) -> Plan {
        Plan { checks: vec![check] }
    }
}

/// The invariant checkers `--model` accepts by name.
pub const INVARIANT_CHECKERS: &[&str] = &["bank", "set", "set-full", "counter", "unique-ids"];

/// The transactional checkers `--model` accepts, each optionally followed by Elle's key
/// assumptions (`linearizable-keys`, `sequential-keys`, `wfr-keys`) and the isolation
/// models to judge (default: all), e.g. `rw-register linearizable-keys` or `list-append
/// serializable`.
pub const TRANSACTIONAL_CHECKERS: &[&str] = &["list-append", "rw-register"];

/// Parses `list-append ...` or `rw-register ...`; `None` when `s` names neither.
fn transactional(s: &str) -> Option<Result<TxnOptions, String>> {
    let mut words = s.split_whitespace();
    let model = match words.next()? {
        "list-append" => TxnModel::ListAppend,
        "rw-register" => TxnModel::RwRegister,
        _ => return None,
    };
    let mut opts = TxnOptions { model, ..TxnOptions::default() };
    for w in words {
        match w.trim_start_matches("--") {
            "linearizable-keys" => opts.linearizable_keys = true,
            "sequential-keys" => opts.sequential_keys = true,
            "wfr-keys" => opts.wfr_keys = true,
            m if txn::models::MODELS.contains(&m) => opts.consistency_models.push(m.to_string()),
            other => {
                return Some(Err(format!(
                    "{other:?} is neither a key assumption (linearizable-keys, sequential-keys, wfr-keys) \
                     nor an isolation model ({})",
                    txn::models::MODELS.join(", ")
                )));
            }
        }
    }
    Some(Ok(opts))
}

impl FromStr for Plan {
    type Err = String;

    /// `bank`, `set`, `set-full`, `counter`, `unique-ids` are invariant checkers with
    /// Jepsen's defaults; any linearizability model name (`cas-register 0`, `kv`, `mutex`,
    /// ...) checks linearizability; `linearizable:MODEL` forces the linearizability reading
    /// of a name both share (`linearizable:set`, `linearizable:counter`).
    fn from_str(s: &str) -> Result<Plan, String> {
        Ok(Plan::one(match s.trim() {
            "bank" => Check::Bank(BankSettings::default()),
            "set" => Check::Set,
            "set-full" => Check::SetFull(SetFullSettings::default()),
            "counter" => Check::Counter(CounterSettings::default()),
            "unique-ids" => Check::UniqueIds,
            other if transactional(other).is_some() => {
                Check::Transactions(transactional(other).expect("just matched")?)
            }
            other => {
                let model = other.strip_prefix("linearizable:").unwrap_or(other);
                Check::Linearizable(ModelKind::from_str(model).map_err(|e| {
                    format!(
                        "{e}; or an invariant checker: {}; or a transactional one: {}",
                        INVARIANT_CHECKERS.join(", "),
                        TRANSACTIONAL_CHECKERS.join(", ")
                    )
                })?)
            }
        }))
    }
}

/// How much the search-based checkers may spend, each.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Wall-clock budget of the linearizability and sequential searches.
    pub time: Duration,
    /// Bytes of linearizability search memo; `None`: the checker's default.
    pub memory_bytes: Option<u64>,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { time: Duration::from_secs(120), memory_bytes: None }
    }
}

/// What a streaming judge decided while the history was written, so that the offline
/// check need not decide it again ([`judge_knowing`]); every part is optional, and the
/// verdicts are the same with it or without it.
#[derive(Debug, Clone, Default)]
pub struct Prejudged {
    /// Processes whose causal-memory views hold no anomaly
    /// ([`crate::live::memory_views`]).
    pub clean_views: Option<CleanViews>,
}

/// Judges `history` by `plan`; `fail_semantics` says how its source's `fail` ops read.
pub fn judge(history: &History, plan: &Plan, fail_semantics: FailSemantics, limits: Limits) -> Results {
    judge_knowing(history, plan, fail_semantics, limits, &Prejudged::default())
}

/// Like [`judge`], told what a streaming judge already decided.
pub fn judge_knowing(
    history: &History,
    plan: &Plan,
    fail_semantics: FailSemantics,
    limits: Limits,
    prejudged: &Prejudged,
) -> Results {
    let mut checkers = BTreeMap::new();
    let stats = crate::stats::check(history);
    let stats_details = stats.details.clone();
    checkers.insert("stats".to_string(), stats);
    let mut models = vec![];
    let mut extra_models = vec![];
    for check in &plan.checks {
        match check {
            Check::Linearizable(model) => {
                let budget = Budget { time: Some(limits.time), memory_bytes: limits.memory_bytes };
                let register_like = matches!(
                    model,
                    ModelKind::Kv | ModelKind::Register { .. } | ModelKind::CasRegister { .. }
                );
                // The ladder's register view does not depend on the search's outcome, so it
                // is built on a second core while the search runs.
                let (lin, view) = std::thread::scope(|scope| {
                    let view = register_like.then(|| scope.spawn(|| RegisterHistory::from_history(history)));
                    let lin = linearizable::check(history, model.clone(), fail_semantics, &budget);
                    (lin, view.map(|v| v.join().expect("the register view's thread panicked")))
                });
                models.push(("linearizable".to_string(), lin.valid));
                let held = lin.valid;
                checkers.insert("linearizable".to_string(), lin);
                if let Some(Ok(rh)) = view {
                    let given =
                        ladder::Implied { linearizable: held, clean_views: prejudged.clean_views.as_ref() };
                    judge_ladder(history, &rh, limits, &given, &mut checkers, &mut models, &mut extra_models);
                }
            }
            Check::Bank(settings) => {
                checkers.insert("bank".into(), bank::check(history, settings));
            }
            Check::Set => {
                checkers.insert("set".into(), per_key(history, set_full::check_set));
            }
            Check::SetFull(settings) => {
                checkers.insert("set-full".into(), per_key(history, |h| set_full::check(h, settings)));
            }
            Check::Counter(settings) => {
                checkers.insert("counter".into(), per_key(history, |h| counter::check(h, settings)));
            }
            Check::UniqueIds => {
                checkers.insert("unique-ids".into(), unique_ids::check(history, &Default::default()));
            }
            Check::Transactions(opts) => {
                let mut opts = opts.clone();
                opts.budget.time = limits.time;
                let report = txn::check(history, &opts);
                let name = match opts.model {
                    TxnModel::ListAppend => "list-append",
                    TxnModel::RwRegister => "rw-register",
                };
                models.extend(report.models);
                checkers.insert(name.into(), report.result);
            }
        }
    }
    let mut results = Results::compose_for(Some(history), checkers, models, stats_details);
    results.models.extend(extra_models);
    results
}

/// Runs a single-object checker on each key's ops on its own, as Jepsen's `independent`
/// checker does, when the history's client ops name more than one key; anomalies keep the
/// history's own op indices. A history with one key (or none) is checked whole.
fn per_key(history: &History, check: impl Fn(&History) -> CheckerResult) -> CheckerResult {
    let mut by_key: BTreeMap<&str, Vec<crate::history::Op>> = BTreeMap::new();
    for op in history.ops().iter().filter(|o| !o.is_nemesis()) {
        by_key.entry(op.key.as_deref().unwrap_or("")).or_default().push(op.clone());
    }
    if by_key.len() <= 1 {
        return check(history);
    }
    compose_keys(by_key.into_iter().map(|(key, ops)| {
        // Each key's ops are a subsequence of a validated history, so they pair up again.
        let result = match History::new(ops, crate::history::Strictness::Lenient) {
            Ok(sub) => check(&sub),
            Err(v) => CheckerResult::unknown(format!("key {key}: {v}")),
        };
        (key.to_string(), result)
    }))
}

/// One result from each key's own, in key order, as [`per_key`] gives it for a history of
/// more than one key (the streaming judge gives it the same way).
pub(crate) fn compose_keys(results: impl IntoIterator<Item = (String, CheckerResult)>) -> CheckerResult {
    let mut valid = Validity::Valid;
    let mut anomalies = vec![];
    let mut reasons = vec![];
    let mut details = serde_json::Map::new();
    let mut applicable = false;
    for (key, result) in results {
        if result.not_applicable {
            continue;
        }
        applicable = true;
        valid = valid.and(result.valid);
        if let Some(r) = &result.reason
            && result.valid == Validity::Unknown
        {
            reasons.push(format!("key {key}: {r}"));
        }
        anomalies.extend(result.anomalies);
        details.insert(
            key,
            serde_json::json!({ "valid": result.valid, "reason": result.reason, "details": result.details }),
        );
    }
    if !applicable {
        return CheckerResult::not_applicable("no key of the history has the ops this checker needs");
    }
    let result = match valid {
        Validity::Valid => CheckerResult::valid(),
        Validity::Invalid => CheckerResult::invalid(anomalies),
        Validity::Unknown => CheckerResult::unknown(reasons.join("; ")),
    };
    result.with_details(serde_json::json!({ "keys": details }))
}

/// Runs the ladder when the history is one it applies to (writes unique per key): a foreign
/// history that reuses values is judged by linearizability alone, not marked unknown.
fn judge_ladder(
    history: &History,
    rh: &RegisterHistory,
    limits: Limits,
    implied: &ladder::Implied,
    checkers: &mut BTreeMap<String, CheckerResult>,
    models: &mut Vec<(String, Validity)>,
    extra_models: &mut Vec<(String, Validity)>,
) {
    // The ladder speaks of registers: reads, writes and cas with unique values per key.
    // Porcupine's get/put/append strings, or a foreign history reusing values, are judged by
    // linearizability alone rather than marked unknown.
    if rh.ignored > 0 {
        return;
    }
    let budget =
        LadderBudget { sequential: SearchBudget { max_time: limits.time, ..SearchBudget::default() } };
    // Linearizability implies every model of the ladder (not convergence, which is about the
    // final reads): when it held, they are settled by it rather than searched for again.
    for (model, result) in ladder::check_view_given(history, rh, &budget, implied) {
        if result.not_applicable {
            // Judged nothing: listed among the checkers with its reason, not among the models.
        } else if model == "convergence" {
            extra_models.push((model.clone(), result.valid));
        } else {
            models.push((model.clone(), result.valid));
        }
        checkers.insert(model, result);
    }
}
