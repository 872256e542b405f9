//! Consistent hashing with virtual nodes: where each key lives. Every node places
//! [`VNODES`] points on a 64-bit ring; a key's preference list is the first `n` distinct
//! nodes met walking clockwise from the key's hash, and the nodes after them are the
//! fallbacks a sloppy quorum writes hints to. Every node computes the same ring from the
//! same ids, so no placement is ever exchanged.

/// Points each node places on the ring; enough to spread keys evenly over a few nodes.
pub const VNODES: u32 = 64;

/// FNV-1a, 64 bits: stable across builds and machines, unlike `std`'s hasher.
pub fn fnv64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ *b as u64).wrapping_mul(0x100_0000_01b3))
}

/// Mixes a hash so that nearby inputs land far apart on the ring.
fn spread(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// The ring of a cluster.
#[derive(Debug, Clone)]
pub struct Ring {
    /// (point, node), sorted by point.
    points: Vec<(u64, String)>,
    nodes: usize,
    n: usize,
}

impl Ring {
    /// A ring over `nodes` placing each key on `n` of them (`n` is capped at the node count).
    pub fn new(nodes: &[String], n: usize) -> Ring {
        let mut points: Vec<(u64, String)> = nodes
            .iter()
            .flat_map(|id| {
                (0..VNODES).map(move |v| (spread(fnv64(format!("{id}#{v}").as_bytes())), id.clone()))
            })
            .collect();
        points.sort();
        Ring { points, nodes: nodes.len(), n: n.clamp(1, nodes.len().max(1)) }
    }

    /// Replicas per key.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Every node in ring order from `key`'s position, each once.
    fn walk(&self, key: &str) -> Vec<String> {
        let h = spread(fnv64(key.as_bytes()));
        let start = self.points.partition_point(|(p, _)| *p < h);
        let mut out: Vec<String> = Vec::with_capacity(self.nodes);
        for i in 0..self.points.len() {
            let node = &self.points[(start + i) % self.points.len()].1;
            if !out.contains(node) {
                out.push(node.clone());
                if out.len() == self.nodes {
                    break;
                }
            }
        }
        out
    }

    /// The `n` nodes that hold `key`.
    pub fn preference_list(&self, key: &str) -> Vec<String> {
        let mut w = self.walk(key);
        w.truncate(self.n);
        w
    }

    /// The nodes after the preference list, in the order a sloppy quorum tries them.
    pub fn fallbacks(&self, key: &str) -> Vec<String> {
        self.walk(key).split_off(self.n)
    }

    /// True when `node` is one of `key`'s replicas.
    pub fn holds(&self, node: &str, key: &str) -> bool {
        self.preference_list(key).iter().any(|x| x == node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn ids(k: usize) -> Vec<String> {
        (1..=k).map(|i| format!("n{i}")).collect()
    }

    #[test]
    fn ring_places_each_key_on_n_distinct_nodes() {
        let ring = Ring::new(&ids(5), 3);
        for k in 0..500 {
            let key = format!("kv/{k}");
            let pref = ring.preference_list(&key);
            assert_eq!(pref.len(), 3);
            let mut d = pref.clone();
            d.sort();
            d.dedup();
            assert_eq!(d.len(), 3, "{key}: {pref:?}");
            let fb = ring.fallbacks(&key);
            assert_eq!(fb.len(), 2);
            assert!(fb.iter().all(|f| !pref.contains(f)));
        }
    }

    #[test]
    fn ring_spreads_keys_over_every_node() {
        let ring = Ring::new(&ids(5), 1);
        let mut per: BTreeMap<String, usize> = BTreeMap::new();
        for k in 0..5000 {
            *per.entry(ring.preference_list(&format!("k{k}")).remove(0)).or_default() += 1;
        }
        assert_eq!(per.len(), 5);
        assert!(per.values().all(|c| *c > 500), "{per:?}");
    }

    #[test]
    fn ring_with_n_equal_to_the_cluster_puts_every_key_everywhere() {
        let ring = Ring::new(&ids(3), 3);
        assert_eq!(ring.preference_list("x").len(), 3);
        assert!(ring.fallbacks("x").is_empty());
        assert_eq!(Ring::new(&ids(3), 9).n(), 3);
    }

    #[test]
    fn placement_is_the_same_on_every_node() {
        let a = Ring::new(&ids(4), 2);
        let mut shuffled = ids(4);
        shuffled.reverse();
        let b = Ring::new(&shuffled, 2);
        for k in 0..100 {
            assert_eq!(a.preference_list(&k.to_string()), b.preference_list(&k.to_string()));
        }
    }
}
