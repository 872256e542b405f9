//! The names every run's network objects carry, derived from the run id alone so that
//! teardown and `sunder cleanup` can find them again without any other state: namespaces
//! `sunder-<run_id>-<node>`, `sunder-<run_id>-br`, `sunder-<run_id>-ctl`, and the iptables
//! chain `SUNDER-<short run id>` inside each node namespace.

use crate::error::{NemesisError, Result};

/// Prefix of every namespace Sunder creates.
pub const NS_PREFIX: &str = "sunder-";

/// Longest run id accepted; keeps namespace names and chain names within kernel limits.
pub const MAX_RUN_ID: usize = 24;

/// Checks a run id: 1 to 24 ASCII letters and digits. No `-`, so that the run id of a
/// namespace name `sunder-<run_id>-<rest>` is everything up to the second dash.
pub fn validate_run_id(run_id: &str) -> Result<()> {
    if run_id.is_empty() || run_id.len() > MAX_RUN_ID || !run_id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(NemesisError::Invalid(format!(
            "run id {run_id:?} must be 1 to {MAX_RUN_ID} ASCII letters or digits"
        )));
    }
    Ok(())
}

/// Checks node names: unique, non-empty, letters, digits, `_` or `-`, at most 32 long, and
/// not `br` or `ctl`, which name the run's bridge and control namespaces.
pub fn validate_nodes(nodes: &[String]) -> Result<()> {
    if nodes.is_empty() {
        return Err(NemesisError::Invalid("a cluster needs at least one node".into()));
    }
    for (i, n) in nodes.iter().enumerate() {
        let ok_chars = n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if n.is_empty() || n.len() > 32 || !ok_chars {
            return Err(NemesisError::Invalid(format!(
                "node name {n:?} must be 1 to 32 ASCII letters, digits, '_' or '-'"
            )));
        }
        if n == "br" || n == "ctl" {
            return Err(NemesisError::Invalid(format!("node name {n:?} is reserved")));
        }
        if nodes[..i].contains(n) {
            return Err(NemesisError::Invalid(format!("node name {n:?} appears twice")));
        }
    }
    Ok(())
}

/// Namespace of `node` in run `run_id`.
pub fn node_ns(run_id: &str, node: &str) -> String {
    format!("{NS_PREFIX}{run_id}-{node}")
}

/// Namespace holding the run's bridge.
pub fn bridge_ns(run_id: &str) -> String {
    format!("{NS_PREFIX}{run_id}-br")
}

/// Namespace the harness and its clients live in.
pub fn control_ns(run_id: &str) -> String {
    format!("{NS_PREFIX}{run_id}-ctl")
}

/// Sunder's own iptables chain in each node namespace of the run.
pub fn chain(run_id: &str) -> String {
    let short: String = run_id.chars().take(20).collect();
    format!("SUNDER-{short}")
}

/// The run id a Sunder namespace belongs to, or None for other namespaces.
pub fn run_of_namespace(ns: &str) -> Option<&str> {
    let rest = ns.strip_prefix(NS_PREFIX)?;
    let (run, tail) = rest.split_once('-')?;
    (validate_run_id(run).is_ok() && !tail.is_empty()).then_some(run)
}

/// 64-bit FNV-1a: a fixed hash (unlike std's), so derived subnets are stable across runs.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_id_of_namespace_stops_at_the_second_dash() {
        assert_eq!(run_of_namespace("sunder-abc1-n-1"), Some("abc1"));
        assert_eq!(run_of_namespace("sunder-abc1-br"), Some("abc1"));
        assert_eq!(run_of_namespace("other-abc1-br"), None);
        assert_eq!(run_of_namespace("sunder-abc1"), None);
    }

    #[test]
    fn rejects_run_ids_with_dashes_and_reserved_node_names() {
        assert!(validate_run_id("a-b").is_err());
        assert!(validate_run_id("").is_err());
        assert!(validate_run_id("r20261126t0225s42").is_ok());
        assert!(validate_nodes(&["n1".into(), "ctl".into()]).is_err());
        assert!(validate_nodes(&["n1".into(), "n1".into()]).is_err());
    }

    #[test]
    fn chain_name_fits_iptables_limit() {
        assert!(chain("abcdefghijklmnopqrstuvwx").len() <= 28);
    }
}
