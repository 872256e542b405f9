//! The quorum-kv core over a seeded, simulated network: every message is delivered
//! after a random delay, dropped with some probability, or cut by a partition, all
//! drawn from one seeded RNG so each run repeats exactly. Clients issue operations
//! sequentially at random nodes and the history is checked for the claims each setting
//! makes: majority quorums with ABD write-back never return an older value after a
//! newer one completed; R = W = 1 diverges and converges by anti-entropy alone; CRDT
//! sets keep every acknowledged add; Paxos compare-and-set loses no increment.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use sunder_systems::quorum::coordinator::{ClientOp, ClientReply, Core, CoreConfig, Failure, Time};
use sunder_systems::quorum::message::{Body, Envelope, Request};
use sunder_systems::quorum::options::{CasMode, QuorumOptions, Resolve};
use sunder_systems::quorum::ring::Ring;
use sunder_systems::quorum::store::Recovered;

const TICK: u64 = 10;

fn options(n: usize, r: usize, w: usize) -> QuorumOptions {
    QuorumOptions {
        n,
        r,
        w,
        timeout_ms: 300,
        resolve: Resolve::Hlc,
        crdt: true,
        read_repair: true,
        read_writeback: true,
        sloppy: false,
        anti_entropy_ms: 0,
        cas: CasMode::None,
        debug_store_delay_ms: 0,
    }
}

type Outcome = Result<ClientReply, Failure>;

struct Sim {
    cores: BTreeMap<String, Core>,
    rng: ChaCha8Rng,
    now: u64,
    /// (delivery time, sequence) to message.
    queue: BTreeMap<(u64, u64), Envelope>,
    seq: u64,
    drop_percent: u32,
    /// Directed links that drop everything.
    cut: BTreeSet<(String, String)>,
    /// Messages that are lost whatever the links say.
    block: Option<fn(&Envelope) -> bool>,
    /// Messages set aside until [`Sim::release`].
    hold: Option<fn(&Envelope) -> bool>,
    held: Vec<Envelope>,
    /// Wall-clock offset per node (ms).
    skew: BTreeMap<String, i64>,
    done: BTreeMap<u64, (u64, Outcome)>,
    next_client: u64,
    opts: QuorumOptions,
}

