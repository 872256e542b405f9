//! Who refuses to hear whom during a partition. A [`Grudge`] maps each node to the set of
//! nodes it drops traffic from; both network backends enforce exactly this map (the netns
//! backend as DROP rules in the receiving node's namespace, the local backend by holding
//! bytes in its proxies). The shapes of DESIGN.md (`one`, `halves`, `majorities-ring`,
//! `bridge`, `leader`, and their one-way variants) are built here from a seeded RNG, so a
//! run's partitions follow from its seed.

use crate::error::{NemesisError, Result};
use rand::Rng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

/// For each node, the nodes whose traffic it drops. Nodes with no grudge are absent.
///
/// Serializes as `{"n1": ["n3", "n4"], ...}`, the shape recorded in nemesis ops.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Grudge(BTreeMap<String, BTreeSet<String>>);

impl Grudge {
    /// A grudge that drops nothing.
    pub fn none() -> Grudge {
        Grudge::default()
    }

    /// Makes `receiver` drop traffic from `sender`; a node never holds a grudge against itself.
    pub fn drop_from(&mut self, receiver: &str, sender: &str) {
        if receiver != sender {
            self.0.entry(receiver.to_string()).or_default().insert(sender.to_string());
        }
    }

    /// Whether `receiver` drops traffic from `sender`.
    pub fn drops(&self, receiver: &str, sender: &str) -> bool {
        self.0.get(receiver).is_some_and(|s| s.contains(sender))
    }

    /// Whether a TCP connection between `a` and `b` is broken: it is as soon as either side
    /// drops the other's packets, because the handshake and the acknowledgements need both
    /// directions.
    pub fn severs(&self, a: &str, b: &str) -> bool {
        self.drops(a, b) || self.drops(b, a)
    }

    /// True when no node drops anything.
    pub fn is_empty(&self) -> bool {
        self.0.values().all(BTreeSet::is_empty)
    }

    /// The nodes `receiver` drops traffic from (empty when none).
    pub fn dropped_by(&self, receiver: &str) -> impl Iterator<Item = &str> {
        self.0.get(receiver).into_iter().flat_map(|s| s.iter().map(String::as_str))
    }

    /// Every `(receiver, sender)` pair of the grudge, in a stable order.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().flat_map(|(r, ss)| ss.iter().map(move |s| (r.as_str(), s.as_str())))
    }

    /// Checks that every node named in the grudge is one of `nodes`.
    pub fn validate(&self, nodes: &[String]) -> Result<()> {
        for (r, s) in self.pairs() {
            for n in [r, s] {
                if !nodes.iter().any(|x| x == n) {
                    return Err(NemesisError::UnknownNode(n.to_string()));
                }
            }
        }
        Ok(())
    }

    /// A grudge that cuts every node of `side` off from every node of `other`, both ways.
    pub fn between(side: &[String], other: &[String]) -> Grudge {
        let mut g = Grudge::none();
        for a in side {
            for b in other {
                g.drop_from(a, b);
                g.drop_from(b, a);
            }
        }
        g
    }

    /// Isolates `node` from every other node, both ways (`leader` and `one` use it).
    pub fn isolate(nodes: &[String], node: &str) -> Grudge {
        let others: Vec<String> = nodes.iter().filter(|n| *n != node).cloned().collect();
        Grudge::between(&[node.to_string()], &others)
    }

    /// Keeps only the drops done by nodes in `receivers`: the one-way form of a cut, where
    /// those nodes hear nothing from the rest while the rest still hear them.
    pub fn only_received_by(&self, receivers: &[String]) -> Grudge {
        let mut g = Grudge::none();
        for (r, s) in self.pairs() {
            if receivers.iter().any(|x| x == r) {
                g.drop_from(r, s);
            }
        }
        g
    }
}

/// The partition shapes Sunder knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PartitionShape {
    /// Isolate one random node.
    One,
    /// Split the nodes into two halves, the first one smaller when the count is odd.
    Halves,
    /// Every node sees a majority, no two nodes the same one (needs at least 4 nodes).
    MajoritiesRing,
    /// Two halves that cannot talk, joined by one node that sees both.
    Bridge,
    /// Isolate the node whose `/status` says it is the leader.
    Leader,
}

impl PartitionShape {
    /// Every shape, in a stable order.
    pub const ALL: [PartitionShape; 5] = [
        PartitionShape::One,
        PartitionShape::Halves,
        PartitionShape::MajoritiesRing,
        PartitionShape::Bridge,
        PartitionShape::Leader,
    ];

