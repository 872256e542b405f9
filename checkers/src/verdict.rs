//! What checkers say: a [`Validity`] with the reason when unknown, the anomalies that prove
//! an invalid verdict, and [`Results`], the composition written to `results.json`. The
//! composition rule is DESIGN.md's: any invalid makes the run invalid, else any unknown
//! makes it unknown.

use crate::history::History;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use std::collections::BTreeMap;

/// valid, invalid or unknown; serialized as `true`, `false` or `"unknown"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Validity {
    /// The property held.
    Valid,
    /// The property was violated; anomalies say how.
    Invalid,
    /// Could not be decided (budget, too little data); a reason says why.
    Unknown,
}

impl Validity {
    /// Combines two verdicts: invalid wins over unknown, which wins over valid.
    pub fn and(self, other: Validity) -> Validity {
        use Validity::*;
        match (self, other) {
            (Invalid, _) | (_, Invalid) => Invalid,
            (Unknown, _) | (_, Unknown) => Unknown,
            _ => Valid,
        }
    }

    /// The process exit code for this verdict: 0 valid, 1 invalid, 2 unknown.
    pub fn exit_code(self) -> i32 {
        match self {
            Validity::Valid => 0,
            Validity::Invalid => 1,
            Validity::Unknown => 2,
        }
    }

    /// `valid`, `invalid` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Validity::Valid => "valid",
            Validity::Invalid => "invalid",
            Validity::Unknown => "unknown",
        }
    }
}

impl Serialize for Validity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Validity::Valid => s.serialize_bool(true),
            Validity::Invalid => s.serialize_bool(false),
            Validity::Unknown => s.serialize_str("unknown"),
        }
    }
}

impl<'de> Deserialize<'de> for Validity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Bool(true) => Ok(Validity::Valid),
            Value::Bool(false) => Ok(Validity::Invalid),
            Value::String(s) if s == "unknown" => Ok(Validity::Unknown),
            other => Err(serde::de::Error::custom(format!(
                "validity must be true, false or \"unknown\", got {other}"
            ))),
        }
    }
}

/// One violation, with the smallest set of ops that proves it. Checkers fill `kind`,
/// `explanation`, `ops` and `witness`; composing [`Results`] fills the rest (repeats merged
/// into `count`, look-alikes into `similar`, the plain name, the faults and nodes of its ops)
/// through [`crate::distinct`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Anomaly {
    /// A short machine name, e.g. `stale-read`, `nonlinearizable`, `lost-write`.
    pub kind: String,
    /// One or two plain-English sentences a person can act on.
    pub explanation: String,
    /// History indices (`Op::index`) of the ops that prove it.
    pub ops: Vec<u64>,
    /// Checker-specific data for drawing the witness (e.g. a linearizable prefix).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub witness: Value,
    /// How many times this same anomaly (model, kind and ops) was reported; 1 when once.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub count: u64,
    /// Anomalies of the same model, kind and shape (same processes, functions and keys,
    /// other values) folded under this one: "and N more like it".
    #[serde(default, skip_serializing_if = "is_zero")]
    pub similar: u64,
    /// The op lists of a few of those look-alikes, so a reader can find them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<Vec<u64>>,
    /// Other models whose checkers report the same kind with the same ops (a weaker model's
    /// checker often finds the very anomaly a stronger one did).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_in: Vec<String>,
    /// A name a reader knows, from [`crate::anomaly_names`]; empty until composed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Ids (`F1`, `F2`, ...) of the fault windows in [`Results::faults`] active while any of
    /// its ops ran.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<String>,
    /// Every op of it completed before the first fault began (false when the run had none).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub before_any_fault: bool,
    /// The nodes that served its ops, where the client recorded them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<String>,
}

fn one() -> u64 {
    1
}

fn is_one(n: &u64) -> bool {
    *n == 1
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Default for Anomaly {
    /// An empty anomaly seen once; checkers fill in kind, explanation and ops.
    fn default() -> Anomaly {
        Anomaly {
            kind: String::new(),
            explanation: String::new(),
            ops: vec![],
            witness: Value::Null,
            count: 1,
            similar: 0,
            examples: vec![],
            also_in: vec![],
            name: String::new(),
            faults: vec![],
            before_any_fault: false,
            nodes: vec![],
        }
    }
}

impl Anomaly {
    /// The checker (and so the model) that reported it, from `witness.checker`; empty
    /// before composition.
    pub fn checker(&self) -> &str {
        self.witness.get("checker").and_then(Value::as_str).unwrap_or("")
    }
}

/// What one checker concluded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckerResult {
    /// The verdict.
    pub valid: Validity,
    /// Why the verdict is unknown (required then), or a note on how it was reached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Violations found; non-empty when invalid.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub anomalies: Vec<Anomaly>,
    /// Anything else the checker measured (counts, partitions decided, timings).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub details: Value,
    /// The checker does not apply to this history (e.g. convergence on a history with no
    /// final phase); `reason` says why, and the result takes no part in the verdict.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub not_applicable: bool,
}

