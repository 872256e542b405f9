//! Which participant owns a key: a stable hash of the key over the sorted list of nodes.
//! Every node computes the same owner from the same cluster, with no coordination, so a
//! coordinator knows where to send each operation and a participant knows which accounts
//! it creates at first start.

use crate::bank2pc::message::NodeId;

/// The cluster's nodes in a fixed order, and the key-to-node mapping over them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shards {
    nodes: Vec<NodeId>,
}

/// FNV-1a, 64 bits: stable across processes and platforms (std's hasher is seeded).
fn key_hash(key: &str) -> u64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3))
}

impl Shards {
    /// The mapping over `nodes` (order given does not matter; duplicates are dropped).
    pub fn new(mut nodes: Vec<NodeId>) -> Shards {
        nodes.sort();
        nodes.dedup();
        assert!(!nodes.is_empty(), "a cluster has at least one node");
        Shards { nodes }
    }

    /// The node holding `key`.
    pub fn owner(&self, key: &str) -> &NodeId {
        &self.nodes[(key_hash(key) % self.nodes.len() as u64) as usize]
    }

    /// Every node, in the order transactions visit participants (which is what makes
    /// lock acquisition across shards deadlock-free).
    pub fn nodes(&self) -> &[NodeId] {
        &self.nodes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_is_the_same_whatever_order_the_nodes_are_listed_in() {
        let a = Shards::new(vec!["n1".into(), "n2".into(), "n3".into()]);
        let b = Shards::new(vec!["n3".into(), "n1".into(), "n2".into()]);
        for i in 0..50 {
            let k = format!("a{i}");
            assert_eq!(a.owner(&k), b.owner(&k));
        }
        let owners: std::collections::BTreeSet<_> =
            (0..50).map(|i| a.owner(&format!("a{i}")).clone()).collect();
        assert_eq!(owners.len(), 3, "keys spread over every node");
    }
}