    /// The name used on the command line and in nemesis ops.
    pub fn name(self) -> &'static str {
        match self {
            PartitionShape::One => "one",
            PartitionShape::Halves => "halves",
            PartitionShape::MajoritiesRing => "majorities-ring",
            PartitionShape::Bridge => "bridge",
            PartitionShape::Leader => "leader",
        }
    }

    /// Whether the shape cuts anything on a cluster of `n` nodes.
    pub fn fits(self, n: usize) -> bool {
        match self {
            PartitionShape::One | PartitionShape::Halves | PartitionShape::Leader => n >= 2,
            PartitionShape::Bridge => n >= 3,
            PartitionShape::MajoritiesRing => n >= 4,
        }
    }
}

impl fmt::Display for PartitionShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for PartitionShape {
    type Err = NemesisError;
    fn from_str(s: &str) -> Result<PartitionShape> {
        PartitionShape::ALL.into_iter().find(|p| p.name() == s).ok_or_else(|| {
            NemesisError::Invalid(format!(
                "unknown partition shape {s:?}; expected one of one, halves, majorities-ring, bridge, leader"
            ))
        })
    }
}

/// Builds the grudge of `shape` over `nodes`, drawing every choice from `rng`.
///
/// `leader` is the node to isolate for [`PartitionShape::Leader`] (ignored otherwise).
/// With `one_way`, only the first component (the isolated node, the smaller half, ...)
/// drops traffic, so the others still hear it; for the ring, each node drops only the
/// far nodes on one side of it.
pub fn build(
    shape: PartitionShape,
    one_way: bool,
    nodes: &[String],
    leader: Option<&str>,
    rng: &mut (impl Rng + ?Sized),
) -> Result<Grudge> {
    if !shape.fits(nodes.len()) {
        return Err(NemesisError::Invalid(format!(
            "partition {shape} needs more nodes than the {} of this cluster",
            nodes.len()
        )));
    }
    let mut order = nodes.to_vec();
    order.shuffle(rng);
    let (first, grudge) = match shape {
        PartitionShape::One => {
            let first = vec![order[0].clone()];
            let g = Grudge::between(&first, &order[1..]);
            (first, g)
        }
        PartitionShape::Leader => {
            let leader =
                leader.ok_or_else(|| NemesisError::Invalid("partition leader: no leader known".into()))?;
            if !nodes.iter().any(|n| n == leader) {
                return Err(NemesisError::UnknownNode(leader.to_string()));
            }
            (vec![leader.to_string()], Grudge::isolate(nodes, leader))
        }
        PartitionShape::Halves => {
            let (a, b) = order.split_at(order.len() / 2);
            (a.to_vec(), Grudge::between(a, b))
        }
        PartitionShape::Bridge => {
            // order = [side A .. | bridge | .. side B]; the bridge node keeps both sides.
            let mid = order.len() / 2;
            let (a, rest) = order.split_at(mid);
            let b = &rest[1..];
            (a.to_vec(), Grudge::between(a, b))
        }
        PartitionShape::MajoritiesRing => return Ok(ring(&order, one_way)),
    };
    Ok(if one_way { grudge.only_received_by(&first) } else { grudge })
}

