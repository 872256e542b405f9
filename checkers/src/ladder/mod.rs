//! The consistency-model ladder for register and kv histories: every model below
//! linearizability that Sunder reports, judged on one extracted [`register::RegisterHistory`],
//! strongest first, plus convergence after the final phase. The linearizability checker
//! lives elsewhere; the harness puts its verdict on top, and tells the ladder of it
//! ([`check_view_given`] with [`Implied`]) so that a linearizable history is not searched
//! again for the models linearizability implies.
//!
//! The models form a partial order (sequential implies causal-convergence and
//! causal-memory, each implies causal, which implies pram and writes-follow-reads; pram
//! implies monotonic-writes, monotonic-reads and read-your-writes). Every checker but
//! `sequential` is polynomial; the sequential search runs beside the causal checks once the
//! session checks hold, its verdict counts only when no causal check disproves it (it is
//! called off as soon as one does), and when it runs out of budget a failed weaker model
//! still settles it as invalid.

pub mod register;

use crate::causal::memory::CleanViews;
use crate::causal::{self, CausalBudget};
use crate::convergence;
use crate::history::History;
use crate::sequential::{self, SearchBudget};
use crate::session;
use crate::verdict::{CheckerResult, Validity};
use register::RegisterHistory;
use std::sync::atomic::{AtomicBool, Ordering};

/// Model names of the ladder in `results.json` order (strongest first), then convergence.
pub const MODELS: [&str; 10] = [
    "sequential",
    "causal-convergence",
    "causal-memory",
    "causal",
    "pram",
    "writes-follow-reads",
    "monotonic-writes",
    "monotonic-reads",
    "read-your-writes",
    "convergence",
];

/// Which models each model implies (directly), for settling and testing implications.
pub const IMPLIES: [(&str, &[&str]); 5] = [
    ("sequential", &["causal-convergence", "causal-memory"]),
    ("causal-convergence", &["causal"]),
    ("causal-memory", &["causal"]),
    ("causal", &["pram", "writes-follow-reads"]),
    ("pram", &["monotonic-writes", "monotonic-reads", "read-your-writes"]),
];

/// The reason of a sequential verdict the search was skipped for.
const NOT_SEARCHED: &str = "not searched: a weaker model already fails";

/// How much work the ladder may spend.
#[derive(Debug, Clone, Copy, Default)]
pub struct LadderBudget {
    /// Limits of the sequential-consistency search (the only non-polynomial check). The
    /// causal checks use [`CausalBudget::default`]'s memory limit.
    pub sequential: SearchBudget,
}

/// Judges every ladder model but `linearizable` on a register/kv history (`f` = read,
/// write or cas, with `key`; a cas value is `[from, to]`; `null` is the initial value).
/// Returns `(model, result)` in [`MODELS`] order. A history whose writes are not unique per
/// key gets `unknown` everywhere, with the reason.
pub fn check_register(history: &History, budget: &LadderBudget) -> Vec<(String, CheckerResult)> {
    match RegisterHistory::from_history(history) {
        Ok(rh) => check_view(history, &rh, budget),
        Err(e) => {
            let reason = format!("not a history with unique writes per key: {}", e.0);
            MODELS.iter().map(|m| (m.to_string(), CheckerResult::unknown(reason.clone()))).collect()
        }
    }
}

/// Verdicts of models above the ladder that the caller already decided. A model a decided
/// stronger one implies is not checked again: its verdict follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Implied<'a> {
    /// The linearizability checker's verdict on the same history. `Valid` implies every
    /// model of the ladder (not convergence, which is about the final reads), so none of
    /// them is checked; `Invalid` and `Unknown` imply nothing below it.
    pub linearizable: Validity,
    /// Processes whose causal-memory views a streaming judge decided clean: the CM check
    /// does not grow them again.
    pub clean_views: Option<&'a CleanViews>,
}

impl Default for Implied<'_> {
    /// Nothing decided: every model is checked.
    fn default() -> Self {
        Implied { linearizable: Validity::Unknown, clean_views: None }
    }
}

/// The reason of a model settled by linearizability without a check of its own.
pub const IMPLIED_BY_LINEARIZABILITY: &str = "implied by linearizability";

/// Like [`check_register`], on a register view the caller already extracted from
/// `history` (so a caller deciding whether the ladder applies builds it only once).
pub fn check_view(
    history: &History,
    rh: &RegisterHistory,
    budget: &LadderBudget,
) -> Vec<(String, CheckerResult)> {
    check_view_given(history, rh, budget, &Implied::default())
}

