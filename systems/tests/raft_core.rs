//! Deterministic tests of the pure Raft core, named after the sections of the paper they
//! check. Nodes talk over an in-memory network that can cut links, isolate nodes, delay
//! (and so reorder) and drop messages, with every choice drawn from a seeded RNG; nodes
//! crash and restart from exactly what their `Ready`s asked to persist. A node's state
//! machine is the list of entries it applied, and its snapshots (section 7) serialize
//! that list, so a snapshot that drops or skips an entry shows as a gap.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use sunder_systems::kv::Command;
use sunder_systems::raft::core::{CoreConfig, RaftCore, Role};
use sunder_systems::raft::message::{Body, Entry, HardState, Message, Snapshot};

/// What a node has on "disk": only what its `Ready`s asked to persist.
#[derive(Default, Clone)]
struct Disk {
    hard: HardState,
    snapshot: Option<Snapshot>,
    /// Entries after the snapshot.
    log: Vec<Entry>,
}

impl Disk {
    fn base(&self) -> u64 {
        self.snapshot.as_ref().map_or(0, |s| s.index)
    }
}

/// The state machine a snapshot holds.
fn snapshot_state(snap: &Option<Snapshot>) -> Vec<Entry> {
    snap.as_ref().map_or_else(Vec::new, |s| serde_json::from_slice(&s.data).expect("sim snapshot"))
}

struct SimNode {
    cfg: CoreConfig,
    core: Option<RaftCore>,
    disk: Disk,
    applied: Vec<Entry>,
}

struct InFlight {
    at: u64,
    seq: u64,
    msg: Message,
}

/// The in-memory cluster and network, with invariant bookkeeping.
struct Sim {
    nodes: BTreeMap<String, SimNode>,
    in_flight: Vec<InFlight>,
    seq: u64,
    now: u64,
    rng: ChaCha8Rng,
    drop_prob: f64,
    max_delay: u64,
    /// Directed links that lose every message.
    cut: BTreeSet<(String, String)>,
    /// Leaders seen per term (election safety).
    leaders: BTreeMap<u64, BTreeSet<String>>,
    /// Entries leaders committed, with the term they were committed in.
    committed_by_leaders: BTreeMap<u64, (Entry, u64)>,
    /// The first entry any node applied at each index (state-machine safety).
    applied_at: BTreeMap<u64, Entry>,
    violations: Vec<String>,
    next_value: u64,
    /// Snapshots nodes took, installed, and InstallSnapshot chunks sent.
    snapshots_taken: u64,
    snapshots_installed: u64,
    snapshot_chunks: u64,
}

fn ids(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("s{i}")).collect()
}

impl Sim {
    fn new(n: usize, seed: u64, tweak: impl Fn(&mut CoreConfig)) -> Sim {
        let all = ids(n);
        let mut nodes = BTreeMap::new();
        for (i, id) in all.iter().enumerate() {
            let peers = all.iter().filter(|p| *p != id).cloned().collect();
            let mut cfg = CoreConfig::new(id.clone(), peers, seed * 1000 + i as u64);
            cfg.election_ticks = 10;
            cfg.heartbeat_ticks = 2;
            cfg.max_append_entries = 8;
            tweak(&mut cfg);
            let core = RaftCore::new(cfg.clone(), HardState::default(), Vec::new());
            nodes.insert(
                id.clone(),
                SimNode { cfg, core: Some(core), disk: Disk::default(), applied: Vec::new() },
            );
        }
        Sim {
            nodes,
            in_flight: Vec::new(),
            seq: 0,
            now: 0,
            rng: ChaCha8Rng::seed_from_u64(seed),
            drop_prob: 0.0,
            max_delay: 0,
            cut: BTreeSet::new(),
            leaders: BTreeMap::new(),
            committed_by_leaders: BTreeMap::new(),
            applied_at: BTreeMap::new(),
            violations: Vec::new(),
            next_value: 0,
            snapshots_taken: 0,
            snapshots_installed: 0,
            snapshot_chunks: 0,
        }
    }

    fn core(&mut self, id: &str) -> &mut RaftCore {
        self.nodes.get_mut(id).and_then(|n| n.core.as_mut()).expect("node is up")
    }

