//! The paragraph a report opens with, generated from `results.json` alone: which models held
//! and which failed, the one anomaly that best shows the strongest failure, how many
//! distinct anomalies of which kinds, and when they came relative to the faults and which
//! nodes served them. `report.html` and `summary.md` print the same sentences; they are
//! plain text (untrusted values included), so each caller escapes them for its format.

use crate::page::model_ladder;
use sunder_check::distinct::{BEFORE_ANY_FAULT, NO_FAULT_INJECTED};
use sunder_check::verdict::{Anomaly, Results, Validity};

/// Kinds named in the paragraph at most; the rest are "other kinds".
const KINDS_NAMED: usize = 4;

/// The opening paragraph and the anomaly it points to.
#[derive(Debug, Clone, PartialEq)]
pub struct Story {
    /// Sentences, each ending with a full stop; plain text to be escaped.
    pub sentences: Vec<String>,
    /// Position in `results.anomalies` of the anomaly that best shows the strongest failure.
    pub witness: Option<usize>,
}

impl Story {
    /// The sentences as one paragraph.
    pub fn paragraph(&self) -> String {
        self.sentences.join(" ")
    }
}

fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Tells the story of `results`.
pub fn tell(results: &Results) -> Story {
    let mut sentences = vec![];
    let ladder: Vec<&str> = model_ladder(&results.models)
        .into_iter()
        .filter(|m| results.models.contains_key(*m) && *m != "convergence")
        .collect();
    let with = |v: Validity| -> Vec<String> {
        ladder.iter().filter(|m| results.models[**m] == v).map(|m| m.to_string()).collect()
    };
    let (failed, held) = (with(Validity::Invalid), with(Validity::Valid));
    match results.valid {
        Validity::Valid => {
            sentences.push(match held.first() {
                Some(m) => format!(
                    "The run is valid: every checker found the history valid, and the strongest model judged, {m}, held."
                ),
                None => "The run is valid: every checker found the history valid.".to_string(),
            });
            return Story { sentences, witness: None };
        }
        Validity::Unknown => {
            sentences.push(format!(
                "The run could not be decided: {}.",
                results.reason.as_deref().unwrap_or("no reason given").trim_end_matches('.')
            ));
        }
        Validity::Invalid => {
            let failed_checkers: Vec<String> = results
                .checkers
                .iter()
                .filter(|(name, c)| c.valid == Validity::Invalid && !results.models.contains_key(*name))
                .map(|(name, _)| name.clone())
                .collect();
            let mut s = match failed.split_first() {
                Some((strongest, [])) => format!("The run is invalid: {strongest} failed"),
                Some((strongest, rest)) => format!(
                    "The run is invalid: {strongest} failed, and so did {} weaker model{} ({})",
                    rest.len(),
                    if rest.len() == 1 { "" } else { "s" },
                    and_list(rest)
                ),
                None => "The run is invalid".to_string(),
            };
            if !failed_checkers.is_empty() {
                s += &format!(
                    "{} the {} check{} failed",
                    if failed.is_empty() { ":" } else { ";" },
                    and_list(&failed_checkers),
                    if failed_checkers.len() == 1 { "" } else { "s" }
                );
            }
            s += &match held.first() {
                Some(m) => format!("; the strongest model that held is {m}."),
                None if !failed.is_empty() => "; no model judged held.".to_string(),
                None => ".".to_string(),
            };
            sentences.push(s);
        }
    }
    let witness = (!results.anomalies.is_empty()).then_some(0);
    if let Some(a) = witness.map(|i| &results.anomalies[i]) {
        sentences.push(format!(
            "The clearest witness is anomaly 1, {} ({}, found by {}): {}",
            display_name(a),
            a.kind,
            checker_of(a),
            ensure_stop(&a.explanation)
        ));
    }
    if let Some(s) = kinds_sentence(results) {
        sentences.push(s);
    }
    sentences.extend(fault_sentence(results));
    sentences.extend(node_sentence(results));
    Story { sentences, witness }
}

fn display_name(a: &Anomaly) -> String {
    if a.name.is_empty() { sunder_check::anomaly_names::describe(&a.kind).name } else { a.name.clone() }
}

fn checker_of(a: &Anomaly) -> &str {
    match a.checker() {
        "" => "a checker",
        c => c,
    }
}

fn ensure_stop(s: &str) -> String {
    let s = s.trim();
    if s.ends_with('.') { s.to_string() } else { format!("{s}.") }
}