/// Nodes on a ring hear only those within `reach` steps, where `reach` is the smallest
/// distance that still lets each node see a majority (itself included).
fn ring(order: &[String], one_way: bool) -> Grudge {
    let n = order.len();
    let majority = n / 2 + 1;
    let reach = majority / 2; // node + `reach` on each side = 2*reach+1 >= majority
    let reach = if 2 * reach + 1 < majority { reach + 1 } else { reach };
    let mut g = Grudge::none();
    for (i, r) in order.iter().enumerate() {
        for (j, s) in order.iter().enumerate() {
            let ahead = (j + n - i) % n; // steps clockwise from r to s
            let dist = ahead.min(n - ahead);
            // one-way: r drops only the far nodes ahead of it (ties by position), so no
            // pair is cut in both directions.
            let forward = ahead < n - ahead || (2 * ahead == n && i < j);
            if dist > reach && (!one_way || forward) {
                g.drop_from(r, s);
            }
        }
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn nodes(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("n{i}")).collect()
    }

    fn sees(g: &Grudge, nodes: &[String], a: &str) -> usize {
        nodes.iter().filter(|b| !g.severs(a, b)).count()
    }

    #[test]
    fn one_isolates_exactly_one_node_both_ways() {
        let ns = nodes(5);
        let g = build(PartitionShape::One, false, &ns, None, &mut ChaCha8Rng::seed_from_u64(1)).unwrap();
        let isolated: Vec<_> = ns.iter().filter(|n| sees(&g, &ns, n) == 1).collect();
        assert_eq!(isolated.len(), 1);
        for n in &ns {
            if n != isolated[0] {
                assert!(g.drops(isolated[0], n) && g.drops(n, isolated[0]));
                assert_eq!(sees(&g, &ns, n), 4);
            }
        }
    }

    #[test]
    fn halves_cut_two_from_three() {
        let ns = nodes(5);
        let g = build(PartitionShape::Halves, false, &ns, None, &mut ChaCha8Rng::seed_from_u64(2)).unwrap();
        let mut sizes: Vec<usize> = ns.iter().map(|n| sees(&g, &ns, n)).collect();
        sizes.sort();
        assert_eq!(sizes, vec![2, 2, 3, 3, 3]);
    }

    #[test]
    fn majorities_ring_gives_every_node_a_different_majority() {
        for n in [4, 5, 6, 7, 9] {
            let ns = nodes(n);
            let g =
                build(PartitionShape::MajoritiesRing, false, &ns, None, &mut ChaCha8Rng::seed_from_u64(3))
                    .unwrap();
            let views: BTreeSet<Vec<&String>> =
                ns.iter().map(|a| ns.iter().filter(|b| !g.severs(a, b)).collect()).collect();
            assert_eq!(views.len(), n, "{n} nodes: views not all distinct");
            for a in &ns {
                assert!(sees(&g, &ns, a) > n / 2, "{n} nodes: {a} sees no majority");
                assert!(sees(&g, &ns, a) < n, "{n} nodes: {a} sees everyone");
            }
        }
    }

    #[test]
    fn bridge_node_sees_everyone_and_the_sides_do_not_meet() {
        let ns = nodes(5);
        let g = build(PartitionShape::Bridge, false, &ns, None, &mut ChaCha8Rng::seed_from_u64(4)).unwrap();
        let bridges: Vec<_> = ns.iter().filter(|n| sees(&g, &ns, n) == 5).collect();
        assert_eq!(bridges.len(), 1);
        let mut sizes: Vec<usize> = ns.iter().map(|n| sees(&g, &ns, n)).collect();
        sizes.sort();
        assert_eq!(sizes, vec![3, 3, 3, 3, 5]);
    }

    #[test]
    fn leader_shape_isolates_the_given_node() {
        let ns = nodes(3);
        let g =
            build(PartitionShape::Leader, false, &ns, Some("n2"), &mut ChaCha8Rng::seed_from_u64(5)).unwrap();
        assert_eq!(g, Grudge::isolate(&ns, "n2"));
        assert!(build(PartitionShape::Leader, false, &ns, None, &mut ChaCha8Rng::seed_from_u64(5)).is_err());
    }

    #[test]
    fn one_way_variant_keeps_only_drops_by_the_first_side() {
        let ns = nodes(5);
        let g = build(PartitionShape::One, true, &ns, None, &mut ChaCha8Rng::seed_from_u64(6)).unwrap();
        let receivers: BTreeSet<&str> = g.pairs().map(|(r, _)| r).collect();
        assert_eq!(receivers.len(), 1);
        let r = *receivers.iter().next().unwrap();
        assert_eq!(g.dropped_by(r).count(), 4);
        let ring = build(PartitionShape::MajoritiesRing, true, &ns, None, &mut ChaCha8Rng::seed_from_u64(6))
            .unwrap();
        for (r, s) in ring.pairs() {
            assert!(!ring.drops(s, r), "one-way ring has a symmetric pair {r} {s}");
        }
        assert!(!ring.is_empty());
    }

    #[test]
    fn same_seed_gives_same_grudge() {
        let ns = nodes(7);
        for shape in PartitionShape::ALL.into_iter().filter(|s| *s != PartitionShape::Leader) {
            let a = build(shape, false, &ns, None, &mut ChaCha8Rng::seed_from_u64(9)).unwrap();
            let b = build(shape, false, &ns, None, &mut ChaCha8Rng::seed_from_u64(9)).unwrap();
            assert_eq!(a, b);
        }
    }

    #[test]
    fn grudge_serializes_as_node_to_dropped_senders() {
        let mut g = Grudge::none();
        g.drop_from("n1", "n3");
        assert_eq!(serde_json::to_value(&g).unwrap(), serde_json::json!({"n1": ["n3"]}));
    }

    #[test]
    fn shapes_refuse_clusters_too_small() {
        let ns = nodes(3);
        let err = build(PartitionShape::MajoritiesRing, false, &ns, None, &mut ChaCha8Rng::seed_from_u64(1));
        assert!(err.is_err());
    }
}
