//! The CLI contract a CI job relies on: a run of the control system ends with a store folder
//! holding a readable history, `results.json`, and the exit code of its verdict; bad
//! arguments exit 3 with a message and start nothing.

use std::path::{Path, PathBuf};
use std::process::Command;

fn sunder() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sunder"))
}

fn temp_store(tag: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("sunder-test-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    p
}

#[test]
fn single_kv_run_stores_history_results_and_matching_exit_code() {
    let store = temp_store("e2e");
    let out = sunder()
        .args(["run", "--system", "single-kv", "--time-limit", "5", "--seed", "7", "--quiet", "--store"])
        .arg(&store)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let run = store.join("latest");
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("results.json")).expect(&stderr)).unwrap();
    let expected = match &results["valid"] {
        serde_json::Value::Bool(true) => 0,
        serde_json::Value::Bool(false) => 1,
        _ => 2,
    };
    assert_eq!(out.status.code(), Some(expected), "exit code must match results.json; stderr: {stderr}");
    assert_eq!(results["checkers"]["stats"]["valid"], true);
    assert!(results["stats"]["total"]["ok"].as_u64().unwrap() > 100, "{results}");

    let history = sunder_check::history::read_jsonl(&run.join("history.jsonl")).unwrap();
    let finals = history.ops().iter().filter(|o| o.f == "phase" && o.value == "final").count();
    assert_eq!(finals, 1, "the final phase is marked in the history");
    let test: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("test.json")).unwrap()).unwrap();
    assert_eq!(test["seed"], 7);
    assert_eq!(test["system"], "single-kv");
    assert!(run.join("sunder.log").exists() && run.join("nodes/n1/log").exists());
    assert!(!run.join("harness.pid").exists(), "a finished run leaves no harness.pid");
    assert!(!run.join("nodes/n1/pid").exists(), "a stopped node leaves no pid file");

    // `check` re-judges the stored run to the same verdict.
    let check = sunder().arg("check").arg(&run).arg("--json").output().unwrap();
    assert_eq!(check.status.code(), Some(expected));
    let rechecked: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    assert_eq!(rechecked["valid"], results["valid"]);
    std::fs::remove_dir_all(&store).unwrap();
}

fn assert_bad_arguments(args: &[&str], needle: &str) {
    let store = temp_store("badargs");
    let out = sunder().args(args).arg("--store").arg(&store).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{args:?}: {stderr}");
    assert!(stderr.contains(needle), "{args:?}: expected {needle:?} in {stderr}");
    assert!(!has_run_folder(&store), "{args:?} must not start a run");
    let _ = std::fs::remove_dir_all(&store);
}

fn has_run_folder(store: &Path) -> bool {
    store.join("latest").exists()
}

#[test]
fn bad_arguments_exit_3_with_a_message() {
    assert_bad_arguments(&["run", "--bogus"], "unexpected argument");
    assert_bad_arguments(&["run", "--system", "nosuch"], "unknown system \"nosuch\"");
    assert_bad_arguments(&["run", "--workload", "nosuch"], "unknown workload");
    assert_bad_arguments(&["run", "--system", "single-kv", "-o", "nosuch=1"], "nosuch");
    assert_bad_arguments(&["run", "-o", "novalue"], "KEY=VALUE");
    assert_bad_arguments(&["run", "--concurrency", "0"], "at least 1");
    assert_bad_arguments(&["run", "--time-limit", "0"], "--time-limit");
    assert_bad_arguments(
        &["run", "--system", "single-kv", "--nodes", "2"],
        "single-kv runs with 1 to 1 nodes",
    );
    assert_bad_arguments(&["run", "--nemesis", "meteor"], "--nemesis");
    assert_bad_arguments(&["run", "--net", "carrier-pigeon"], "--net");
}

#[test]
fn check_names_file_and_line_of_a_malformed_history() {
    let dir = temp_store("malformed");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("h.jsonl");
    std::fs::write(
        &file,
        "{\"index\":0,\"time\":1,\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"key\":\"k\",\"value\":null}\n\
         {\"index\":1,\"time\":2,\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"key\":\"k\",\"value\":null}\n",
    )
    .unwrap();
    let out = sunder().arg("check").arg(&file).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("h.jsonl:2:") && stderr.contains("still open"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}