    /// Persists, sends and applies what `id`'s core asks for.
    fn drain(&mut self, id: &str) {
        let node = self.nodes.get_mut(id).expect("node");
        let Some(core) = node.core.as_mut() else { return };
        let ready = core.ready();
        let status = core.status();
        if let Some(h) = ready.hard_state {
            node.disk.hard = h;
        }
        if let Some(snap) = ready.install {
            node.applied = snapshot_state(&Some(snap.clone()));
            node.disk.snapshot = Some(snap);
            node.disk.log = ready.install_log;
            self.snapshots_installed += 1;
        }
        if let Some(from) = ready.log_from {
            node.disk.log.truncate((from - node.disk.base() - 1) as usize);
            node.disk.log.extend(ready.entries);
        }
        for e in ready.committed {
            let durable = node.disk.base() + node.disk.log.len() as u64;
            assert!(e.index <= durable, "applied an entry that is not durable");
            let expected = node.applied.last().map_or(1, |p| p.index + 1);
            if e.index != expected {
                self.violations.push(format!(
                    "state machine gap: {id} applied index {} when its state machine ends at {}",
                    e.index,
                    expected - 1
                ));
            }
            if status.role == Role::Leader {
                self.committed_by_leaders.entry(e.index).or_insert((e.clone(), status.term));
            }
            match self.applied_at.get(&e.index) {
                Some(first) if first != &e => self.violations.push(format!(
                    "state machine safety: {id} applied {e:?} at index {} where {first:?} was applied",
                    e.index
                )),
                Some(_) => {}
                None => {
                    self.applied_at.insert(e.index, e.clone());
                }
            }
            node.applied.push(e);
        }
        if let Some(index) = ready.snapshot_due {
            let data = serde_json::to_vec(&node.applied).expect("entries serialize");
            let core = node.core.as_mut().expect("node is up");
            core.snapshot_taken(index, data);
            let snap = core.snapshot().clone();
            if snap.index == index {
                let drop = (index - node.disk.base()) as usize;
                node.disk.log.drain(..drop);
                node.disk.snapshot = Some(snap);
                self.snapshots_taken += 1;
            }
        }
        for msg in ready.messages {
            if matches!(msg.body, Body::Snapshot { .. }) {
                self.snapshot_chunks += 1;
            }
            let lost = self.cut.contains(&(msg.from.clone(), msg.to.clone()))
                || (self.drop_prob > 0.0 && self.rng.random_bool(self.drop_prob));
            if !lost {
                let delay = if self.max_delay > 0 { self.rng.random_range(0..=self.max_delay) } else { 0 };
                self.seq += 1;
                self.in_flight.push(InFlight { at: self.now + delay, seq: self.seq, msg });
            }
        }
    }

    fn drain_all(&mut self) {
        let all: Vec<String> = self.nodes.keys().cloned().collect();
        for id in all {
            self.drain(&id);
        }
    }

    /// Delivers every message due now (in due order), draining after each step.
    fn deliver_due(&mut self) -> bool {
        let mut delivered = false;
        loop {
            let due = self
                .in_flight
                .iter()
                .enumerate()
                .filter(|(_, f)| f.at <= self.now)
                .min_by_key(|(_, f)| (f.at, f.seq))
                .map(|(i, _)| i);
            let Some(i) = due else { return delivered };
            let f = self.in_flight.remove(i);
            let to = f.msg.to.clone();
            if self.cut.contains(&(f.msg.from.clone(), to.clone())) {
                continue;
            }
            if let Some(core) = self.nodes.get_mut(&to).and_then(|n| n.core.as_mut()) {
                core.step(f.msg);
                delivered = true;
                self.drain(&to);
            }
        }
    }

    /// Delivers until no message is left, without letting time pass.
    fn settle(&mut self) {
        self.drain_all();
        for _ in 0..10_000 {
            if !self.deliver_due() {
                return;
            }
        }
        panic!("network did not settle");
    }

    /// One tick of time for every live node, then deliveries and invariant checks.
    fn tick(&mut self) {
        self.now += 1;
        for node in self.nodes.values_mut() {
            if let Some(core) = node.core.as_mut() {
                core.tick();
            }
        }
        self.drain_all();
        self.deliver_due();
        self.check_invariants();
    }

