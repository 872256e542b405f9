//! Golden tests of the report's structure for a fixed valid and a fixed invalid run, and of
//! how it renders around missing or broken inputs. Set `SUNDER_BLESS=1` to rewrite the
//! golden files after an intended change.

mod scratch_dir;

use scratch_dir::{ScratchDir, structure};
use std::path::Path;
use sunder_check::verdict::Validity;

fn check_golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(name);
    if std::env::var_os("SUNDER_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(actual, expected, "structure differs from {} (SUNDER_BLESS=1 to accept)", path.display());
}

/// The results.json of a fixture, to hold a report to what it says.
fn fixture_results(name: &str) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name).join("results.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn valid_run_report_has_every_section_and_no_anomaly() {
    let run = ScratchDir::fixture("valid");
    let s = sunder_report::render_run(run.path()).unwrap();
    assert_eq!(s.verdict, Some(Validity::Valid));
    assert!(s.problems.is_empty(), "{:?}", s.problems);
    let html = std::fs::read_to_string(&s.report).unwrap();
    check_golden("valid.structure.txt", &structure(&html));
}

#[test]
fn invalid_run_report_draws_the_linearizability_witness() {
    let run = ScratchDir::fixture("invalid");
    let anomalies = fixture_results("invalid")["anomalies"].as_array().unwrap().len();
    let s = sunder_report::render_run(run.path()).unwrap();
    assert_eq!((s.verdict, s.anomalies), (Some(Validity::Invalid), anomalies));
    let html = std::fs::read_to_string(&s.report).unwrap();
    check_golden("invalid.structure.txt", &structure(&html));
    assert!(html.contains("could not be linearized"));
}

#[test]
fn missing_inputs_are_named_and_the_rest_still_renders() {
    let run = ScratchDir::fixture("valid");
    std::fs::remove_file(run.path().join("results.json")).unwrap();
    std::fs::remove_file(run.path().join("test.json")).unwrap();
    let s = sunder_report::render_run(run.path()).unwrap();
    assert_eq!(s.verdict, None);
    assert_eq!(s.problems.len(), 2, "{:?}", s.problems);
    let html = std::fs::read_to_string(&s.report).unwrap();
    assert!(html.contains("id=\"problems\""));
    assert!(html.contains("results.json is missing"));
    assert!(html.contains("UNCHECKED"));
    assert!(html.contains("<div class=\"plot\"><svg"), "plots still drawn from the history");
    let junit = std::fs::read_to_string(&s.junit).unwrap();
    assert!(junit.contains("<error message=\"results.json is missing"));
}

#[test]
fn malformed_history_line_is_located_and_the_other_ops_are_drawn() {
    let run = ScratchDir::new("malformed");
    sunder_report::synthetic::SyntheticRun { ops: 300, malformed_line: true, ..Default::default() }
        .write(run.path())
        .unwrap();
    let s = sunder_report::render_run(run.path()).unwrap();
    assert_eq!(s.ops, 300);
    let problem = s.problems.iter().find(|p| p.contains("history.jsonl")).expect("history problem reported");
    // Line 151, and the column where the JSON stops making sense.
    assert!(problem.contains("history.jsonl:151:12: malformed op"), "{problem}");
    let html = std::fs::read_to_string(&s.report).unwrap();
    assert!(html.contains("invalid (salvaged lines shown)"));
    assert!(html.contains("data-rows=\""));
}

#[test]
fn not_a_folder_is_an_error_naming_the_path() {
    let run = ScratchDir::new("notdir");
    let file = run.path().join("history.jsonl");
    std::fs::write(&file, "").unwrap();
    let e = sunder_report::render_run(&file).unwrap_err().to_string();
    assert!(e.contains("history.jsonl: not a run folder"), "{e}");
}

#[test]
fn bare_history_file_renders_into_another_folder() {
    let source = ScratchDir::fixture("invalid");
    let out = ScratchDir::new("bare-out");
    let history = sunder_check::history::read_jsonl(&source.path().join("history.jsonl")).unwrap();
    let s = sunder_report::render_history(&source.path().join("history.jsonl"), out.path()).unwrap();
    assert_eq!((s.ops, s.verdict), (history.len(), None));
    assert!(s.report.starts_with(out.path()) && s.report.exists() && s.junit.exists() && s.summary.exists());
    let html = std::fs::read_to_string(&s.report).unwrap();
    // One timeline row per client call and per nemesis event.
    let nemesis =
        history.ops().iter().filter(|o| o.is_nemesis() && o.kind != sunder_check::OpType::Invoke).count();
    let rows = history.client_calls().count() + nemesis;
    assert!(html.contains(&format!("data-rows=\"{rows}\"")), "no timeline of {rows} rows");
    assert!(!source.path().join("report.html").exists(), "nothing written beside the history");
}
