//! `sunder check FILE --model M` on every linearizability row of shared/data's MANIFEST.tsv
//! (Knossos' cas-register, multi-register and mutex histories, Porcupine's etcd and kv
//! histories): the exit code must be the one the row's verdict gives, 0 for valid and 1 for
//! invalid. This is the path a Knossos or Porcupine user takes, so convergence or any other
//! checker that does not apply to a foreign history must not turn a valid file into exit 2.

mod support;

use support::{shared_data, sunder};

/// The `--model` a MANIFEST row's checker column names, and the exit code its verdict means;
/// `None` for rows that are not linearizability rows.
fn linearizability_row(path: &str, checker: &str, expected: &str) -> Option<(String, i32)> {
    let model = if checker.starts_with("knossos (cas-register 0)") {
        "cas-register 0".to_string()
    } else if let Some(m) = checker.strip_prefix("knossos (multi-register ") {
        format!("multi-register {}", m.trim_end_matches(')'))
    } else if checker.contains("mutex model") {
        "mutex".to_string()
    } else if checker.starts_with("porcupine etcdModel") {
        // Porcupine's etcd model: a cas register whose initial value is nil.
        "cas-register".to_string()
    } else if checker.starts_with("porcupine kvModel") {
        "kv".to_string()
    } else {
        return None;
    };
    let e = expected.to_ascii_lowercase();
    let want = if e.starts_with("not") || e.starts_with("invalid") {
        1
    } else if e.starts_with("valid") || e.starts_with("linearizable") {
        0
    } else {
        // etcd_095.log: the cluster failed and recorded no op; MANIFEST gives no verdict.
        assert!(e.contains("empty"), "{path}: verdict {expected:?} not understood");
        return None;
    };
    Some((model, want))
}

#[test]
fn check_exits_with_the_manifest_verdict_of_every_linearizability_history() {
    let data = shared_data();
    let manifest = std::fs::read_to_string(data.join("MANIFEST.tsv")).unwrap();
    let mut checked = 0;
    let mut wrong = vec![];
    for row in manifest.lines().skip(1) {
        let cols: Vec<&str> = row.split('\t').collect();
        let Some((model, want)) = linearizability_row(cols[0], cols[2], cols[3]) else { continue };
        let out = sunder()
            .arg("check")
            .arg(data.join(cols[0]))
            .args(["--model", &model])
            .output()
            .expect("cannot start sunder");
        checked += 1;
        if out.status.code() != Some(want) {
            wrong.push(format!(
                "{} --model '{model}': exit {:?}, want {want}: {}{}",
                cols[0],
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
    }
    assert!(wrong.is_empty(), "{} of {checked} rows disagree:\n{}", wrong.len(), wrong.join("\n"));
    // 121 Knossos cas-register, 1 multi-register, 2 mutex, 102 Porcupine etcd, 6 Porcupine kv.
    assert!(checked >= 230, "expected every linearizability row, found {checked}");
}

/// Plume's anomaly patterns through `sunder check`, detected as Plume text without
/// `--format`: every one of the fourteen is invalid, as MANIFEST.tsv says
/// (`checkers/tests/txn_plume.rs` checks the levels each breaks).
#[test]
fn check_finds_every_plume_pattern_without_format_or_model() {
    let data = shared_data();
    for tap in "abcdefghijklmn".chars() {
        let file = data.join(format!("plume/tap-{tap}.txt"));
        let out = sunder().arg("check").arg(&file).arg("--json").output().unwrap();
        assert_eq!(out.status.code(), Some(1), "TAP-{tap}: {}", String::from_utf8_lossy(&out.stderr));
        let results: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(results["stats"]["source"]["format"], "plume", "TAP-{tap}");
        assert_eq!(results["models"]["strong-session-serializable"], false, "TAP-{tap}: {results}");
    }
}
