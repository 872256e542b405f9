//! The isolation ladder and what each anomaly rules out. The ladder, weakest first:
//! read-uncommitted < read-committed < monotonic-atomic-view < repeatable-read and
//! snapshot-isolation (incomparable) < serializable < strong-session-serializable <
//! strict-serializable. An anomaly rules out the models that proscribe it and, by
//! implication, every stronger model; a model holds when no anomaly rules it out and every
//! search it depends on finished.

use super::cycles::Decided;

/// Every model, strongest first (the order `results.json` lists models in).
pub const MODELS: [&str; 8] = [
    "strict-serializable",
    "strong-session-serializable",
    "serializable",
    "snapshot-isolation",
    "repeatable-read",
    "monotonic-atomic-view",
    "read-committed",
    "read-uncommitted",
];

/// The models directly stronger than `model`.
fn stronger(model: &str) -> &'static [&'static str] {
    match model {
        "read-uncommitted" => &["read-committed"],
        "read-committed" => &["monotonic-atomic-view"],
        "monotonic-atomic-view" => &["repeatable-read", "snapshot-isolation"],
        "repeatable-read" | "snapshot-isolation" => &["serializable"],
        "serializable" => &["strong-session-serializable"],
        "strong-session-serializable" => &["strict-serializable"],
        _ => &[],
    }
}

/// The weakest models an anomaly kind violates directly.
fn proscribed_by(kind: &str) -> &'static [&'static str] {
    let base = kind.trim_end_matches("-realtime").trim_end_matches("-process");
    if kind.ends_with("-realtime") {
        return &["strict-serializable"];
    }
    if kind.ends_with("-process") && base != kind {
        return &["strong-session-serializable"];
    }
    match base {
        // Elle's PL-1 (read uncommitted) proscribes these: version orders must be total.
        "G0" | "duplicate-elements" | "cyclic-versions" => &["read-uncommitted"],
        // Elle: incompatible orders and dirty updates imply an aborted read (G1a). Plume
        // (OOPSLA 2024, Theorem 3) puts thin-air reads and a transaction contradicting its
        // own reads and writes (TAP-a, c, d, e) below read committed; Elle, whose ladder
        // has read atomic, places `internal` there instead.
        "G1a" | "G1b" | "G1c" | "dirty-update" | "incompatible-order" | "internal" | "garbage-read" => {
            &["read-committed"]
        }
        // Bailis: monotonic atomic view forbids seeing only part of a transaction.
        "fractured-read" => &["monotonic-atomic-view"],
        // Plume (TAP-j, Read Atomic) and Elle (internal, read atomic): reading a key twice
        // and seeing two versions is allowed by read committed.
        "non-repeatable-read" => &["monotonic-atomic-view"],
        // Elle: lost update is proscribed by repeatable read and, through parallel SI's
        // update atomicity, by snapshot isolation; SI proscribes G-single and G-nonadjacent (and
        // so their item cases).
        "lost-update" | "G-single-item" | "G-nonadjacent-item" => &["repeatable-read", "snapshot-isolation"],
        // Adya: PL-2.99 proscribes G2-item; snapshot isolation allows write skew.
        "G2-item" => &["repeatable-read"],
        _ => &["serializable"],
    }
}

/// Every model `kind` rules out, strongest first.
pub fn ruled_out_by(kind: &str) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = vec![];
    let mut todo: Vec<&'static str> = proscribed_by(kind).to_vec();
    while let Some(m) = todo.pop() {
        if !out.contains(&m) {
            out.push(m);
            todo.extend_from_slice(stronger(m));
        }
    }
    MODELS.iter().copied().filter(|m| out.contains(m)).collect()
}

/// Whether the searches `model` depends on all finished.
pub(crate) fn decided(model: &str, d: &Decided) -> bool {
    match model {
        "read-uncommitted" => d.g0,
        "read-committed" | "monotonic-atomic-view" => d.g0 && d.g1c,
        "repeatable-read" | "serializable" => d.g1c && d.full,
        "snapshot-isolation" => d.g1c && d.si,
        "strong-session-serializable" => d.full && d.process,
        _ => d.full && d.process && d.realtime,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g2_item_rules_out_repeatable_read_but_not_snapshot_isolation() {
        let out = ruled_out_by("G2-item");
        assert!(out.contains(&"repeatable-read") && out.contains(&"serializable"));
        assert!(!out.contains(&"snapshot-isolation"));
    }

    #[test]
    fn realtime_cycles_rule_out_only_strict_serializability() {
        assert_eq!(ruled_out_by("G-single-item-realtime"), vec!["strict-serializable"]);
        assert_eq!(ruled_out_by("G1c-process"), vec!["strict-serializable", "strong-session-serializable"]);
    }

    #[test]
    fn internal_inconsistency_rules_out_read_committed_as_plume_says() {
        assert!(ruled_out_by("internal").contains(&"read-committed"));
        assert!(!ruled_out_by("internal").contains(&"read-uncommitted"));
    }

    #[test]
    fn g0_rules_out_the_whole_ladder() {
        assert_eq!(ruled_out_by("G0").len(), MODELS.len());
    }
}
