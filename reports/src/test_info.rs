//! What `test.json` says about a run, read tolerantly: the harness writes it, but older or
//! hand-made run folders may lack fields, so every field is optional and the raw object is
//! kept for the settings table.

use serde_json::{Map, Value};

/// The test settings of one run, as far as `test.json` gave them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TestInfo {
    /// Test name, e.g. `register`.
    pub name: Option<String>,
    /// The system under test, e.g. `single-kv`.
    pub system: Option<String>,
    /// The workload, e.g. `register`.
    pub workload: Option<String>,
    /// Nemesis fault kinds, e.g. `["partition", "kill"]`.
    pub nemesis: Vec<String>,
    /// The run's seed.
    pub seed: Option<u64>,
    /// When the run started (UTC, RFC 3339), as written.
    pub started_at: Option<String>,
    /// Every field of `test.json` in its order, for the settings table.
    pub raw: Map<String, Value>,
}

impl TestInfo {
    /// Reads what it can from a parsed `test.json`; a non-object gives an empty info.
    pub fn from_value(v: &Value) -> TestInfo {
        let Some(raw) = v.as_object() else { return TestInfo::default() };
        let s = |k: &str| raw.get(k).and_then(Value::as_str).map(str::to_string);
        let nemesis = match raw.get("nemesis") {
            Some(Value::Array(a)) => a.iter().map(display_value).collect(),
            Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
            _ => vec![],
        };
        TestInfo {
            name: s("name"),
            system: s("system"),
            workload: s("workload"),
            nemesis,
            seed: raw.get("seed").and_then(Value::as_u64),
            started_at: s("started_at"),
            raw: raw.clone(),
        }
    }
}

/// A JSON value as a person reads it: strings without quotes, the rest as compact JSON.
pub fn display_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "null".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tolerates_missing_and_mistyped_fields() {
        let t = TestInfo::from_value(&json!({"name": "register", "seed": "x", "nemesis": "kill"}));
        assert_eq!(t.name.as_deref(), Some("register"));
        assert_eq!(t.seed, None);
        assert_eq!(t.nemesis, vec!["kill".to_string()]);
        assert_eq!(TestInfo::from_value(&json!([1, 2])), TestInfo::default());
    }
}
