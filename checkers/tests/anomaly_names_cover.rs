//! Every anomaly kind a checker of sunder-check can emit has a plain name: the checkers'
//! sources are scanned for the kind strings they build anomalies with, and each must be in
//! `anomaly_names`. A new checker or kind without an entry fails here.

use std::collections::BTreeSet;
use std::path::Path;
use sunder_check::anomaly_names;

fn sources(dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).expect("checkers/src is readable") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).expect("source is UTF-8");
            out.push((path.display().to_string(), text));
        }
    }
}

/// The string literal right after `at` (skipping whitespace), when there is one.
fn literal_after(text: &str, at: usize) -> Option<&str> {
    let rest = text[at..].trim_start();
    let rest = rest.strip_prefix('"')?;
    let end = rest.find('"')?;
    Some(&rest[..end])
}

fn literals_in(line: &str) -> Vec<&str> {
    line.split('"').skip(1).step_by(2).collect()
}

/// Kind strings as the checkers write them: `kind: "x"`, `.kind = "x"`, `anomaly("x", ...)`,
/// `errors.push(("x", ...))`, a session model's name, and Elle's cycle names in `classify`.
fn emitted_kinds() -> BTreeSet<String> {
    let mut files = vec![];
    sources(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
    let mut kinds = BTreeSet::new();
    for (path, text) in &files {
        if path.ends_with("anomaly_names.rs") || path.contains("/history/") || path.contains("/import/") {
            continue;
        }
        for pattern in ["kind: ", "kind = ", "anomaly(", "errors.push(("] {
            for (at, _) in text.match_indices(pattern) {
                if let Some(k) = literal_after(text, at + pattern.len()) {
                    kinds.insert(k.to_string());
                }
            }
        }
        for line in text.lines() {
            let session_model = path.ends_with("session.rs")
                && (line.contains("Frontier::") && line.contains("=> \"") || line.contains("let model = \""));
            if line.contains("kind: if") || session_model {
                kinds.extend(literals_in(line).into_iter().map(str::to_string));
            }
        }
        if let Some(start) = text.find("fn classify(") {
            let body = &text[start..start + text[start..].find("\n}\n").expect("classify ends")];
            for k in literals_in(body).into_iter().filter(|k| !k.contains('{')) {
                for suffix in ["", "-process", "-realtime"] {
                    kinds.insert(format!("{k}{suffix}"));
                }
            }
        }
    }
    kinds
}

#[test]
fn every_kind_a_checker_can_emit_has_a_plain_name() {
    let kinds = emitted_kinds();
    // The scan must find the kinds it is known to, or it is checking nothing.
    for known in [
        "nonlinearizable",
        "WriteCORead",
        "read-your-writes",
        "monotonic-reads",
        "G1c-realtime",
        "wrong-total",
        "lost",
        "fractured-read",
        "read-above-upper-bound",
    ] {
        assert!(kinds.contains(known), "the scan missed {known}: found {kinds:?}");
    }
    assert!(kinds.len() >= 45, "only {} kinds found: {kinds:?}", kinds.len());
    let missing: Vec<&String> = kinds.iter().filter(|k| anomaly_names::lookup(k).is_none()).collect();
    assert!(missing.is_empty(), "kinds without a plain name: {missing:?}");
}

#[test]
fn read_your_writes_reads_as_a_client_not_seeing_its_own_write() {
    let n = anomaly_names::lookup("read-your-writes").expect("named");
    assert_eq!(n.name, "a client did not see its own write");
    assert!(n.paper.expect("paper label").contains("Terry"));
    let w = anomaly_names::lookup("WriteCORead").expect("named");
    assert!(w.paper.expect("paper label").starts_with("WriteCORead"), "the paper's name is kept");
}
