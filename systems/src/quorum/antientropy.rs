//! Anti-entropy by per-range digests. The keys two replicas share are split into
//! [`BUCKETS`] ranges by hash; each range's digest is the wrapping sum of one hash per
//! (key, state), so it does not depend on iteration order and two replicas holding the
//! same states agree on it. A round exchanges the digests, then only the states of the
//! ranges that differ, never a whole-store copy.

use crate::quorum::replica::Stored;
use crate::quorum::ring::fnv64;
use std::collections::BTreeMap;

/// Ranges the key space is digested in.
pub const BUCKETS: u32 = 64;

/// The range `key` falls in.
pub fn bucket(key: &str) -> u32 {
    (fnv64(key.as_bytes()) % BUCKETS as u64) as u32
}

/// One hash of a key and its state; equal states serialize identically (their maps are
/// ordered and siblings sorted), so equal pairs hash equal on every node.
fn entry_hash(key: &str, state: &Stored) -> u64 {
    let mut bytes = key.as_bytes().to_vec();
    bytes.push(0);
    bytes.extend(serde_json::to_vec(state).expect("states serialize"));
    fnv64(&bytes)
}

/// Digests of every range over the `(key, state)` pairs given.
pub fn digests<'a>(entries: impl IntoIterator<Item = (&'a String, &'a Stored)>) -> Vec<u64> {
    let mut out = vec![0u64; BUCKETS as usize];
    for (k, s) in entries {
        let b = &mut out[bucket(k) as usize];
        *b = b.wrapping_add(entry_hash(k, s));
    }
    out
}

/// The ranges whose digests differ.
pub fn differing(mine: &[u64], theirs: &[u64]) -> Vec<u32> {
    (0..BUCKETS).filter(|b| mine.get(*b as usize) != theirs.get(*b as usize)).collect()
}

/// The `(key, state)` pairs that fall in `buckets`.
pub fn in_buckets<'a>(
    entries: impl IntoIterator<Item = (&'a String, &'a Stored)>,
    buckets: &[u32],
) -> BTreeMap<String, Stored> {
    entries
        .into_iter()
        .filter(|(k, _)| buckets.contains(&bucket(k)))
        .map(|(k, s)| (k.clone(), s.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quorum::clock::Stamp;
    use serde_json::json;

    fn store(pairs: &[(&str, u64)]) -> BTreeMap<String, Stored> {
        pairs
            .iter()
            .map(|(k, t)| {
                (
                    k.to_string(),
                    Stored::Lww { stamp: Stamp { time: *t, logical: 0, node: "n1".into() }, value: json!(t) },
                )
            })
            .collect()
    }

    #[test]
    fn equal_stores_have_equal_digests_and_no_differing_range() {
        let a = store(&[("a", 1), ("b", 2), ("c", 3)]);
        let b = store(&[("c", 3), ("a", 1), ("b", 2)]);
        assert!(differing(&digests(&a), &digests(&b)).is_empty());
    }

    #[test]
    fn digests_single_out_only_the_ranges_that_differ() {
        let keys: Vec<String> = (0..200).map(|i| format!("k{i}")).collect();
        let pairs: Vec<(&str, u64)> = keys.iter().map(|k| (k.as_str(), 1)).collect();
        let a = store(&pairs);
        let mut b = a.clone();
        b.insert("k17".into(), store(&[("k17", 2)]).remove("k17").expect("k17"));
        let diff = differing(&digests(&a), &digests(&b));
        assert_eq!(diff, vec![bucket("k17")]);
        let sent = in_buckets(&b, &diff);
        assert!(sent.contains_key("k17"));
        assert!(sent.len() < b.len() / 10, "a round ships one range, not the store: {}", sent.len());
    }
}