    fn check_invariants(&mut self) {
        let mut live_leaders = Vec::new();
        for (id, node) in &self.nodes {
            if let Some(core) = &node.core {
                let s = core.status();
                if s.role == Role::Leader {
                    live_leaders.push((id.clone(), s.term));
                }
            }
        }
        for (id, term) in &live_leaders {
            let seen = self.leaders.entry(*term).or_default();
            seen.insert(id.clone());
            if seen.len() > 1 {
                self.violations.push(format!("election safety: term {term} has leaders {seen:?}"));
            }
            let core = self.nodes[id].core.as_ref().expect("live");
            for (index, (entry, commit_term)) in &self.committed_by_leaders {
                // Entries a snapshot covers are checked through the state machine instead.
                if *index < core.first_index() {
                    continue;
                }
                if term > commit_term && core.entry(*index) != Some(entry) {
                    self.violations.push(format!(
                        "leader completeness: {id} leads term {term} without entry {index} committed in term {commit_term}"
                    ));
                }
            }
        }
        // Each log as (index of its first entry, entries).
        let logs: Vec<(&String, u64, &[Entry])> = self
            .nodes
            .iter()
            .map(|(id, n)| match n.core.as_ref() {
                Some(c) => (id, c.first_index(), c.log()),
                None => (id, n.disk.base() + 1, &n.disk.log[..]),
            })
            .collect();
        for (i, (a, fa, la)) in logs.iter().enumerate() {
            for (b, fb, lb) in &logs[i + 1..] {
                let first = (*fa).max(*fb);
                let last = (fa + la.len() as u64).min(fb + lb.len() as u64);
                let at = |l: &[Entry], f: u64, index: u64| l[(index - f) as usize].clone();
                if let Some(k) = (first..last).rev().find(|&k| at(la, *fa, k).term == at(lb, *fb, k).term)
                    && (first..=k).any(|j| at(la, *fa, j) != at(lb, *fb, j))
                {
                    self.violations.push(format!(
                        "log matching: {a} and {b} agree on the term at index {k} but not on the entries before"
                    ));
                }
            }
        }
    }

    fn crash(&mut self, id: &str) {
        self.nodes.get_mut(id).expect("node").core = None;
    }

    fn restart(&mut self, id: &str) {
        let node = self.nodes.get_mut(id).expect("node");
        if node.core.is_none() {
            let disk = node.disk.clone();
            node.core = Some(RaftCore::restore(node.cfg.clone(), disk.hard, disk.snapshot.clone(), disk.log));
            node.applied = snapshot_state(&disk.snapshot);
        }
    }

    fn isolate(&mut self, id: &str) {
        for other in self.nodes.keys() {
            if other != id {
                self.cut.insert((id.to_string(), other.clone()));
                self.cut.insert((other.clone(), id.to_string()));
            }
        }
    }

    /// Cuts every link except those between `a` and `b` (both directions).
    fn only_link(&mut self, pairs: &[(&str, &str)]) {
        self.cut.clear();
        let all: Vec<String> = self.nodes.keys().cloned().collect();
        for x in &all {
            for y in &all {
                let allowed = pairs.iter().any(|(a, b)| (a == x && b == y) || (a == y && b == x));
                if x != y && !allowed {
                    self.cut.insert((x.clone(), y.clone()));
                }
            }
        }
    }

    fn leader(&self) -> Option<String> {
        self.nodes
            .iter()
            .filter_map(|(id, n)| n.core.as_ref().map(|c| (id, c.status())))
            .filter(|(_, s)| s.role == Role::Leader)
            .max_by_key(|(_, s)| s.term)
            .map(|(id, _)| id.clone())
    }

    /// Lets time pass until some node wins an election by timeout; returns it.
    fn elect_by_timeout(&mut self) -> String {
        for _ in 0..500 {
            self.tick();
            if let Some(l) = self.leader() {
                return l;
            }
        }
        panic!("no leader was elected");
    }

    fn put(&mut self, id: &str) -> Option<(u64, u64)> {
        self.next_value += 1;
        let command = Command::Put { key: "k".into(), value: json!(self.next_value) };
        let r = self.core(id).propose(command).ok();
        self.drain(id);
        r
    }