impl Sim {
    fn new(nodes: usize, opts: QuorumOptions, seed: u64) -> Sim {
        let ids: Vec<String> = (1..=nodes).map(|i| format!("n{i}")).collect();
        let cores = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let cfg = CoreConfig {
                    id: id.clone(),
                    nodes: ids.clone(),
                    opts: opts.clone(),
                    seed: seed + i as u64,
                    incarnation: (seed << 32) + ((i as u64) << 24),
                };
                (id.clone(), Core::new(cfg, Recovered::default()))
            })
            .collect();
        Sim {
            cores,
            rng: ChaCha8Rng::seed_from_u64(seed),
            now: 1,
            queue: BTreeMap::new(),
            seq: 0,
            drop_percent: 0,
            cut: BTreeSet::new(),
            block: None,
            hold: None,
            held: Vec::new(),
            skew: BTreeMap::new(),
            done: BTreeMap::new(),
            next_client: 1,
            opts,
        }
    }

    fn time(&self, node: &str) -> Time {
        let skew = self.skew.get(node).copied().unwrap_or(0);
        Time { mono_ms: self.now, wall_ms: (1_700_000_000_000i64 + self.now as i64 + skew) as u64 }
    }

    fn isolate(&mut self, node: &str) {
        for other in self.cores.keys() {
            if other != node {
                self.cut.insert((node.to_string(), other.clone()));
                self.cut.insert((other.clone(), node.to_string()));
            }
        }
    }

    fn heal(&mut self) {
        self.cut.clear();
    }

    fn collect(&mut self, node: &str) {
        let ready = self.cores.get_mut(node).expect("node").ready();
        for env in ready.messages {
            if self.hold.is_some_and(|f| f(&env)) {
                self.held.push(env);
                continue;
            }
            let lost = self.cut.contains(&(env.from.clone(), env.to.clone()))
                || self.block.is_some_and(|f| f(&env))
                || self.rng.random_range(0..100) < self.drop_percent;
            if !lost {
                let at = self.now + self.rng.random_range(1..=6);
                self.seq += 1;
                self.queue.insert((at, self.seq), env);
            }
        }
        for (id, outcome) in ready.replies {
            self.done.insert(id, (self.now, outcome));
        }
    }

    fn submit(&mut self, node: &str, op: ClientOp) -> u64 {
        let id = self.next_client;
        self.next_client += 1;
        let t = self.time(node);
        self.cores.get_mut(node).expect("node").client(id, op, t);
        self.collect(node);
        id
    }

    /// Advances one millisecond.
    fn step(&mut self) {
        self.now += 1;
        while let Some(entry) = self.queue.first_entry() {
            if entry.key().0 > self.now {
                break;
            }
            let env = entry.remove();
            let to = env.to.clone();
            let t = self.time(&to);
            self.cores.get_mut(&to).expect("node").step(env, t);
            self.collect(&to);
        }
        if self.now.is_multiple_of(TICK) {
            let ids: Vec<String> = self.cores.keys().cloned().collect();
            for id in ids {
                let t = self.time(&id);
                self.cores.get_mut(&id).expect("node").tick(t);
                self.collect(&id);
            }
        }
    }

    /// Replaces `node`'s core by one restored from its data, as after a kill and restart,
    /// with request ids starting from `incarnation`.
    fn restart(&mut self, node: &str, incarnation: u64) {
        let nodes: Vec<String> = self.cores.keys().cloned().collect();
        let data = self.cores[node].data().clone();
        let cfg = CoreConfig { id: node.into(), nodes, opts: self.opts.clone(), seed: 99, incarnation };
        self.cores.insert(node.into(), Core::new(cfg, Recovered { data, ..Recovered::default() }));
    }

    /// Delivers the held messages now.
    fn release(&mut self) {
        for env in std::mem::take(&mut self.held) {
            self.seq += 1;
            self.queue.insert((self.now + 1, self.seq), env);
        }
    }

    fn run_for(&mut self, ms: u64) {
        for _ in 0..ms {
            self.step();
        }
    }

    /// Runs until the operation answers.
    fn wait(&mut self, id: u64) -> Outcome {
        loop {
            if let Some((_, o)) = self.done.remove(&id) {
                return o;
            }
            self.step();
        }
    }

    fn node(&mut self) -> String {
        let i = self.rng.random_range(0..self.cores.len());
        self.cores.keys().nth(i).expect("node").clone()
    }
}

/// One register operation of the history.
#[derive(Debug, Clone)]
struct Event {
    invoked: u64,
    completed: u64,
    write: Option<i64>,
    read: Option<Value>,
    ok: bool,
}

