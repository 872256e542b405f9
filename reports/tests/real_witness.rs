//! The report draws witnesses as sunder-check's own checkers write them: a Knossos
//! history known to be non-linearizable is imported, checked by the real linearizability
//! checker, and rendered; the failed op, the prefix and the checker's op descriptions must
//! all appear.

mod scratch_dir;

use scratch_dir::{ScratchDir, attrs};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use sunder_check::import::{Format, load};
use sunder_check::linearizable::{Budget, ModelKind, check};
use sunder_check::verdict::{Results, Validity};

#[test]
fn draws_the_real_linearizability_checkers_witness() {
    let source = scratch_dir::data_dir().join("knossos/cas-register/bad/cas-failure.edn");
    let imported = load(&source, Format::Auto).unwrap();
    let result = check(
        &imported.history,
        ModelKind::CasRegister { initial: Some(serde_json::json!(0)) },
        imported.fail_semantics,
        &Budget::default(),
    );
    assert_eq!(result.valid, Validity::Invalid);
    let run = ScratchDir::new("real-witness");
    let mut f = std::fs::File::create(run.path().join("history.jsonl")).unwrap();
    for op in imported.history.ops() {
        serde_json::to_writer(&mut f, op).unwrap();
        f.write_all(b"\n").unwrap();
    }
    let witness = result.anomalies[0].witness.clone();
    let mut checkers = BTreeMap::new();
    checkers.insert("linearizable".to_string(), result);
    let results =
        Results::compose(checkers, vec![("linearizable".into(), Validity::Invalid)], serde_json::Value::Null);
    std::fs::write(run.path().join("results.json"), serde_json::to_vec(&results).unwrap()).unwrap();

    let s = sunder_report::render_run(run.path()).unwrap();
    let html = std::fs::read_to_string(&s.report).unwrap();
    // Kept for a person to look at.
    let _ =
        std::fs::write(PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("real-witness-report.html"), &html);
    // The summary draws the same witness again; count the anomaly section's drawing.
    let section = &html[html.find("<section id=\"anomalies\"").expect("anomaly section")..];
    let roles = attrs(section, "<g class=\"w-", "class");
    assert_eq!(roles.iter().filter(|r| r.starts_with("w-failed")).count(), 1, "{roles:?}");
    let prefix = witness["prefix"].as_array().unwrap().len().min(24);
    assert_eq!(roles.iter().filter(|r| r.starts_with("w-prefix")).count(), prefix, "{roles:?}");
    let described = witness["ops"][0]["description"].as_str().unwrap();
    assert!(
        html.contains(&sunder_report::escape::text(described)),
        "checker's description {described:?} shown"
    );
    assert!(html.contains("as the checker describes it"));
}