    /// A random fault schedule: partitions, isolation, crashes, restarts, loss and delay.
    fn chaos(&mut self, ticks: u64) {
        let all: Vec<String> = self.nodes.keys().cloned().collect();
        for t in 0..ticks {
            if t % 3 == 0
                && let Some(l) = self.leader()
            {
                self.put(&l);
            }
            if t % 40 == 0 {
                match self.rng.random_range(0..7) {
                    0 => self.cut.clear(),
                    1 => {
                        let victim = all[self.rng.random_range(0..all.len())].clone();
                        self.isolate(&victim);
                    }
                    2 => {
                        self.cut.clear();
                        let mut side: Vec<&String> =
                            all.iter().filter(|_| self.rng.random_bool(0.5)).collect();
                        side.sort();
                        for a in &all {
                            for b in &all {
                                if side.contains(&a) != side.contains(&b) {
                                    self.cut.insert((a.clone(), b.clone()));
                                }
                            }
                        }
                    }
                    3 => {
                        let victim = all[self.rng.random_range(0..all.len())].clone();
                        self.crash(&victim);
                    }
                    4 => {
                        for id in &all {
                            self.restart(id);
                        }
                    }
                    5 => {
                        if let Some(l) = self.leader() {
                            self.crash(&l);
                        }
                    }
                    _ => {
                        self.drop_prob = [0.0, 0.05, 0.2][self.rng.random_range(0..3)];
                        self.max_delay = self.rng.random_range(0..4);
                    }
                }
            }
            self.tick();
        }
    }

    /// Heals everything and waits until a new write is applied on every node.
    fn heal_and_converge(&mut self) {
        let all: Vec<String> = self.nodes.keys().cloned().collect();
        self.cut.clear();
        self.drop_prob = 0.0;
        self.max_delay = 0;
        for id in &all {
            self.restart(id);
        }
        let mut target = None;
        for _ in 0..2000 {
            self.tick();
            if target.is_none()
                && let Some(l) = self.leader()
            {
                target = self.put(&l);
            }
            if let Some((index, term)) = target {
                let everywhere = self
                    .nodes
                    .values()
                    .all(|n| n.applied.len() as u64 >= index && n.applied[index as usize - 1].term == term);
                if everywhere {
                    return;
                }
                if self.leader().is_some_and(|l| self.nodes[&l].core.as_ref().unwrap().status().term > term) {
                    target = None;
                }
            }
        }
        panic!("cluster did not converge after healing");
    }
}

fn chaos_run(seed: u64) -> Sim {
    let mut sim = Sim::new(5, seed, |_| {});
    sim.chaos(1500);
    sim.heal_and_converge();
    sim
}

fn assert_no(kind: &str, sim: &Sim, seed: u64) {
    let bad: Vec<&String> = sim.violations.iter().filter(|v| v.starts_with(kind)).collect();
    assert!(bad.is_empty(), "seed {seed}: {bad:?}");
}

const SEEDS: std::ops::Range<u64> = 1..7;

#[test]
fn section_5_2_election_safety_at_most_one_leader_per_term() {
    for seed in SEEDS {
        let sim = chaos_run(seed);
        assert_no("election safety", &sim, seed);
        assert!(sim.leaders.len() > 3, "seed {seed}: the schedule should force several elections");
    }
}

#[test]
fn section_5_3_log_matching_same_index_and_term_means_same_prefix() {
    for seed in SEEDS {
        assert_no("log matching", &chaos_run(seed), seed);
    }
}

#[test]
fn section_5_4_leader_completeness_later_leaders_hold_every_committed_entry() {
    for seed in SEEDS {
        assert_no("leader completeness", &chaos_run(seed), seed);
    }
}

#[test]
fn section_5_4_3_state_machine_safety_no_two_nodes_apply_different_entries_at_an_index() {
    for seed in SEEDS {
        let sim = chaos_run(seed);
        assert_no("state machine safety", &sim, seed);
        assert!(sim.violations.is_empty(), "seed {seed}: {:?}", sim.violations);
        assert!(sim.applied_at.len() > 50, "seed {seed}: too little was committed to judge");
    }
}

