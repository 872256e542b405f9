//! Chooses the checkers a history is judged by and composes their results into
//! `results.json`. `sunder run` and `sunder check` both come here, so a stored run re-checked
//! later gets the same verdict.
//!
//! A register/kv history is judged by linearizability (kv model, per key) and the whole
//! consistency-model ladder below it. Other histories are judged by the checker `--model`
//! names: a linearizability model, or one of Jepsen's invariant checkers.

use anyhow::{Result, bail};
use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;
use sunder_check::history::History;
use sunder_check::import::FailSemantics;
use sunder_check::ladder::{self, LadderBudget, register::RegisterHistory};
use sunder_check::linearizable::{self, Budget, ModelKind};
use sunder_check::sequential::SearchBudget;
use sunder_check::verdict::{CheckerResult, Results, Validity};
use sunder_check::{bank, counter, set_full, unique_ids};

/// How much time the search-based checkers may spend, each.
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

/// What `--model` asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Judgement {
    /// Linearizability (kv) and the whole ladder: Sunder's register workload.
    Register,
    /// Linearizability against one model (plus the ladder for register-like models).
    Linearizable(ModelKind),
    /// Jepsen's bank invariants.
    Bank,
    /// Jepsen's set checker.
    Set,
    /// Jepsen's set-full checker.
    SetFull,
    /// Jepsen's counter checker.
    Counter,
    /// Jepsen's unique-ids checker.
    UniqueIds,
}

impl FromStr for Judgement {
    type Err = String;

    /// `bank`, `set`, `set-full`, `counter`, `unique-ids` are invariant checkers; any
    /// linearizability model name (`cas-register 0`, `kv`, `mutex`, ...) checks
    /// linearizability; `linearizable:MODEL` forces the linearizability reading of a name
    /// both share (`linearizable:set`, `linearizable:counter`).
    fn from_str(s: &str) -> Result<Judgement, String> {
        Ok(match s.trim() {
            "bank" => Judgement::Bank,
            "set" => Judgement::Set,
            "set-full" => Judgement::SetFull,
            "counter" => Judgement::Counter,
            "unique-ids" => Judgement::UniqueIds,
            other => {
                let model = other.strip_prefix("linearizable:").unwrap_or(other);
                Judgement::Linearizable(ModelKind::from_str(model).map_err(|e| {
                    format!("{e}; or an invariant checker: bank, set, set-full, counter, unique-ids")
                })?)
            }
        })
    }
}

/// The judgement a workload's histories get.
pub fn for_workload(workload: &str) -> Result<Judgement> {
    match workload {
        "register" => Ok(Judgement::Register),
        other => bail!("no checker is known for workload {other:?}"),
    }
}

/// Judges `history` as asked; `fail_semantics` says how its source's `fail` ops read.
pub fn judge(
    history: &History,
    judgement: &Judgement,
    fail_semantics: FailSemantics,
    limits: Limits,
) -> Results {
    let mut checkers = BTreeMap::new();
    let stats = sunder_check::stats::check(history);
    let stats_details = stats.details.clone();
    checkers.insert("stats".to_string(), stats);
    let lin_budget = Budget { time: Some(limits.time), memory_bytes: limits.memory_bytes };
    let mut ladder_models = vec![];
    let mut extra_models = vec![];
    match judgement {
        Judgement::Register | Judgement::Linearizable(_) => {
            let model = match judgement {
                Judgement::Linearizable(model) => model.clone(),
                _ => ModelKind::Kv,
            };
            let register_like =
                matches!(model, ModelKind::Kv | ModelKind::Register { .. } | ModelKind::CasRegister { .. });
            let lin = linearizable::check(history, model, fail_semantics, &lin_budget);
            ladder_models.push(("linearizable".to_string(), lin.valid));
            checkers.insert("linearizable".to_string(), lin);
            if register_like {
                judge_ladder(history, limits, &mut checkers, &mut ladder_models, &mut extra_models);
            }
        }
        Judgement::Bank => {
            checkers.insert("bank".into(), bank::check(history, &Default::default()));
        }
        Judgement::Set => {
            checkers.insert("set".into(), set_full::check_set(history));
        }
        Judgement::SetFull => {
            checkers.insert("set-full".into(), set_full::check(history, &Default::default()));
        }
        Judgement::Counter => {
            checkers.insert("counter".into(), counter::check(history, &Default::default()));
        }
        Judgement::UniqueIds => {
            checkers.insert("unique-ids".into(), unique_ids::check(history, &Default::default()));
        }
    }
    let mut results = Results::compose(checkers, ladder_models, stats_details);
    results.models.extend(extra_models);
    results
}

/// Runs the ladder when the history is one it applies to (writes unique per key): a foreign
/// history that reuses values is judged by linearizability alone, not marked unknown.
fn judge_ladder(
    history: &History,
    limits: Limits,
    checkers: &mut BTreeMap<String, CheckerResult>,
    ladder_models: &mut Vec<(String, Validity)>,
    extra_models: &mut Vec<(String, Validity)>,
) {
    // The ladder speaks of registers: reads, writes and cas with unique values per key.
    // Porcupine's get/put/append strings, or a foreign history reusing values, are judged by
    // linearizability alone rather than marked unknown.
    let Ok(rh) = RegisterHistory::from_history(history) else { return };
    if rh.ignored > 0 {
        return;
    }
    let budget =
        LadderBudget { sequential: SearchBudget { max_time: limits.time, ..SearchBudget::default() } };
    let linearizable = checkers.get("linearizable").map(|c| c.valid);
    for (model, mut result) in ladder::check_view(history, &rh, &budget) {
        // Linearizability implies every model of the ladder: an undecided weaker model is
        // settled by it (convergence is not implied: it is about the final reads).
        if result.valid == Validity::Unknown
            && linearizable == Some(Validity::Valid)
            && model != "convergence"
        {
            let why = result.reason.take().unwrap_or_default();
            result = CheckerResult {
                valid: Validity::Valid,
                reason: Some(format!("implied by linearizability (its own check: {why})")),
                ..result
            };
        }
        if model == "convergence" {
            extra_models.push((model.clone(), result.valid));
        } else {
            ladder_models.push((model.clone(), result.valid));
        }
        checkers.insert(model, result);
    }
}

/// One line for the terminal: the verdict, and why when it is not valid.
pub fn summary(results: &Results) -> String {
    let mut s = format!("verdict: {}", results.valid.as_str());
    if let Some(r) = &results.reason {
        s += &format!(" ({r})");
    }
    if let Some(m) = &results.strongest_held {
        s += &format!("; strongest model held: {m}");
    }
    if let Some(m) = &results.weakest_failed {
        s += &format!("; weakest model failed: {m}");
    }
    if !results.anomalies.is_empty() {
        s += &format!("; {} anomalies, first: {}", results.anomalies.len(), results.anomalies[0].explanation);
    }
    s
}
