//! Conformance with the anchors on their own data: every linearizability row of the shared
//! data set's `MANIFEST.tsv` (Porcupine's etcd and kv histories, Knossos's cas-register,
//! multi-register and mutex histories) is checked, and the verdict must agree with the one
//! the manifest records. The model comes from the manifest row too (Knossos's notation
//! `(cas-register 0)` where it gives one), never from a per-file table.
//!
//! The data lives beside the repository: `$SUNDER_DATA`, or `<repo>/../shared/data`.

use std::path::PathBuf;
use sunder_check::Validity;
use sunder_check::import::{Format, load};
use sunder_check::linearizable::{Budget, ModelKind, check};

fn data_dir() -> PathBuf {
    let dir = std::env::var_os("SUNDER_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"));
    assert!(
        dir.join("MANIFEST.tsv").is_file(),
        "the shared data set is missing: no MANIFEST.tsv in {}; set SUNDER_DATA to the folder holding it",
        dir.display()
    );
    dir
}

/// One manifest row meant for the linearizability checker.
struct Row {
    file: String,
    model: ModelKind,
    expected: Option<bool>,
}

/// The model a row names: Knossos's `(model init)` when present, else by data source.
fn model_of(file: &str, checker: &str) -> Option<ModelKind> {
    if let (Some(open), Some(close)) = (checker.find('('), checker.rfind(')'))
        && let Ok(model) = checker[open..=close].parse::<ModelKind>()
    {
        return Some(model);
    }
    if checker.contains("mutex") {
        return Some(ModelKind::Mutex);
    }
    if file.starts_with("porcupine/kv/") {
        return Some(ModelKind::Kv);
    }
    if file.starts_with("porcupine/etcd/") {
        return Some(ModelKind::CasRegister { initial: None });
    }
    None
}

/// The expected verdict; `None` for a row that holds no history (a failed run).
fn verdict_of(expected: &str) -> Option<bool> {
    let e = expected.to_ascii_lowercase();
    if e.starts_with("empty") {
        None
    } else if e.starts_with("not") || e.starts_with("invalid") {
        Some(false)
    } else if e.starts_with("valid") || e.starts_with("linearizable") {
        Some(true)
    } else {
        panic!("unreadable expected verdict '{expected}'")
    }
}

fn rows() -> Vec<Row> {
    let dir = data_dir();
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv")).expect("MANIFEST.tsv is readable");
    let mut rows = Vec::new();
    for line in manifest.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let [file, _format, checker, expected, ..] = cols[..] else { continue };
        let linearizability = file.starts_with("porcupine/")
            || file.starts_with("knossos/")
            || file.starts_with("elle-cli/knossos/");
        if !linearizability {
            continue;
        }
        let model = model_of(file, checker).unwrap_or_else(|| panic!("no model for {file}: '{checker}'"));
        rows.push(Row { file: file.to_string(), model, expected: verdict_of(expected) });
    }
    rows
}

#[test]
fn agrees_with_every_linearizability_verdict_of_the_shared_data() {
    let dir = data_dir();
    let rows = rows();
    assert!(rows.len() >= 200, "only {} linearizability rows found", rows.len());
    let mut disagreements = Vec::new();
    let budget = Budget { time: Some(std::time::Duration::from_secs(60)), ..Budget::default() };
    for row in &rows {
        let path = dir.join(&row.file);
        let Some(expected) = row.expected else {
            // A run that recorded nothing: there is no history to judge, and detection says so.
            let e = load(&path, Format::Auto).expect_err("an empty file has no format");
            assert!(e.to_string().contains("empty"), "{e}");
            continue;
        };
        let imported = load(&path, Format::Auto).unwrap_or_else(|e| panic!("{e}"));
        let result = check(&imported.history, row.model.clone(), imported.fail_semantics, &budget);
        let got = match result.valid {
            Validity::Valid => Some(true),
            Validity::Invalid => Some(false),
            Validity::Unknown => None,
        };
        if got != Some(expected) {
            disagreements.push(format!(
                "{}: expected {expected}, got {:?} ({:?})",
                row.file, result.valid, result.reason
            ));
        }
        if !expected && result.valid == Validity::Invalid {
            // A witness problem is one more disagreement, reported with the others.
            match result.anomalies.first() {
                Some(a) if a.kind == "nonlinearizable" && a.witness.get("failed").is_some() => {}
                Some(a) => disagreements.push(format!(
                    "{}: invalid, but its first anomaly is {:?} with witness {}",
                    row.file, a.kind, a.witness
                )),
                None => disagreements.push(format!("{}: invalid without an anomaly", row.file)),
            }
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} of {} rows disagree:\n{}",
        disagreements.len(),
        rows.len(),
        disagreements.join("\n")
    );
}
