//! `junit.xml` is well-formed XML with one test case per checker; an invalid checker's
//! failure message is its anomalies, an unknown one is skipped with its reason.

mod scratch_dir;

use scratch_dir::ScratchDir;
use sunder_check::verdict::Validity;

#[test]
fn one_testcase_per_checker_and_anomalies_as_failure_message() {
    let run = ScratchDir::fixture("invalid");
    // What the real run's results.json says, to hold the XML to it.
    let results: sunder_check::verdict::Results =
        serde_json::from_slice(&std::fs::read(run.path().join("results.json")).unwrap()).unwrap();
    let failing: Vec<&String> =
        results.checkers.iter().filter(|(_, r)| r.valid == Validity::Invalid).map(|(n, _)| n).collect();
    let s = sunder_report::render_run(run.path()).unwrap();
    let xml = std::fs::read_to_string(&s.junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let suites = doc.root_element();
    assert_eq!(suites.tag_name().name(), "testsuites");
    let (tests, failures) = (results.checkers.len().to_string(), failing.len().to_string());
    assert_eq!(
        (suites.attribute("tests"), suites.attribute("failures")),
        (Some(&tests[..]), Some(&failures[..]))
    );
    assert!(failing.len() >= 2, "the invalid fixture fails more than one checker: {failing:?}");
    let cases: Vec<_> = doc.descendants().filter(|n| n.has_tag_name("testcase")).collect();
    let names: Vec<_> = cases.iter().map(|c| c.attribute("name").unwrap()).collect();
    assert_eq!(names, results.checkers.keys().map(String::as_str).collect::<Vec<_>>());
    let at = names.iter().position(|n| *n == "linearizable").expect("a linearizable case");
    let lin = cases[at].children().find(|n| n.has_tag_name("failure")).expect("linearizable fails");
    assert_eq!(lin.attribute("type"), Some("nonlinearizable"));
    let anomaly = &results.checkers["linearizable"].anomalies[0];
    let message = lin.attribute("message").unwrap();
    // The plain name leads; the checker's kind follows for those who know it.
    assert!(
        message.starts_with(&format!("not linearizable (nonlinearizable): {}", anomaly.explanation)),
        "{message}"
    );
    assert!(
        message.ends_with(&format!("(ops {})", sunder_report::junit::op_list(&anomaly.ops))),
        "{message}"
    );
    let valid =
        names.iter().position(|n| results.checkers[*n].valid == Validity::Valid).expect("a valid case");
    assert!(cases[valid].children().all(|n| !n.is_element()), "a valid checker has no child");
    let props: Vec<_> = doc.descendants().filter(|n| n.has_tag_name("property")).collect();
    assert!(props.iter().any(|p| p.attribute("name") == Some("seed") && p.attribute("value") == Some("1")));
}

#[test]
fn unknown_checker_is_skipped_with_its_reason() {
    let run = ScratchDir::fixture("valid");
    let path = run.path().join("results.json");
    let mut results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    results["checkers"]["linearizable"] =
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