/// Plays Figure 8 of the paper: an entry of term 2 gets onto a majority under the leader
/// of term 4 and that leader crashes; then the leader of term 5 overwrites it.
fn figure_8(unsafe_commit_old_term: bool) -> Sim {
    let mut sim = Sim::new(5, 8, |c| {
        c.check_quorum = false;
        c.noop_on_election = false;
        c.max_append_entries = 1;
        c.unsafe_commit_old_term = unsafe_commit_old_term;
    });
    // Term 1: s1 leads and commits index 1 everywhere.
    sim.core("s1").campaign();
    sim.settle();
    sim.put("s1");
    sim.settle();
    sim.core("s1").tick(); // a heartbeat carries the commit index
    sim.core("s1").tick();
    sim.settle();
    // (a) Term 2: s1 leads and gets index 2 onto s2 only, then crashes.
    sim.core("s1").campaign();
    sim.settle();
    assert_eq!(sim.leader().as_deref(), Some("s1"));
    sim.only_link(&[("s1", "s2")]);
    sim.put("s1");
    sim.settle();
    sim.crash("s1");
    // (b) Term 3: s5 is elected by s3, s4, s5 and appends index 2 of term 3 locally; crashes.
    sim.only_link(&[("s5", "s3"), ("s5", "s4")]);
    sim.core("s5").campaign();
    sim.settle();
    assert_eq!(sim.core("s5").status().term, 3);
    assert_eq!(sim.leader().as_deref(), Some("s5"));
    sim.cut.clear();
    sim.isolate("s5");
    sim.put("s5");
    sim.settle();
    sim.crash("s5");
    // (c) Term 4: s1 restarts, is elected, and copies index 2 (term 2) to s3: a majority.
    sim.restart("s1");
    sim.only_link(&[("s1", "s2"), ("s1", "s3"), ("s1", "s4")]);
    // Its first try, in term 3, fails (s3 and s4 voted for s5 in term 3); the next wins.
    sim.core("s1").campaign();
    sim.settle();
    sim.core("s1").campaign();
    sim.settle();
    assert_eq!(sim.core("s1").status().term, 4);
    sim.only_link(&[("s1", "s2"), ("s1", "s3")]);
    for _ in 0..3 {
        sim.core("s1").tick();
        sim.settle();
    }
    assert_eq!(sim.core("s3").log().len(), 2, "s3 now holds index 2 of term 2");
    sim.crash("s1");
    // (d) Term 5: s5 restarts, wins with s2, s3, s4 (its last term 3 beats 2) and
    // overwrites index 2 with its own entry of term 3, then commits a term-5 entry.
    sim.restart("s5");
    sim.only_link(&[("s5", "s2"), ("s5", "s3"), ("s5", "s4")]);
    sim.core("s5").campaign();
    sim.settle();
    sim.core("s5").campaign();
    sim.settle();
    assert_eq!(sim.leader().as_deref(), Some("s5"));
    assert_eq!(sim.core("s5").status().term, 5);
    sim.put("s5");
    for _ in 0..4 {
        sim.core("s5").tick();
        sim.settle();
    }
    sim
}

#[test]
fn figure_8_leader_does_not_commit_an_old_term_entry_by_counting_replicas() {
    let sim = figure_8(false);
    assert!(sim.violations.is_empty(), "{:?}", sim.violations);
    let s1 = &sim.nodes["s1"];
    assert!(!s1.applied.iter().any(|e| e.index == 2), "s1 must not have applied index 2 of term 2");
    assert_eq!(sim.applied_at[&2].term, 3, "index 2 ends up holding s5's entry of term 3");
}

#[test]
fn figure_8_unsafe_commit_old_term_applies_an_entry_that_is_later_overwritten() {
    let sim = figure_8(true);
    assert!(
        sim.violations.iter().any(|v| v.starts_with("state machine safety")),
        "the planted bug must show: {:?}",
        sim.violations
    );
}

#[test]
fn section_5_3_fast_backoff_repairs_a_long_divergent_log_in_few_round_trips() {
    let mut sim = Sim::new(3, 11, |c| {
        c.max_append_entries = 64;
        c.check_quorum = false;
    });
    sim.core("s1").campaign();
    sim.settle();
    // s1 writes 50 entries that only it holds, then loses leadership.
    sim.isolate("s1");
    for _ in 0..50 {
        sim.put("s1");
    }
    sim.settle();
    sim.crash("s1");
    sim.cut.clear();
    sim.core("s2").campaign();
    sim.settle();
    for _ in 0..20 {
        sim.put("s2");
    }
    sim.settle();
    sim.restart("s1");
    let before = sim.seq;
    sim.core("s2").tick();
    sim.core("s2").tick();
    sim.settle();
    let messages = sim.seq - before;
    let s1 = sim.core("s1").log().to_vec();
    let s2 = sim.core("s2").log().to_vec();
    assert_eq!(s1, s2, "the follower's conflicting entries are replaced");
    assert!(messages < 20, "one rejection per conflicting term, not per entry: {messages} messages");
}

#[test]
fn check_quorum_isolated_leader_steps_down_within_two_election_timeouts() {
    let mut sim = Sim::new(3, 5, |_| {});
    let leader = sim.elect_by_timeout();
    sim.isolate(&leader);
    for _ in 0..20 {
        sim.tick();
    }
    assert_ne!(sim.core(&leader).status().role, Role::Leader);
}