/// Clients that write unique integers and read one key, for `ms` of simulated time,
/// while the network is cut and healed at random.
fn register_history(sim: &mut Sim, clients: usize, ms: u64, partitions: bool) -> Vec<Event> {
    let mut history = Vec::new();
    let mut pending: BTreeMap<u64, (u64, Option<i64>)> = BTreeMap::new();
    let mut next_value = 1;
    let mut idle: Vec<u64> = (0..clients as u64).map(|c| c * 3).collect();
    let end = sim.now + ms;
    let mut next_fault = sim.now + 100;
    while sim.now < end {
        for slot in idle.iter_mut() {
            if *slot != u64::MAX && *slot <= sim.now {
                let node = sim.node();
                let (op, write) = if sim.rng.random_range(0..2) == 0 {
                    next_value += 1;
                    (
                        ClientOp::KvPut { key: "x".into(), value: json!(next_value), context: None },
                        Some(next_value),
                    )
                } else {
                    (ClientOp::KvGet { key: "x".into() }, None)
                };
                let id = sim.submit(&node, op);
                pending.insert(id, (sim.now, write));
                *slot = u64::MAX - id;
            }
        }
        if partitions && sim.now >= next_fault {
            next_fault = sim.now + sim.rng.random_range(50..250);
            if sim.rng.random_range(0..2) == 0 {
                sim.heal();
            } else {
                let node = sim.node();
                sim.heal();
                sim.isolate(&node);
            }
        }
        sim.step();
        let finished: Vec<u64> = pending.keys().copied().filter(|id| sim.done.contains_key(id)).collect();
        for id in finished {
            let (invoked, write) = pending.remove(&id).expect("pending");
            let (completed, outcome) = sim.done.remove(&id).expect("done");
            // A definite failure had no effect and leaves nothing in the history; an
            // indefinite write stays, as a write that may take effect at any later time.
            let (ok, read, keep) = match outcome {
                Ok(ClientReply::Register { value, .. }) => (true, Some(value), true),
                Ok(_) => (true, None, true),
                Err(Failure::Definite(_)) => (false, None, false),
                Err(_) => (false, None, write.is_some()),
            };
            if keep {
                history.push(Event { invoked, completed, write, read, ok });
            }
            for slot in idle.iter_mut() {
                if *slot == u64::MAX - id {
                    *slot = sim.now + sim.rng.random_range(0..5);
                }
            }
        }
    }
    // Writes still pending when time is up may yet take effect.
    for (invoked, write) in pending.into_values() {
        if write.is_some() {
            history.push(Event { invoked, completed: u64::MAX, write, read: None, ok: false });
        }
    }
    sim.heal();
    history
}

/// Stale reads and new-old inversions: a read must not return a value whose write ended
/// before another write began that completed before the read began, and a read must
/// not return an older value than a read that finished before it began.
fn violations(history: &[Event]) -> Vec<String> {
    // Each value's write interval; `null` is written before time began.
    let mut writes: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    writes.insert(Value::Null.to_string(), (0, 0));
    for e in history {
        if let Some(v) = e.write {
            // An indefinite write may take effect at any later time.
            let completed = if e.ok { e.completed } else { u64::MAX };
            writes.insert(json!(v).to_string(), (e.invoked, completed));
        }
    }
    let precedes = |a: &str, b: &str| writes[a].1 < writes[b].0;
    let mut out = Vec::new();
    let reads: Vec<&Event> = history.iter().filter(|e| e.read.is_some()).collect();
    for r in &reads {
        let got = r.read.as_ref().expect("read").to_string();
        assert!(writes.contains_key(&got), "read a value never written: {got}");
        for e in history.iter().filter(|e| e.ok && e.write.is_some() && e.completed < r.invoked) {
            let newer = json!(e.write.expect("write")).to_string();
            if precedes(&got, &newer) {
                out.push(format!("stale read of {got} at {} after write of {newer} completed", r.invoked));
            }
        }
        for earlier in reads.iter().filter(|e| e.completed < r.invoked) {
            let seen = earlier.read.as_ref().expect("read").to_string();
            if precedes(&got, &seen) {
                out.push(format!("new-old inversion: read {seen} then {got}"));
            }
        }
    }
    out
}

#[test]
fn majority_quorums_with_write_back_never_return_an_older_value_after_a_newer_one_completed() {
    for seed in 1..=6 {
        let mut sim = Sim::new(3, options(3, 2, 2), seed);
        sim.drop_percent = 5;
        let history = register_history(&mut sim, 4, 4000, true);
        let reads = history.iter().filter(|e| e.read.as_ref().is_some_and(|v| !v.is_null())).count();
        assert!(reads > 40, "seed {seed}: too few successful reads to mean anything: {reads}");
        let bad = violations(&history);
        assert!(bad.is_empty(), "seed {seed}: {bad:?}");
    }
}

#[test]
fn single_replica_quorums_without_write_back_are_caught_returning_older_values() {
    let mut found = 0;
    for seed in 1..=6 {
        let mut o = options(3, 1, 1);
        o.read_writeback = false;
        o.read_repair = false;
        let mut sim = Sim::new(3, o, seed);
        sim.drop_percent = 5;
        let history = register_history(&mut sim, 4, 4000, true);
        found += violations(&history).len();
    }
    // The checker above is only worth trusting if it sees what weak settings do.
    assert!(found > 0, "r=w=1 without write-back never showed a stale read or inversion");
}