/// "5 distinct anomalies (161 reported, repeats included): 3 of kind X, ...".
fn kinds_sentence(results: &Results) -> Option<String> {
    let c = &results.anomaly_counts;
    // Results written before anomalies were made distinct carry no counts.
    let (distinct, found) = if c.found > 0 {
        (c.distinct, c.found)
    } else {
        (results.anomalies.len() as u64, results.anomalies.len() as u64)
    };
    if distinct == 0 {
        return None;
    }
    let mut kinds: Vec<(String, u64)> = vec![];
    if c.by_kind.is_empty() {
        for a in &results.anomalies {
            add_kind(&mut kinds, display_name(a), 1);
        }
    } else {
        for k in &c.by_kind {
            let name = if k.name.is_empty() { k.kind.clone() } else { k.name.clone() };
            add_kind(&mut kinds, name, k.distinct);
        }
    }
    let mut named: Vec<String> =
        kinds.iter().take(KINDS_NAMED).map(|(name, n)| format!("{n} × {name}")).collect();
    let rest: u64 = kinds.iter().skip(KINDS_NAMED).map(|(_, n)| n).sum();
    if rest > 0 {
        named.push(format!("{rest} of other kinds"));
    }
    let repeats =
        if found > distinct { format!(" ({found} reported, repeats included)") } else { String::new() };
    // A weaker model's checker often proves its failure with the very ops a stronger one
    // did; say so, or the kinds look more numerous than the bugs behind them.
    let shared = if results.anomalies.iter().any(|a| !a.also_in.is_empty()) {
        "; the same ops failing several models count once per model"
    } else {
        ""
    };
    Some(format!(
        "{}{repeats}: {}{shared}.",
        plural(distinct, "distinct anomaly", "distinct anomalies"),
        and_list(&named)
    ))
}

fn add_kind(kinds: &mut Vec<(String, u64)>, name: String, n: u64) {
    match kinds.iter_mut().find(|(k, _)| *k == name) {
        Some((_, c)) => *c += n,
        None => kinds.push((name, n)),
    }
}

/// When the anomalies came: before any fault, inside which windows, or with no fault at all.
fn fault_sentence(results: &Results) -> Option<String> {
    let rows = &results.anomaly_counts.by_fault;
    let count = |label: &str| rows.iter().find(|r| r.label == label).map(|r| r.anomalies);
    if let Some(n) = count(NO_FAULT_INJECTED) {
        return Some(format!(
            "No fault was injected, so all {} came from the system on its own.",
            plural(n, "anomaly", "anomalies")
        ));
    }
    let first = results.faults.first()?;
    let found = results.anomaly_counts.found;
    let before = count(BEFORE_ANY_FAULT).unwrap_or(0);
    let inside: Vec<String> = results
        .faults
        .iter()
        .filter_map(|w| count(&w.id).filter(|n| *n > 0).map(|n| format!("{n} during {} ({})", w.id, w.name)))
        .collect();
    let mut s = if before > 0 {
        format!(
            "{} of {found} began and ended before any fault (the first, {} {}, began at {:.1} s), so the fault handling alone does not explain them",
            before, first.id, first.name, first.start_s
        )
    } else {
        format!(
            "None of the {found} came before the first fault ({} {}, from {:.1} s)",
            first.id, first.name, first.start_s
        )
    };
    if !inside.is_empty() {
        s += &format!("; {}", and_list(&inside));
    }
    s.push('.');
    Some(s)
}

/// Which nodes served the anomalies' ops, when one stands out.
fn node_sentence(results: &Results) -> Option<String> {
    let nodes = &results.anomaly_counts.by_node;
    let found = results.anomaly_counts.found;
    let top = nodes.iter().max_by_key(|n| n.anomalies)?;
    if nodes.len() == 1 {
        return Some(format!("Every op the clients recorded a node for was served by {}.", top.label));
    }
    let mut sorted: Vec<_> = nodes.iter().collect();
    sorted.sort_by(|a, b| b.anomalies.cmp(&a.anomalies).then(a.label.cmp(&b.label)));
    let listed: Vec<String> = sorted.iter().take(3).map(|n| format!("{} {}", n.label, n.anomalies)).collect();
    Some(format!(
        "By node serving their ops (an anomaly counts once for each node it involves, of {found}): {}.",
        listed.join(", ")
    ))
}