#[test]
fn section_8_read_index_is_confirmed_only_by_a_majority() {
    let mut sim = Sim::new(3, 9, |_| {});
    let l = sim.elect_by_timeout();
    sim.settle();
    sim.isolate(&l);
    sim.core(&l).read_index(7).expect("leader");
    let ready = sim.core(&l).ready();
    assert!(ready.reads.is_empty(), "no confirmation without a majority");
    for m in ready.messages {
        assert!(sim.cut.contains(&(m.from, m.to)));
    }
    sim.cut.clear();
    sim.core(&l).read_index(8).expect("still leader");
    sim.drain(&l);
    let mut confirmed = Vec::new();
    for _ in 0..10 {
        let msgs: Vec<Message> = sim.in_flight.drain(..).map(|f| f.msg).collect();
        for m in msgs {
            let to = m.to.clone();
            sim.core(&to).step(m);
            let r = sim.core(&to).ready();
            if to == l {
                confirmed.extend(r.reads.iter().map(|r| r.ctx));
            }
            for m in r.messages {
                sim.seq += 1;
                sim.in_flight.push(InFlight { at: 0, seq: sim.seq, msg: m });
            }
        }
    }
    assert_eq!(confirmed, vec![7, 8], "both reads confirmed by the same majority round");
}

#[test]
fn section_5_2_a_restarted_node_remembers_its_vote() {
    let mut sim = Sim::new(3, 3, |c| c.check_quorum = false);
    sim.only_link(&[("s1", "s3")]);
    sim.core("s1").campaign();
    sim.settle();
    assert_eq!(sim.nodes["s3"].disk.hard.vote.as_deref(), Some("s1"));
    sim.crash("s3");
    sim.restart("s3");
    sim.only_link(&[("s2", "s3")]);
    // s2 campaigns in the same term 1 that s3 already voted in.
    sim.core("s2").campaign();
    sim.settle();
    assert_ne!(sim.core("s2").status().role, Role::Leader, "s3 must not vote twice in term 1");
}

/// A five-node cluster with a settled leader; returns it, its term and a follower.
fn settled_cluster(seed: u64) -> (Sim, String, u64, String) {
    let mut sim = Sim::new(5, seed, |_| {});
    let leader = sim.elect_by_timeout();
    for _ in 0..20 {
        sim.tick();
    }
    let term = sim.core(&leader).status().term;
    let follower = sim.nodes.keys().find(|id| **id != leader).cloned().expect("a follower");
    (sim, leader, term, follower)
}

#[test]
fn section_9_6_prevote_an_isolated_node_keeps_its_term_and_the_leader_keeps_leading_after_heal() {
    for seed in 0..4 {
        let (mut sim, leader, term, follower) = settled_cluster(seed);
        sim.isolate(&follower);
        // Twenty minimum election timeouts: without PreVote the term would climb by ~10.
        for _ in 0..200 {
            sim.tick();
        }
        assert_eq!(
            sim.core(&follower).status().term,
            term,
            "seed {seed}: the isolated node's term stays put"
        );
        sim.cut.clear();
        for _ in 0..100 {
            sim.tick();
            assert_eq!(
                sim.leader().as_deref(),
                Some(leader.as_str()),
                "seed {seed}: the leader is never deposed"
            );
        }
        assert_eq!(sim.core(&leader).status().term, term, "seed {seed}: same term after heal");
        assert_eq!(sim.core(&follower).status().leader.as_deref(), Some(leader.as_str()), "seed {seed}");
        assert!(sim.violations.is_empty(), "seed {seed}: {:?}", sim.violations);
    }
}

#[test]
fn section_9_6_prevote_a_node_that_only_can_send_does_not_raise_anyones_term() {
    for seed in 0..4 {
        let (mut sim, leader, term, follower) = settled_cluster(seed);
        // One-way partition: the follower's requests go out, nothing comes back to it.
        for other in sim.nodes.keys().cloned().collect::<Vec<_>>() {
            if other != follower {
                sim.cut.insert((other, follower.clone()));
            }
        }
        for _ in 0..200 {
            sim.tick();
        }
        for id in sim.nodes.keys().cloned().collect::<Vec<_>>() {
            assert_eq!(sim.core(&id).status().term, term, "seed {seed}: {id}'s term stays put");
        }
        sim.cut.clear();
        for _ in 0..100 {
            sim.tick();
        }
        assert_eq!(sim.leader().as_deref(), Some(leader.as_str()), "seed {seed}");
        assert_eq!(sim.core(&leader).status().term, term, "seed {seed}");
    }
}