#[test]
fn single_replica_quorums_diverge_then_converge_by_anti_entropy_without_reads() {
    let mut o = options(3, 1, 1);
    o.read_repair = false;
    o.read_writeback = false;
    o.anti_entropy_ms = 100;
    let mut sim = Sim::new(3, o, 7);
    sim.isolate("n3");
    for k in 0..50 {
        let id = sim.submit("n1", ClientOp::KvPut { key: format!("k{k}"), value: json!(k), context: None });
        assert_eq!(sim.wait(id), Ok(ClientReply::Done));
    }
    sim.run_for(500);
    let n1 = sim.cores["n1"].data().clone();
    assert_eq!(n1.len(), 50);
    assert!(sim.cores["n3"].data().is_empty(), "n3 was cut off, yet holds data");
    sim.heal();
    sim.run_for(3000);
    for id in ["n2", "n3"] {
        assert_eq!(sim.cores[id].data(), &n1, "{id} did not converge");
    }
    assert!(sim.cores["n3"].status().last_anti_entropy_ms.is_some());
}

#[test]
fn crdt_set_keeps_every_acknowledged_add_while_lww_set_loses_concurrent_ones() {
    let mut lost_by_lww = 0;
    for crdt in [true, false] {
        let mut o = options(3, 1, 1);
        o.crdt = crdt;
        o.read_writeback = false;
        o.anti_entropy_ms = 50;
        let mut sim = Sim::new(3, o, 11);
        // Every node adds while cut off from the others: concurrent adds.
        let mut acked = Vec::new();
        for (i, node) in ["n1", "n2", "n3"].iter().enumerate() {
            sim.heal();
            sim.isolate(node);
            for e in 0..5 {
                let element = json!(i * 100 + e);
                let id = sim.submit(node, ClientOp::SetAdd { key: "s".into(), element: element.clone() });
                if sim.wait(id) == Ok(ClientReply::Done) {
                    acked.push(element);
                }
            }
        }
        sim.heal();
        sim.run_for(2000);
        let id = sim.submit("n1", ClientOp::SetRead { key: "s".into() });
        let Ok(ClientReply::Set(elements)) = sim.wait(id) else { panic!("set read failed") };
        let missing: Vec<&Value> = acked.iter().filter(|e| !elements.contains(e)).collect();
        assert_eq!(acked.len(), 15, "crdt={crdt}: with w=1 every add is acknowledged");
        if crdt {
            assert!(missing.is_empty(), "the OR-set lost acknowledged adds {missing:?}");
        } else {
            lost_by_lww = missing.len();
        }
    }
    assert!(lost_by_lww > 0, "the LWW set kept every concurrent add, so the comparison shows nothing");
}

#[test]
fn crdt_counter_counts_every_acknowledged_add_across_a_partition() {
    let mut o = options(3, 1, 1);
    o.anti_entropy_ms = 50;
    let mut sim = Sim::new(3, o, 5);
    sim.isolate("n2");
    let mut total = 0;
    for (i, node) in ["n1", "n2", "n3", "n2", "n1"].iter().enumerate() {
        let delta = i as i64 * 3 - 4;
        let id = sim.submit(node, ClientOp::CounterAdd { key: "c".into(), delta });
        assert_eq!(sim.wait(id), Ok(ClientReply::Done));
        total += delta;
    }
    sim.heal();
    sim.run_for(1500);
    for node in ["n1", "n2", "n3"] {
        let id = sim.submit(node, ClientOp::CounterRead { key: "c".into() });
        assert_eq!(sim.wait(id), Ok(ClientReply::Counter(total)), "at {node}");
    }
}

