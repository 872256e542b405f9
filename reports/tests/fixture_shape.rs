//! The report tests render fixtures and synthetic runs; both must look like what a real
//! `sunder run` writes, or the tests prove the report against output that never occurs.
//! `tests/fixtures/{valid,invalid}` are copied from real runs (see `tests/fixtures/README.md`
//! for the commands), and this test holds the synthetic run (`sunder_report::synthetic`) to
//! their shape: the same top-level fields, checker names, model names, stats fields and
//! anomaly kinds, and a ladder the implication table allows.

mod scratch_dir;

use scratch_dir::ScratchDir;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use sunder_check::verdict::{Results, Validity};
use sunder_report::synthetic::SyntheticRun;

fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name).join("results.json");
    serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn synthetic(invalid: bool) -> Value {
    let dir = ScratchDir::new(if invalid { "shape-invalid" } else { "shape-valid" });
    SyntheticRun { invalid, ..SyntheticRun::default() }.write(dir.path()).unwrap();
    serde_json::from_slice(&std::fs::read(dir.path().join("results.json")).unwrap()).unwrap()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default()
}

/// Fields composing adds only where they apply (repeats, look-alikes, other models, fault
/// windows, before any fault): which an anomaly has depends on where its ops fell.
const WHERE_THEY_APPLY: &[&str] = &["count", "similar", "examples", "also_in", "faults", "before_any_fault"];

/// An anomaly's fields less those composing adds only where they apply.
fn checker_fields(a: &Value) -> BTreeSet<String> {
    keys(a).into_iter().filter(|k| !WHERE_THEY_APPLY.contains(&k.as_str())).collect()
}

fn kinds(v: &Value) -> BTreeSet<String> {
    v["anomalies"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["kind"].as_str().map(String::from))
        .collect()
}

#[test]
fn synthetic_runs_have_the_shape_of_real_runs() {
    for (name, invalid) in [("valid", false), ("invalid", true)] {
        let (real, synth) = (fixture(name), synthetic(invalid));
        assert_eq!(keys(&synth), keys(&real), "{name}: top-level fields");
        assert_eq!(keys(&synth["checkers"]), keys(&real["checkers"]), "{name}: checker names");
        assert_eq!(keys(&synth["models"]), keys(&real["models"]), "{name}: model names");
        assert_eq!(keys(&synth["stats"]), keys(&real["stats"]), "{name}: stats fields");
        assert_eq!(real["valid"], synth["valid"], "{name}: verdict");
        let (real_kinds, synth_kinds) = (kinds(&real), kinds(&synth));
        assert!(
            synth_kinds.is_subset(&real_kinds),
            "{name}: {synth_kinds:?} are not all among {real_kinds:?}"
        );
        for a in synth["anomalies"].as_array().unwrap() {
            let like = real["anomalies"].as_array().unwrap().iter().find(|r| r["kind"] == a["kind"]).unwrap();
            assert_eq!(checker_fields(a), checker_fields(like), "{name}: fields of a {} anomaly", a["kind"]);
            assert_eq!(
                keys(&a["witness"]),
                keys(&like["witness"]),
                "{name}: witness of a {} anomaly",
                a["kind"]
            );
        }
    }
}

#[test]
fn fixtures_are_histories_and_results_a_real_run_could_write() {
    for name in ["valid", "invalid"] {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
        // The history obeys every rule of docs/history.md (dense indices, monotonic time).
        let history =
            sunder_check::history::read_jsonl(&dir.join("history.jsonl")).unwrap_or_else(|e| panic!("{e}"));
        assert!(!history.is_empty());
        let results: Results = serde_json::from_value(fixture(name)).unwrap();
        for (strong, weaker) in sunder_check::ladder::IMPLIES {
            for weak in weaker {
                let (s, w) = (results.models.get(strong), results.models.get(*weak));
                assert!(
                    !(s == Some(&Validity::Valid) && w.is_some_and(|w| *w != Validity::Valid)),
                    "{name}: {strong} held but {weak}, which it implies, is {w:?}"
                );
            }
        }
        for a in &results.anomalies {
            for op in &a.ops {
                assert!((*op as usize) < history.len(), "{name}: anomaly names op {op} of {}", history.len());
            }
        }
    }
}