#[test]
fn section_9_6_prevote_is_refused_while_a_live_leader_is_heard_and_never_changes_term_or_vote() {
    let (mut sim, leader, term, follower) = settled_cluster(7);
    let asker =
        sim.nodes.keys().find(|id| **id != leader && **id != follower).cloned().expect("a third node");
    let (last_log_index, last_log_term) = {
        let log = sim.core(&leader).log();
        (log.len() as u64, log.last().map_or(0, |e| e.term))
    };
    let ask = |sim: &mut Sim| {
        let body = Body::PreVoteRequest { last_log_index, last_log_term };
        let msg = Message { from: asker.clone(), to: follower.clone(), term: term + 1, body };
        sim.core(&follower).step(msg);
        let ready = sim.core(&follower).ready();
        assert!(ready.hard_state.is_none(), "a PreVote never changes the durable term or vote");
        assert_eq!(sim.core(&follower).status().term, term);
        let replies: Vec<(u64, Body)> = ready.messages.into_iter().map(|m| (m.term, m.body)).collect();
        assert_eq!(replies.len(), 1, "{replies:?}");
        replies.into_iter().next().expect("one reply")
    };
    // The follower just heard a heartbeat: refused, with its own term.
    assert_eq!(ask(&mut sim), (term, Body::PreVoteReply { granted: false }));
    // Once the leader has been silent for an election timeout, it would vote: granted,
    // with the asked term, and still no term or vote change.
    sim.isolate(&leader);
    for _ in 0..10 {
        sim.core(&follower).tick();
    }
    let _ = sim.core(&follower).ready();
    assert_eq!(ask(&mut sim), (term + 1, Body::PreVoteReply { granted: true }));
    // An out-of-date log is refused even then.
    let body = Body::PreVoteRequest { last_log_index: 0, last_log_term: 0 };
    let msg = Message { from: asker.clone(), to: follower.clone(), term: term + 1, body };
    sim.core(&follower).step(msg);
    let ready = sim.core(&follower).ready();
    assert!(ready.messages.iter().all(|m| m.body == Body::PreVoteReply { granted: false }));
}

/// Small snapshots, tiny chunks: every compaction and every catch-up goes through §7.
fn compacting(c: &mut CoreConfig) {
    c.snapshot_every = 5;
    c.snapshot_chunk_bytes = 64;
}

#[test]
fn snapshot_section_7_compaction_under_chaos_keeps_every_safety_property() {
    let (mut taken, mut installed) = (0, 0);
    for seed in SEEDS {
        let mut sim = Sim::new(5, seed, compacting);
        sim.chaos(1500);
        sim.heal_and_converge();
        assert!(sim.violations.is_empty(), "seed {seed}: {:?}", sim.violations);
        assert!(sim.applied_at.len() > 50, "seed {seed}: too little was committed to judge");
        taken += sim.snapshots_taken;
        installed += sim.snapshots_installed;
    }
    assert!(taken > 100, "the schedule should compact often: {taken} snapshots");
    assert!(installed > 0, "some follower should have fallen behind a compaction");
}

/// A 3-node cluster where s3 misses 30 entries while s1 and s2 compact past them.
fn follower_behind_a_compaction(tweak: impl Fn(&mut CoreConfig)) -> Sim {
    let mut sim = Sim::new(3, 21, |c| {
        compacting(c);
        c.check_quorum = false;
        tweak(c);
    });
    sim.core("s1").campaign();
    sim.settle();
    sim.isolate("s3");
    for _ in 0..30 {
        sim.put("s1");
        sim.settle();
    }
    sim.tick();
    sim.settle();
    sim
}

#[test]
fn snapshot_section_7_a_follower_whose_next_entry_was_compacted_catches_up_by_install_snapshot_in_chunks() {
    let mut sim = follower_behind_a_compaction(|_| {});
    assert!(sim.core("s1").first_index() > 2, "the leader compacted the entries s3 lacks");
    let behind = sim.core("s3").status().last_log_index;
    assert!(behind < sim.core("s1").first_index());
    sim.cut.clear();
    for _ in 0..20 {
        sim.tick();
    }
    sim.put("s1");
    for _ in 0..10 {
        sim.tick();
    }
    let s3 = sim.core("s3").status();
    assert_eq!(s3.snapshots_installed, 1, "s3 caught up by one InstallSnapshot");
    assert!(sim.snapshot_chunks > 1, "the snapshot went in several chunks: {}", sim.snapshot_chunks);
    assert_eq!(sim.nodes["s3"].applied, sim.nodes["s1"].applied, "s3's state machine equals the leader's");
    assert!(sim.violations.is_empty(), "{:?}", sim.violations);
}