#[test]
fn version_vectors_keep_both_writes_made_on_either_side_of_a_partition() {
    let mut o = options(3, 1, 1);
    o.resolve = Resolve::Vclock;
    o.read_writeback = false;
    o.anti_entropy_ms = 50;
    let mut sim = Sim::new(3, o, 3);
    sim.isolate("n1");
    for (node, v) in [("n1", "left"), ("n2", "right")] {
        let id = sim.submit(node, ClientOp::KvPut { key: "x".into(), value: json!(v), context: None });
        assert_eq!(sim.wait(id), Ok(ClientReply::Done));
    }
    sim.heal();
    sim.run_for(1000);
    let id = sim.submit("n3", ClientOp::KvGet { key: "x".into() });
    let Ok(ClientReply::Register { siblings: Some(siblings), context: Some(context), .. }) = sim.wait(id)
    else {
        panic!("expected siblings")
    };
    assert_eq!(siblings, vec![json!("left"), json!("right")]);
    // A write carrying the read's context supersedes both.
    let id =
        sim.submit("n2", ClientOp::KvPut { key: "x".into(), value: json!("merged"), context: Some(context) });
    assert_eq!(sim.wait(id), Ok(ClientReply::Done));
    sim.run_for(500);
    let id = sim.submit("n1", ClientOp::KvGet { key: "x".into() });
    let Ok(ClientReply::Register { value, siblings, .. }) = sim.wait(id) else { panic!("read failed") };
    assert_eq!((value, siblings), (json!("merged"), None));
}

#[test]
fn lww_with_a_skewed_clock_loses_an_acknowledged_later_write() {
    let mut o = options(3, 2, 2);
    o.resolve = Resolve::Lww;
    o.read_writeback = false;
    let mut sim = Sim::new(3, o, 9);
    sim.skew.insert("n1".into(), 60_000);
    let id = sim
        .submit("n1", ClientOp::KvPut { key: "x".into(), value: json!("early, fast clock"), context: None });
    assert_eq!(sim.wait(id), Ok(ClientReply::Done));
    let id = sim.submit("n2", ClientOp::KvPut { key: "x".into(), value: json!("later"), context: None });
    assert_eq!(sim.wait(id), Ok(ClientReply::Done));
    let id = sim.submit("n3", ClientOp::KvGet { key: "x".into() });
    let Ok(ClientReply::Register { value, .. }) = sim.wait(id) else { panic!("read failed") };
    assert_eq!(value, json!("early, fast clock"), "lww by wall clock should have lost the later write");

    // ABD writes query first and stamp above what they find, whatever the clock says.
    let mut o = options(3, 2, 2);
    o.resolve = Resolve::Lww;
    let mut sim = Sim::new(3, o, 9);
    sim.skew.insert("n1".into(), 60_000);
    for (node, v) in [("n1", "early"), ("n2", "later")] {
        let id = sim.submit(node, ClientOp::KvPut { key: "x".into(), value: json!(v), context: None });
        assert_eq!(sim.wait(id), Ok(ClientReply::Done));
    }
    let id = sim.submit("n3", ClientOp::KvGet { key: "x".into() });
    let Ok(ClientReply::Register { value, .. }) = sim.wait(id) else { panic!("read failed") };
    assert_eq!(value, json!("later"));
}

#[test]
fn paxos_cas_loses_no_increment_under_drops_and_partitions() {
    let mut o = options(3, 2, 2);
    o.cas = CasMode::Paxos;
    o.timeout_ms = 500;
    let mut sim = Sim::new(3, o, 21);
    sim.drop_percent = 10;
    let id = sim.submit("n1", ClientOp::KvPut { key: "c".into(), value: json!(0), context: None });
    assert_eq!(sim.wait(id), Ok(ClientReply::Done));
    let (mut ok, mut maybe) = (0i64, 0i64);
    for round in 0..60 {
        if round % 15 == 5 {
            let node = sim.node();
            sim.isolate(&node);
        }
        if round % 15 == 10 {
            sim.heal();
        }
        // Two clients race: both read, both try to increment from what they read.
        let a = sim.node();
        let b = sim.node();
        let ra = sim.submit(&a, ClientOp::KvGet { key: "c".into() });
        let rb = sim.submit(&b, ClientOp::KvGet { key: "c".into() });
        let (va, vb) = (sim.wait(ra), sim.wait(rb));
        let mut cas = Vec::new();
        for (node, v) in [(a, va), (b, vb)] {
            if let Ok(ClientReply::Register { value, .. }) = v {
                let n = value.as_i64().expect("a number");
                cas.push(
                    sim.submit(&node, ClientOp::KvCas { key: "c".into(), from: json!(n), to: json!(n + 1) }),
                );
            }
        }
        for id in cas {
            match sim.wait(id) {
                Ok(ClientReply::Done) => ok += 1,
                Ok(ClientReply::Mismatch) | Err(Failure::Definite(_)) => {}
                Err(_) => maybe += 1,
                Ok(other) => panic!("cas answered {other:?}"),
            }
        }
    }
    sim.heal();
    sim.drop_percent = 0;
    let id = sim.submit("n2", ClientOp::KvGet { key: "c".into() });
    let Ok(ClientReply::Register { value, .. }) = sim.wait(id) else { panic!("final read failed") };
    let last = value.as_i64().expect("a number");
    assert!(ok > 10, "too few successful cas to mean anything: {ok}");
    assert!((ok..=ok + maybe).contains(&last), "final {last}, {ok} acknowledged, {maybe} indefinite");
}

