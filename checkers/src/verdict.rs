//! What checkers say: a [`Validity`] with the reason when unknown, the anomalies that prove
//! an invalid verdict, and [`Results`], the composition written to `results.json`. The
//! composition rule is DESIGN.md's: any invalid makes the run invalid, else any unknown
//! makes it unknown.

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

/// One violation, with the smallest set of ops that proves it.
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
}

impl Results {
    /// Composes checker results. `models` lists the model verdicts, strongest first, so the
    /// strongest held and weakest failed can be named.
    pub fn compose(
        checkers: BTreeMap<String, CheckerResult>,
        models: Vec<(String, Validity)>,
        stats: Value,
    ) -> Results {
        let mut valid = Validity::Valid;
        let mut reasons = vec![];
        let mut anomalies = vec![];
        for (name, r) in checkers.iter().filter(|(_, r)| !r.not_applicable) {
            valid = valid.and(r.valid);
            if r.valid == Validity::Unknown {
                reasons.push(format!("{name}: {}", r.reason.as_deref().unwrap_or("no reason given")));
            }
            for a in &r.anomalies {
                let mut a = a.clone();
                match &mut a.witness {
                    Value::Object(m) => {
                        m.insert("checker".into(), Value::String(name.clone()));
                    }
                    w => *w = serde_json::json!({ "checker": name }),
                }
                anomalies.push(a);
            }
        }
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