impl CheckerResult {
    /// A valid result with no details.
    pub fn valid() -> CheckerResult {
        CheckerResult {
            valid: Validity::Valid,
            reason: None,
            anomalies: vec![],
            details: Value::Null,
            not_applicable: false,
        }
    }

    /// An unknown result; `reason` must say why.
    pub fn unknown(reason: impl Into<String>) -> CheckerResult {
        CheckerResult {
            valid: Validity::Unknown,
            reason: Some(reason.into()),
            anomalies: vec![],
            details: Value::Null,
            not_applicable: false,
        }
    }

    /// A checker that does not apply to this history; `reason` must say why. It takes no
    /// part in the composed verdict.
    pub fn not_applicable(reason: impl Into<String>) -> CheckerResult {
        CheckerResult { not_applicable: true, ..CheckerResult::unknown(reason) }
    }

    /// An invalid result proven by `anomalies`.
    pub fn invalid(anomalies: Vec<Anomaly>) -> CheckerResult {
        CheckerResult { valid: Validity::Invalid, anomalies, ..CheckerResult::valid() }
    }

    /// The same result with `details` attached.
    pub fn with_details(mut self, details: Value) -> CheckerResult {
        self.details = details;
        self
    }
}

/// The contents of `results.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Results {
    /// The composed verdict of every checker.
    pub valid: Validity,
    /// Why the run is unknown, when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Each checker's result by name.
    pub checkers: BTreeMap<String, CheckerResult>,
    /// Consistency models by name (`linearizable`, `sequential`, ...).
    #[serde(default)]
    pub models: BTreeMap<String, Validity>,
    /// The strongest model that held, if any model was judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strongest_held: Option<String>,
    /// The weakest model that failed, if any failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weakest_failed: Option<String>,
    /// Every checker's anomalies, each tagged with its checker in `witness.checker`.
    #[serde(default)]
    pub anomalies: Vec<Anomaly>,
    /// Counts and rates from the stats checker.
    #[serde(default)]
    pub stats: Value,
    /// The fault windows of the history, which [`Anomaly::faults`] refer to by id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<FaultWindow>,
    /// How many anomalies were found, how many distinct ones are listed, and their counts
    /// by kind, by fault window and by node.
    #[serde(default)]
    pub anomaly_counts: AnomalyCounts,
}

/// One fault window, as `results.json` names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultWindow {
    /// `F1`, `F2`, ... in start order.
    pub id: String,
    /// The fault kind (`partition`, `kill`, ...).
    pub name: String,
    /// Start, seconds since the run began.
    pub start_s: f64,
    /// End, seconds; the end of the history when no stop was recorded.
    pub end_s: f64,
}

/// Anomaly counts: every anomaly a checker reported (repeats and look-alikes included) is
/// counted, so these stay true when `anomalies` lists only representatives.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AnomalyCounts {
    /// Anomalies reported by the checkers, repeats included.
    #[serde(default)]
    pub found: u64,
    /// Distinct anomalies (by model, kind and ops).
    #[serde(default)]
    pub distinct: u64,
    /// Representatives listed in `anomalies`.
    #[serde(default)]
    pub listed: u64,
    /// Per model and kind, in ladder order.
    #[serde(default)]
    pub by_kind: Vec<KindCount>,
    /// Per fault window (`F1` ...), then `before any fault` and `no fault active`; an
    /// anomaly whose ops span several windows counts in each.
    #[serde(default)]
    pub by_fault: Vec<LabelCount>,
    /// Per node that served an op of an anomaly; an anomaly served by several counts in each.
    #[serde(default)]
    pub by_node: Vec<LabelCount>,
}

/// Counts of one model's anomalies of one kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KindCount {
    /// The checker that reported them (the model's name for the ladder).
    pub checker: String,
    /// The kind.
    pub kind: String,
    /// Its plain name.
    #[serde(default)]
    pub name: String,
    /// Reported, repeats included.
    pub found: u64,
    /// Distinct by ops.
    pub distinct: u64,
    /// Representatives listed.
    pub listed: u64,
}

/// A count under a label (a fault window's id, `before any fault`, a node).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelCount {
    /// What is counted under.
    pub label: String,
    /// How many anomalies.
    pub anomalies: u64,
}

