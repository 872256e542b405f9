//! Systems described in TOML files (`--system path/to/system.toml`, docs/systems.md): the
//! two shipped examples run end to end (the etcd one gives the built-in etcd's verdicts,
//! linearizable and serializable), and a bad file is refused before anything starts with an
//! error naming the file, the line and the key.

mod support;

use std::path::PathBuf;
use support::{Finished, TempDir, assert_backend, root_or_skip, sunder};

/// A shipped example under `examples/systems/`.
fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/systems").join(name)
}

fn file_run(tag: &str, file: &str, args: &[&str]) -> Finished {
    let path = example(file);
    let path = path.to_str().expect("a UTF-8 path");
    let mut all = vec!["--system", path];
    all.extend_from_slice(args);
    support::run(tag, &all)
}

/// `sunder run` on a system file written from `text`: its exit code and stderr.
fn refusal(tag: &str, text: &str) -> (Option<i32>, String) {
    let dir = TempDir::new(tag);
    let file = dir.path().join("system.toml");
    std::fs::write(&file, text).unwrap();
    let out = sunder()
        .args(["run", "--quiet", "--time-limit", "1", "--system"])
        .arg(&file)
        .arg("--store")
        .arg(dir.path().join("store"))
        .output()
        .unwrap();
    assert!(!dir.path().join("store/latest").exists(), "a refused file left a run folder");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The single-kv example with one line replaced (`from` must occur in it).
fn single_kv_with(from: &str, to: &str) -> String {
    let text = std::fs::read_to_string(example("single-kv.toml")).unwrap();
    assert!(text.contains(from), "the example has no {from:?}");
    text.replacen(from, to, 1)
}

#[test]
fn the_single_kv_example_runs_the_sunder_binary_from_its_template_and_is_linearizable() {
    let run = file_run("file-single-kv", "single-kv.toml", &["--time-limit", "3", "--seed", "1"]);
    assert_eq!(run.code, Some(0), "{}", run.summary());
    assert_eq!(run.test["system"], "single-kv-file", "{}", run.summary());
    assert_eq!(run.results["models"]["linearizable"], true, "{}", run.summary());
    assert!(run.results["stats"]["total"]["ok"].as_u64().unwrap_or(0) > 100, "{}", run.summary());
}

// The settings of etcd_runs.rs's built-in runs, so each verdict is the built-in's.
#[test]
fn the_etcd_example_gives_the_built_in_etcd_verdicts() {
    const TEST: &str = "the_etcd_example_gives_the_built_in_etcd_verdicts";
    if !root_or_skip(TEST) {
        return;
    }
    let netns = |settings: &[&'static str]| [&["--net", "netns"], settings].concat();
    let linearizable = file_run("file-etcd-lin", "etcd.toml", &netns(support::ETCD_LINEARIZABLE));
    assert_eq!(linearizable.code, Some(0), "{}", linearizable.summary());
    assert_eq!(linearizable.test["protocol"], "etcd", "{}", linearizable.summary());
    assert_backend(&linearizable, "netns");
    drop(linearizable);
    let serializable = file_run("file-etcd-ser", "etcd.toml", &netns(support::ETCD_SERIALIZABLE));
    assert_eq!(serializable.code, Some(1), "{}", serializable.summary());
    assert_eq!(serializable.results["models"]["linearizable"], false, "{}", serializable.summary());
}

#[test]
fn a_system_file_with_a_missing_key_is_refused_naming_the_key_and_line() {
    let (code, stderr) = refusal("file-missing", &single_kv_with("protocol = \"sunder-http\"\n", ""));
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("missing field `protocol`"), "{stderr}");
    assert!(stderr.contains("system.toml") && stderr.contains("line 1"), "{stderr}");
}

#[test]
fn a_system_file_with_an_unknown_key_is_refused_naming_the_key_and_line() {
    let text = single_kv_with("grace_ms = 3000", "grace_ms = 3000\ncolour = \"blue\"");
    let line = text.lines().position(|l| l.starts_with("colour")).unwrap() + 1;
    let (code, stderr) = refusal("file-unknown", &text);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("unknown field `colour`"), "{stderr}");
    assert!(stderr.contains(&format!("line {line}")), "expected line {line}: {stderr}");
}

#[test]
fn a_system_file_with_a_bad_value_or_placeholder_is_refused_naming_the_key_and_line() {
    let (code, stderr) =
        refusal("file-badvalue", &single_kv_with("protocol = \"sunder-http\"", "protocol = \"grpc\""));
    assert_eq!(code, Some(3), "{stderr}");
    assert!(
        stderr.contains("grpc") && stderr.contains("sunder-http") && stderr.contains("line "),
        "{stderr}"
    );

    let text = single_kv_with("{listen:client}", "{listen:clients}");
    let line = text.lines().position(|l| l.contains("{listen:clients}")).unwrap() + 1;
    let (code, stderr) = refusal("file-placeholder", &text);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains(&format!("line {line}: start.args")) && stderr.contains("clients"), "{stderr}");

    let (code, stderr) =
        refusal("file-workload", &single_kv_with("workloads = [\"register\"", "workloads = [\"registers\""));
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("supports.workloads") && stderr.contains("registers"), "{stderr}");
}

#[test]
fn a_system_file_refuses_faults_it_does_not_list() {
    let dir = TempDir::new("file-faults");
    let out = sunder()
        .args(["run", "--quiet", "--time-limit", "1", "--nemesis", "kill", "--system"])
        .arg(example("single-kv.toml"))
        .arg("--store")
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("does not take kill faults"), "{stderr}");
}