#[test]
fn sloppy_quorum_hands_a_hinted_write_to_its_replica_after_the_partition_heals() {
    let mut o = options(1, 1, 1);
    o.sloppy = true;
    o.read_writeback = false;
    let mut sim = Sim::new(3, o, 13);
    // A key whose one replica is not n1, with that replica cut off.
    let ring = Ring::new(&["n1".into(), "n2".into(), "n3".into()], 1);
    let key = (0..100).map(|i| format!("h{i}")).find(|k| !ring.holds("n1", &format!("kv/{k}"))).expect("key");
    let owner = ring.preference_list(&format!("kv/{key}")).remove(0);
    sim.isolate(&owner);
    let id = sim.submit("n1", ClientOp::KvPut { key: key.clone(), value: json!("hinted"), context: None });
    assert_eq!(sim.wait(id), Ok(ClientReply::Done), "a sloppy quorum takes the write on a fallback");
    let hints: usize = sim.cores.values().map(|c| c.status().hints_pending).sum();
    assert_eq!(hints, 1);
    sim.heal();
    sim.run_for(1000);
    assert!(sim.cores[&owner].local(&format!("kv/{key}")).is_some(), "the hint never reached {owner}");
    let hints: usize = sim.cores.values().map(|c| c.status().hints_pending).sum();
    assert_eq!(hints, 0);
}

#[test]
fn majority_quorums_without_write_back_show_a_new_old_inversion_that_write_back_prevents() {
    let mut seen = Vec::new();
    for write_back in [false, true] {
        let mut o = options(3, 2, 2);
        o.read_writeback = write_back;
        o.read_repair = false;
        let mut sim = Sim::new(3, o, 17);
        let id = sim.submit("n1", ClientOp::KvPut { key: "x".into(), value: json!("old"), context: None });
        assert_eq!(sim.wait(id), Ok(ClientReply::Done));
        // A write whose store phase reaches only its coordinator times out, indefinite.
        sim.block = Some(|e| e.from == "n1" && matches!(e.body, Body::Request(Request::Merge { .. })));
        let id = sim.submit("n1", ClientOp::KvPut { key: "x".into(), value: json!("new"), context: None });
        assert!(matches!(sim.wait(id), Err(Failure::Indefinite(_))));
        sim.block = None;
        // One read's quorum holds the new value, the next read's does not.
        sim.isolate("n3");
        let id = sim.submit("n2", ClientOp::KvGet { key: "x".into() });
        let first = sim.wait(id);
        sim.heal();
        sim.isolate("n1");
        let id = sim.submit("n3", ClientOp::KvGet { key: "x".into() });
        let second = sim.wait(id);
        let value = |o: Outcome| match o {
            Ok(ClientReply::Register { value, .. }) => value,
            other => panic!("read failed: {other:?}"),
        };
        seen.push((write_back, value(first), value(second)));
    }
    assert_eq!(
        seen,
        vec![(false, json!("new"), json!("old")), (true, json!("new"), json!("new"))],
        "without write-back the second read goes back in time; with it, it cannot"
    );
}