/// Like [`check_view`], told what is already decided above the ladder: when `implied`
/// says the history is linearizable, every ladder model is `valid` with the reason
/// [`IMPLIED_BY_LINEARIZABILITY`] and `details.implied_by = "linearizable"`, and only
/// convergence is checked, so a linearizable history costs the ladder one pass.
pub fn check_view_given(
    history: &History,
    rh: &RegisterHistory,
    budget: &LadderBudget,
    implied: &Implied<'_>,
) -> Vec<(String, CheckerResult)> {
    if rh.events.is_empty() {
        let reason = format!(
            "no read, write or cas took effect ({} other client ops ignored), so there is nothing to judge",
            rh.ignored
        );
        return MODELS
            .iter()
            .map(|m| (m.to_string(), CheckerResult::not_applicable(reason.clone())))
            .collect();
    }
    if implied.linearizable == Validity::Valid {
        let mut out: Vec<(String, CheckerResult)> = MODELS[..MODELS.len() - 1]
            .iter()
            .map(|m| {
                let mut r =
                    CheckerResult::valid().with_details(serde_json::json!({ "implied_by": "linearizable" }));
                r.reason = Some(IMPLIED_BY_LINEARIZABILITY.to_string());
                (m.to_string(), r)
            })
            .collect();
        out.push(("convergence".to_string(), convergence::check_register(history, rh)));
        return out;
    }
    // The causal family on one thread; the session checks, convergence and then the
    // sequential search on another: they read the view and nothing of each other. The
    // search is the one costly check, and any polynomial check that fails disproves
    // sequential consistency (it implies every other model of the ladder), so it starts
    // only once the session checks hold, and is called off when a causal check fails; its
    // verdict is used only when none failed, so it is the verdict of a search run after
    // them all, reached while the causal checks still run.
    let disproved = AtomicBool::new(false);
    let any_invalid =
        |results: &[(String, CheckerResult)]| results.iter().any(|(_, r)| r.valid == Validity::Invalid);
    let (causal, (sessions, convergence, searched)) = std::thread::scope(|scope| {
        let others = scope.spawn(|| {
            let sessions = session::check_register(rh);
            let convergence = convergence::check_register(history, rh);
            let searched = if any_invalid(&sessions) {
                None
            } else {
                sequential::check_register_unless(rh, &budget.sequential, &disproved)
            };
            (sessions, convergence, searched)
        });
        let causal =
            causal::check_register_knowing(rh, &CausalBudget::default(), implied.clean_views).into_named();
        disproved.fetch_or(any_invalid(&causal), Ordering::Relaxed);
        (causal, others.join().expect("the session checks' and search's thread panicked"))
    });
    let sequential = match searched {
        Some(verdict) if !disproved.into_inner() => verdict,
        _ => CheckerResult::unknown(NOT_SEARCHED),
    };
    let mut out = Vec::with_capacity(MODELS.len());
    out.push(("sequential".to_string(), sequential));
    out.extend(causal);
    out.extend(sessions);
    out.push(("convergence".to_string(), convergence));
    settle_by_implication(&mut out);
    out
}

/// Marks an `unknown` model invalid when a model it implies failed: that failure is a proof
/// against it too. The reason names the failed model and keeps the model's own reason.
pub fn settle_by_implication(results: &mut [(String, CheckerResult)]) {
    // Walk weakest-first so a failure climbs the whole ladder.
    for (strong, weaker) in IMPLIES.iter().rev() {
        let failed = weaker.iter().find_map(|w| {
            results
                .iter()
                .find(|(n, r)| n == w && r.valid == Validity::Invalid)
                .map(|(n, r)| (n.clone(), r.clone()))
        });
        let Some((weak_name, weak)) = failed else { continue };
        if let Some((_, r)) = results.iter_mut().find(|(n, _)| n == strong)
            && r.valid == Validity::Unknown
        {
            let why = r.reason.take().unwrap_or_default();
            let reason = if why.starts_with(NOT_SEARCHED) {
                format!("{weak_name} fails, and {strong} implies it")
            } else {
                format!("{weak_name} fails, and {strong} implies it (its own check: {why})")
            };
            *r = CheckerResult {
                reason: Some(reason),
                details: r.details.take(),
                ..CheckerResult::invalid(weak.anomalies)
            };
        }
    }
}
