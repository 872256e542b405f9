//! The CLI contract a CI job relies on: a run of the control system ends with a store folder
//! holding a readable history, `results.json`, and the exit code of its verdict; bad
//! arguments exit 3 with a message and start nothing.

use std::path::Path;

mod support;

use support::{TempDir, root_or_skip, shared_data, sunder};

#[test]
fn single_kv_run_is_valid_and_stores_history_results_and_report() {
    let tmp = TempDir::new("e2e");
    let store = tmp.path();
    let out = sunder()
        .args(["run", "--system", "single-kv", "--time-limit", "5", "--seed", "7", "--quiet", "--store"])
        .arg(store)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let run = store.join("latest");
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("results.json")).expect(&stderr)).unwrap();
    // single-kv is linearizable by construction: the control case must pass.
    assert_eq!(results["valid"], true, "single-kv must be valid: {}", results["reason"]);
    assert_eq!(results["models"]["linearizable"], true);
    let expected = 0;
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
    for file in ["report.html", "junit.xml", "summary.md"] {
        assert!(run.join(file).exists(), "every run renders {file}");
    }
    assert!(!run.join("harness.pid").exists(), "a finished run leaves no harness.pid");
    assert!(!run.join("nodes/n1/pid").exists(), "a stopped node leaves no pid file");

    // `check` re-judges the stored run to the same verdict.
    let check = sunder().arg("check").arg(&run).arg("--json").output().unwrap();
    assert_eq!(check.status.code(), Some(expected));
    let rechecked: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    assert_eq!(rechecked["valid"], results["valid"]);

    // A re-check by another model rewrites results.json before the report is drawn, so the
    // summary tells the new verdict (a plain register cannot take the run's cas ops).
    let check = sunder().arg("check").arg(&run).args(["--model", "register"]).output().unwrap();
    assert_eq!(check.status.code(), Some(2), "{}", String::from_utf8_lossy(&check.stdout));
    let summary = std::fs::read_to_string(run.join("summary.md")).unwrap();
    assert!(summary.contains("UNKNOWN"), "the report shows the re-check's verdict: {summary}");
    let check = sunder().arg("check").arg(&run).output().unwrap();
    assert_eq!(check.status.code(), Some(expected));
    assert!(std::fs::read_to_string(run.join("summary.md")).unwrap().contains("VALID"));
}

fn assert_bad_arguments(args: &[&str], needle: &str) {
    let tmp = TempDir::new("badargs");
    let store = tmp.path();
    let out = sunder().args(args).arg("--store").arg(store).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{args:?}: {stderr}");
    assert!(stderr.contains(needle), "{args:?}: expected {needle:?} in {stderr}");
    assert!(!has_run_folder(store), "{args:?} must not start a run");
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
    let tmp = TempDir::new("malformed");
    let dir = tmp.path();
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
}

#[test]
fn check_exits_with_the_manifest_verdict_of_every_elle_cli_invariant_history() {
    let data = shared_data();
    let manifest = std::fs::read_to_string(data.join("MANIFEST.tsv")).unwrap();
    let mut checked = 0;
    for row in manifest.lines().skip(1) {
        let cols: Vec<&str> = row.split('\t').collect();
        let (path, checker, expected) = (cols[0], cols[2], cols[3]);
        let Some(model) = checker.strip_prefix("elle-cli --model ") else { continue };
        if !["bank", "counter", "set", "set-full"].contains(&model) {
            continue;
        }
        let want = if expected.eq_ignore_ascii_case("valid") { 0 } else { 1 };
        let out = sunder().arg("check").arg(data.join(path)).args(["--model", model]).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(want),
            "{path} --model {model}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        checked += 1;
    }
    assert!(checked >= 10, "expected the elle-cli bank, counter, set and set-full rows, found {checked}");
}

#[test]
fn check_reads_porcupine_and_knossos_files_with_their_verdicts() {
    let data = shared_data();
    let cases: [(&str, &[&str], i32); 4] = [
        ("porcupine/kv/c10-ok.txt", &[], 0),
        ("porcupine/kv/c10-bad.txt", &[], 1),
        ("knossos/cas-register/bad/cas-failure.edn", &["--model", "cas-register 0"], 1),
        ("knossos/cas-register/good/memstress3-0.edn", &["--model", "cas-register 0"], 0),
    ];
    for (file, args, want) in cases {
        let out = sunder().arg("check").arg(data.join(file)).args(args).arg("--json").output().unwrap();
        assert_eq!(out.status.code(), Some(want), "{file}: {}", String::from_utf8_lossy(&out.stderr));
        let results: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(results["models"]["linearizable"], want == 0, "{file}");
    }
    // A format that does not say what it models asks for --model rather than guessing.
    let out =
        sunder().arg("check").arg(data.join("knossos/cas-register/good/memstress3-0.edn")).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--model"));
}

#[test]
fn latency_faults_on_netns_are_refused_with_the_reason() {
    if !root_or_skip("latency_faults_on_netns_are_refused_with_the_reason") {
        return;
    }
    let tmp = TempDir::new("latency-netns");
    let store = tmp.path();
    let out = sunder()
        .args(["run", "--net", "netns", "--nemesis", "latency", "--time-limit", "1", "--quiet", "--store"])
        .arg(store)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("netem") && stderr.contains("--net local"), "{stderr}");
}