#[test]
fn a_paxos_write_preempted_after_its_accept_is_indefinite_and_never_applied_again_later() {
    let mut o = options(3, 2, 2);
    o.cas = CasMode::Paxos;
    let mut sim = Sim::new(3, o, 4);
    // n1's accepts to the others are held back: only n1's own acceptor takes "A".
    sim.hold = Some(|e| e.from == "n1" && matches!(e.body, Body::Request(Request::Accept { .. })));
    let put_a = sim.submit("n1", ClientOp::KvPut { key: "x".into(), value: json!("A"), context: None });
    sim.run_for(20);
    sim.hold = None;
    // Higher ballots from n2 and n3 read, then write "B", and both complete.
    let read = sim.submit("n2", ClientOp::KvGet { key: "x".into() });
    assert!(matches!(sim.wait(read), Ok(ClientReply::Register { .. })));
    let put_b = sim.submit("n3", ClientOp::KvPut { key: "x".into(), value: json!("B"), context: None });
    assert_eq!(sim.wait(put_b), Ok(ClientReply::Done));
    // n1's old accepts now arrive and are refused; retrying would write "A" over "B".
    sim.release();
    assert!(matches!(sim.wait(put_a), Err(Failure::Indefinite(_))));
    sim.run_for(500);
    let read = sim.submit("n2", ClientOp::KvGet { key: "x".into() });
    let Ok(ClientReply::Register { value, .. }) = sim.wait(read) else { panic!("read failed") };
    assert_eq!(value, json!("B"), "the preempted write took effect after a later completed write");
}

#[test]
fn answers_meant_for_a_killed_nodes_previous_life_never_answer_its_new_requests() {
    // Reusing the previous life's ids (1000) shows the hazard: the old answers about "a"
    // (written last, so its stamp wins the join) are taken for answers about "b".
    let mut seen = Vec::new();
    for incarnation in [1000, 5000] {
        let mut sim = Sim::new(3, options(3, 2, 2), 8);
        for (k, v) in [("b", "b's value"), ("a", "a's value")] {
            let id = sim.submit("n1", ClientOp::KvPut { key: k.into(), value: json!(v), context: None });
            assert_eq!(sim.wait(id), Ok(ClientReply::Done));
        }
        sim.restart("n1", 1000);
        // n1 asks about "a", and is killed before the answers arrive.
        sim.hold = Some(|e| e.to == "n1" && matches!(e.body, Body::Response(_)));
        sim.submit("n1", ClientOp::KvGet { key: "a".into() });
        sim.run_for(20);
        sim.hold = None;
        sim.restart("n1", incarnation);
        // Its new life asks about "b" while the old answers about "a" land first.
        sim.release();
        let id = sim.submit("n1", ClientOp::KvGet { key: "b".into() });
        let Ok(ClientReply::Register { value, .. }) = sim.wait(id) else { panic!("read failed") };
        seen.push(value);
    }
    assert_eq!(seen, vec![json!("a's value"), json!("b's value")]);
}

#[test]
fn read_repair_brings_a_stale_replica_up_to_date_without_anti_entropy() {
    for repair in [false, true] {
        let mut o = options(3, 3, 2);
        o.read_writeback = false;
        o.read_repair = repair;
        let mut sim = Sim::new(3, o, 6);
        sim.isolate("n3");
        let id = sim.submit("n1", ClientOp::KvPut { key: "x".into(), value: json!(1), context: None });
        assert_eq!(sim.wait(id), Ok(ClientReply::Done));
        sim.heal();
        assert!(sim.cores["n3"].local("kv/x").is_none());
        // r=3 waits for n3's empty answer too, so the read sees that n3 is behind.
        let id = sim.submit("n2", ClientOp::KvGet { key: "x".into() });
        assert!(matches!(sim.wait(id), Ok(ClientReply::Register { .. })));
        sim.run_for(50);
        assert_eq!(sim.cores["n3"].local("kv/x").is_some(), repair, "read-repair={repair}");
    }
}