#[test]
fn snapshot_section_7_a_lost_chunk_is_sent_again_and_the_transfer_completes() {
    let mut sim = follower_behind_a_compaction(|_| {});
    sim.cut.clear();
    sim.drop_prob = 0.3;
    for _ in 0..200 {
        sim.tick();
    }
    sim.drop_prob = 0.0;
    sim.put("s1");
    for _ in 0..20 {
        sim.tick();
    }
    assert!(sim.core("s3").status().snapshots_installed >= 1);
    assert_eq!(sim.nodes["s3"].applied, sim.nodes["s1"].applied);
    assert!(sim.violations.is_empty(), "{:?}", sim.violations);
}

#[test]
fn snapshot_section_7_a_restarted_node_resumes_from_its_snapshot_and_log_tail() {
    let mut sim = follower_behind_a_compaction(|_| {});
    let before = sim.nodes["s2"].applied.clone();
    assert!(sim.nodes["s2"].disk.snapshot.is_some(), "s2 compacted its own log");
    sim.crash("s2");
    sim.restart("s2");
    let s2 = sim.core("s2").status();
    assert!(s2.snapshot_index > 0 && s2.commit_index >= s2.snapshot_index);
    assert!(sim.core("s2").log().len() < before.len(), "only the tail after the snapshot is replayed");
    assert_eq!(sim.nodes["s2"].applied, before[..s2.snapshot_index as usize].to_vec());
    sim.cut.clear();
    for _ in 0..20 {
        sim.tick();
    }
    sim.put("s1");
    for _ in 0..10 {
        sim.tick();
    }
    assert_eq!(sim.nodes["s2"].applied, sim.nodes["s1"].applied, "the tail was applied on top of it");
    assert!(sim.violations.is_empty(), "{:?}", sim.violations);
}

/// s1 leads with entries it appended while cut off, so its last index is past what it
/// applied when the snapshot timer fires; then the cluster heals and writes on.
fn snapshot_with_unapplied_entries(unsafe_snapshot_past_commit: bool) -> Sim {
    let mut sim = Sim::new(3, 5, |c| {
        c.snapshot_every = 3;
        c.check_quorum = false;
        c.unsafe_snapshot_past_commit = unsafe_snapshot_past_commit;
    });
    sim.core("s1").campaign();
    sim.settle();
    for _ in 0..4 {
        sim.put("s1");
        sim.settle();
    }
    sim.isolate("s1");
    sim.put("s1");
    sim.put("s1");
    let s1 = sim.core("s1").status();
    assert!(s1.last_log_index > s1.commit_index, "s1 holds entries not yet committed");
    sim.core("s1").tick();
    sim.drain("s1");
    assert!(sim.core("s1").status().snapshot_index > 0, "the snapshot was taken while cut off");
    sim.cut.clear();
    for _ in 0..5 {
        sim.tick();
        sim.put("s1");
    }
    for _ in 0..10 {
        sim.tick();
    }
    sim
}

#[test]
fn snapshot_section_7_a_snapshot_covers_exactly_the_applied_entries() {
    let sim = snapshot_with_unapplied_entries(false);
    assert!(sim.violations.is_empty(), "{:?}", sim.violations);
    assert_eq!(sim.nodes["s1"].applied, sim.nodes["s2"].applied);
}

#[test]
fn snapshot_unsafe_past_commit_loses_entries_from_the_state_machine() {
    let sim = snapshot_with_unapplied_entries(true);
    assert!(
        sim.violations.iter().any(|v| v.starts_with("state machine gap: s1")),
        "the planted bug must show: {:?}",
        sim.violations
    );
    let s1: BTreeSet<u64> = sim.nodes["s1"].applied.iter().map(|e| e.index).collect();
    let commit = sim.nodes["s1"].core.as_ref().expect("up").status().commit_index;
    let missing: Vec<u64> = (1..=commit).filter(|i| !s1.contains(i)).collect();
    assert!(!missing.is_empty(), "s1's state machine lacks committed entries");
}