impl Results {
    /// Composes checker results. `models` lists the model verdicts, strongest first, so the
    /// strongest held and weakest failed can be named.
    pub fn compose(
        checkers: BTreeMap<String, CheckerResult>,
        models: Vec<(String, Validity)>,
        stats: Value,
    ) -> Results {
        Results::compose_for(None, checkers, models, stats)
    }

    /// [`Results::compose`] for a judged `history`: each anomaly is also tied to the fault
    /// windows and nodes of its ops, and look-alikes are grouped by the processes, functions
    /// and keys of those ops. Without a history, only exact repeats merge.
    pub fn compose_for(
        history: Option<&History>,
        checkers: BTreeMap<String, CheckerResult>,
        models: Vec<(String, Validity)>,
        stats: Value,
    ) -> Results {
        let context = history.map(crate::distinct::HistoryContext::new);
        Results::compose_in(context.as_ref(), checkers, models, stats)
    }

    /// [`Results::compose_for`] given the history's context already made.
    pub fn compose_in(
        context: Option<&crate::distinct::HistoryContext<'_>>,
        mut checkers: BTreeMap<String, CheckerResult>,
        models: Vec<(String, Validity)>,
        stats: Value,
    ) -> Results {
        let mut tally = crate::distinct::Tally::default();
        for (name, r) in checkers.iter_mut() {
            let found = std::mem::take(&mut r.anomalies);
            r.anomalies = crate::distinct::distinct(name, found, context, &mut tally);
        }
        let mut valid = Validity::Valid;
        let mut reasons = vec![];
        let mut anomalies = vec![];
        for (name, r) in checkers.iter().filter(|(_, r)| !r.not_applicable) {
            valid = valid.and(r.valid);
            if r.valid == Validity::Unknown {
                reasons.push(format!("{name}: {}", r.reason.as_deref().unwrap_or("no reason given")));
            }
            anomalies.extend(r.anomalies.iter().cloned());
        }
        crate::distinct::order_by_ladder(&mut anomalies);
        crate::distinct::note_also_in(&mut anomalies);
        let anomaly_counts = tally.counts(&anomalies, context);
        let strongest_held = models.iter().find(|(_, v)| *v == Validity::Valid).map(|(m, _)| m.clone());
        let weakest_failed =
            models.iter().rev().find(|(_, v)| *v == Validity::Invalid).map(|(m, _)| m.clone());
        Results {
            valid,
            reason: (valid == Validity::Unknown).then(|| reasons.join("; ")),
            checkers,
            models: models.into_iter().collect(),
            strongest_held,
            weakest_failed,
            anomalies,
            stats,
            faults: context.map(|c| c.fault_windows()).unwrap_or_default(),
            anomaly_counts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_dominates_unknown_which_dominates_valid() {
        let mut c = BTreeMap::new();
        c.insert("a".to_string(), CheckerResult::valid());
        c.insert("b".to_string(), CheckerResult::unknown("over budget"));
        let r = Results::compose(c.clone(), vec![], Value::Null);
        assert_eq!(r.valid, Validity::Unknown);
        assert_eq!(r.reason.as_deref(), Some("b: over budget"));
        c.insert("c".to_string(), CheckerResult::invalid(vec![]));
        assert_eq!(Results::compose(c, vec![], Value::Null).valid, Validity::Invalid);
    }

    #[test]
    fn a_checker_that_does_not_apply_takes_no_part_in_the_verdict() {
        let mut c = BTreeMap::new();
        c.insert("linearizable".to_string(), CheckerResult::valid());
        c.insert("convergence".to_string(), CheckerResult::not_applicable("no final phase"));
        let r = Results::compose(c, vec![], Value::Null);
        assert_eq!(r.valid, Validity::Valid);
        assert_eq!(r.reason, None);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["checkers"]["convergence"]["not_applicable"], true);
        assert!(json["checkers"]["linearizable"].get("not_applicable").is_none());
    }

    #[test]
    fn names_strongest_held_and_weakest_failed() {
        let models = vec![
            ("linearizable".to_string(), Validity::Invalid),
            ("sequential".to_string(), Validity::Invalid),
            ("causal".to_string(), Validity::Valid),
            ("pram".to_string(), Validity::Valid),
        ];
        let r = Results::compose(BTreeMap::new(), models, Value::Null);
        assert_eq!(r.strongest_held.as_deref(), Some("causal"));
        assert_eq!(r.weakest_failed.as_deref(), Some("sequential"));
    }

    #[test]
    fn validity_serializes_as_jepsen_does() {
        let s = serde_json::to_string(&[Validity::Valid, Validity::Invalid, Validity::Unknown]).unwrap();
        assert_eq!(s, r#"[true,false,"unknown"]"#);
    }
}
