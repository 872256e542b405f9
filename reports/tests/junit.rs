//! `junit.xml` is well-formed XML with one test case per checker; an invalid checker's
//! failure message is its anomalies, an unknown one is skipped with its reason.

mod scratch_dir;

use scratch_dir::ScratchDir;

#[test]
fn one_testcase_per_checker_and_anomalies_as_failure_message() {
    let run = ScratchDir::fixture("invalid");
    let s = sunder_report::render_run(run.path()).unwrap();
    let xml = std::fs::read_to_string(&s.junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let suites = doc.root_element();
    assert_eq!(suites.tag_name().name(), "testsuites");
    assert_eq!((suites.attribute("tests"), suites.attribute("failures")), (Some("4"), Some("2")));
    let cases: Vec<_> = doc.descendants().filter(|n| n.has_tag_name("testcase")).collect();
    let names: Vec<_> = cases.iter().map(|c| c.attribute("name").unwrap()).collect();
    assert_eq!(names, ["convergence", "linearizability", "stale-reads", "stats"]);
    let lin = cases[1].children().find(|n| n.has_tag_name("failure")).expect("linearizability fails");
    assert_eq!(lin.attribute("type"), Some("nonlinearizable"));
    let message = lin.attribute("message").unwrap();
    assert!(message.starts_with("nonlinearizable: Read op 65 returned a value"), "{message}");
    assert!(message.ends_with("(ops 65)"), "{message}");
    assert!(cases[0].children().all(|n| !n.is_element()), "a valid checker has no child");
    let props: Vec<_> = doc.descendants().filter(|n| n.has_tag_name("property")).collect();
    assert!(props.iter().any(|p| p.attribute("name") == Some("seed") && p.attribute("value") == Some("42")));
}

#[test]
fn unknown_checker_is_skipped_with_its_reason() {
    let run = ScratchDir::fixture("valid");
    let path = run.path().join("results.json");
    let mut results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    results["checkers"]["linearizability"] =
        serde_json::json!({"valid": "unknown", "reason": "search budget spent"});
    results["valid"] = serde_json::json!("unknown");
    std::fs::write(&path, results.to_string()).unwrap();
    let s = sunder_report::render_run(run.path()).unwrap();
    let xml = std::fs::read_to_string(&s.junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let skipped = doc.descendants().find(|n| n.has_tag_name("skipped")).expect("a skipped case");
    assert_eq!(skipped.attribute("message"), Some("unknown: search budget spent"));
    assert_eq!(doc.root_element().attribute("skipped"), Some("1"));
}
