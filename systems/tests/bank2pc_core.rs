//! Deterministic tests of bank-2pc's pure core, named after the claims they check. Nodes
//! talk over an in-memory network that can cut links, delay (and so reorder) and drop
//! messages, with every choice drawn from a seeded RNG; nodes crash and restart from
//! exactly the records their `Ready`s asked to make durable. The bank's invariant is the
//! judge: the total never changes, no balance goes negative, and every committed read of
//! all accounts sees the total.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};
use sunder_systems::bank2pc::core::{Core, CoreConfig, Protocol, RequestId, TxnOutcome};
use sunder_systems::bank2pc::message::{Message, Op, Record};
use sunder_systems::bank2pc::shard::Shards;

const ACCOUNTS: usize = 10;
const INITIAL: i64 = 100;
const TOTAL: i64 = ACCOUNTS as i64 * INITIAL;
const TIMEOUT: u64 = 100;

struct SimNode {
    cfg: CoreConfig,
    core: Option<Core>,
    /// Only what the core's `Ready`s asked to make durable.
    disk: Vec<Record>,
}

#[derive(Debug, Clone)]
struct InFlight {
    at: u64,
    seq: u64,
    from: String,
    to: String,
    msg: Message,
}

/// What a client asked for, to judge its outcome.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Transfer,
    ReadAll,
}

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
    next_request: RequestId,
    requests: BTreeMap<RequestId, Kind>,
    outcomes: BTreeMap<RequestId, TxnOutcome>,
    accounts: Vec<String>,
}

impl Sim {
    fn new(n: usize, seed: u64, tweak: impl Fn(&mut CoreConfig)) -> Sim {
        let all: Vec<String> = (1..=n).map(|i| format!("n{i}")).collect();
        let accounts: Vec<String> = (0..ACCOUNTS).map(|i| format!("a{i}")).collect();
        let mut sim = Sim {
            nodes: BTreeMap::new(),
            in_flight: Vec::new(),
            seq: 0,
            now: 0,
            rng: ChaCha8Rng::seed_from_u64(seed),
            drop_prob: 0.0,
            max_delay: 0,
            cut: BTreeSet::new(),
            next_request: 0,
            requests: BTreeMap::new(),
            outcomes: BTreeMap::new(),
            accounts: accounts.clone(),
        };
        for id in &all {
            let mut cfg = CoreConfig::new(id.clone(), all.clone());
            cfg.timeout_ms = TIMEOUT;
            cfg.retry_ms = 20;
            cfg.accounts = accounts.clone();
            cfg.initial_balance = INITIAL;
            tweak(&mut cfg);
            let core = Core::open(cfg.clone(), &[], 0);
            sim.nodes.insert(id.clone(), SimNode { cfg, core: Some(core), disk: Vec::new() });
            sim.drain(id);
        }
        sim
    }

    fn core(&self, id: &str) -> &Core {
        self.nodes[id].core.as_ref().expect("node is up")
    }

    /// Makes durable, sends and answers what `id`'s core asks for.
    fn drain(&mut self, id: &str) {
        let node = self.nodes.get_mut(id).expect("node");
        let Some(core) = node.core.as_mut() else { return };
        let ready = core.ready();
        node.disk.extend(ready.records);
        for (to, msg) in ready.messages {
            // A node's messages to itself never cross the network.
            let local = to == id;
            if !local && self.drop_prob > 0.0 && self.rng.random_bool(self.drop_prob) {
                continue;
            }
            let delay =
                if local || self.max_delay == 0 { 0 } else { self.rng.random_range(0..=self.max_delay) };
            self.seq += 1;
            self.in_flight.push(InFlight {
                at: self.now + delay,
                seq: self.seq,
                from: id.to_string(),
                to,
                msg,
            });
        }
        for (request, outcome) in ready.replies {
            self.outcomes.insert(request, outcome);
        }
    }

    fn begin(&mut self, at: &str, ops: Vec<Op>, kind: Kind) -> RequestId {
        self.next_request += 1;
        let request = self.next_request;
        self.requests.insert(request, kind);
        let now = self.now;
        self.nodes.get_mut(at).and_then(|n| n.core.as_mut()).expect("node is up").begin(request, ops, now);
        self.drain(at);
        request
    }

    fn transfer(&mut self, at: &str, from: &str, to: &str, amount: i64) -> RequestId {
        let ops = vec![
            Op::Add { key: from.to_string(), delta: -amount },
            Op::Add { key: to.to_string(), delta: amount },
        ];
        self.begin(at, ops, Kind::Transfer)
    }

    fn read_all(&mut self, at: &str) -> RequestId {
        let ops = self.accounts.iter().map(|a| Op::Read { key: a.clone() }).collect();
        self.begin(at, ops, Kind::ReadAll)
    }

    /// Delivers one message to its destination, unless its link is cut or it is down.
    fn deliver(&mut self, f: InFlight) {
        if f.from != f.to && self.cut.contains(&(f.from.clone(), f.to.clone())) {
            return;
        }
        let now = self.now;
        if let Some(core) = self.nodes.get_mut(&f.to).and_then(|n| n.core.as_mut()) {
            core.step(&f.from, f.msg, now);
            self.drain(&f.to);
        }
    }

    fn next_due(&self) -> Option<usize> {
        self.in_flight
            .iter()
            .enumerate()
            .filter(|(_, f)| f.at <= self.now)
            .min_by_key(|(_, f)| (f.at, f.seq))
            .map(|(i, _)| i)
    }

    /// Lets `ms` milliseconds pass, delivering what falls due; stops early, before
    /// delivering it, at the first message `stop` picks, and returns that message.
    fn run_until(&mut self, ms: u64, mut stop: impl FnMut(&InFlight) -> bool) -> Option<InFlight> {
        let end = self.now + ms;
        loop {
            while let Some(i) = self.next_due() {
                if stop(&self.in_flight[i]) {
                    return Some(self.in_flight.remove(i));
                }
                let f = self.in_flight.remove(i);
                self.deliver(f);
            }
            if self.now >= end {
                return None;
            }
            self.now += 1;
            let ids: Vec<String> = self.nodes.keys().cloned().collect();
            for id in ids {
                let now = self.now;
                if let Some(core) = self.nodes.get_mut(&id).and_then(|n| n.core.as_mut()) {
                    core.tick(now);
                }
                self.drain(&id);
            }
        }
    }

    fn advance(&mut self, ms: u64) {
        self.run_until(ms, |_| false);
    }

    /// Runs until the message `stop` picks is about to be delivered; panics if it never is.
    fn intercept(&mut self, ms: u64, what: &str, stop: impl FnMut(&InFlight) -> bool) -> InFlight {
        self.run_until(ms, stop).unwrap_or_else(|| panic!("no {what} within {ms} ms"))
    }

    fn crash(&mut self, id: &str) {
        self.nodes.get_mut(id).expect("node").core = None;
    }

    /// Crashes `id` and loses every message it sent that has not arrived yet, as if it
    /// died before sending them.
    fn crash_unsent(&mut self, id: &str) {
        self.crash(id);
        self.in_flight.retain(|f| f.from != id);
    }

    fn restart(&mut self, id: &str) {
        let now = self.now;
        let node = self.nodes.get_mut(id).expect("node");
        node.core = Some(Core::open(node.cfg.clone(), &node.disk, now));
        self.drain(id);
    }

    fn is_up(&self, id: &str) -> bool {
        self.nodes[id].core.is_some()
    }

    fn cut_both(&mut self, a: &str, b: &str) {
        self.cut.insert((a.to_string(), b.to_string()));
        self.cut.insert((b.to_string(), a.to_string()));
    }

    fn heal(&mut self) {
        self.cut.clear();
    }

    fn shards(&self) -> Shards {
        Shards::new(self.nodes.keys().cloned().collect())
    }

    /// The first account that lives on `node`.
    fn account_on(&self, node: &str) -> String {
        let shards = self.shards();
        self.accounts.iter().find(|a| shards.owner(a) == node).cloned().expect("an account on every node")
    }

    /// Every account's committed balance on its owner; a node that is down is read
    /// from its disk.
    fn balances(&self) -> BTreeMap<String, i64> {
        let shards = self.shards();
        let mut from_disk = BTreeMap::new();
        self.accounts
            .iter()
            .map(|a| {
                let owner = shards.owner(a);
                let node = &self.nodes[owner];
                let v = match &node.core {
                    Some(core) => core.value(a),
                    None => from_disk
                        .entry(owner.clone())
                        .or_insert_with(|| Core::open(node.cfg.clone(), &node.disk, self.now))
                        .value(a),
                };
                (a.clone(), v.as_i64().unwrap_or_else(|| panic!("{a} holds {v}")))
            })
            .collect()
    }

    fn total(&self) -> i64 {
        self.balances().values().sum()
    }

    fn in_doubt(&self) -> usize {
        self.nodes.values().filter_map(|n| n.core.as_ref()).map(|c| c.status().in_doubt.len()).sum()
    }

    fn locks(&self) -> usize {
        self.nodes.values().filter_map(|n| n.core.as_ref()).map(|c| c.status().locks.len()).sum()
    }

    /// Sums of every committed read of all accounts.
    fn read_sums(&self) -> Vec<i64> {
        self.outcomes
            .iter()
            .filter(|(r, _)| self.requests[r] == Kind::ReadAll)
            .filter_map(|(_, o)| o.as_ref().ok())
            .map(|reads| reads.iter().map(|(_, v)| v.as_i64().expect("a balance")).sum())
            .collect()
    }

    fn committed(&self, kind: Kind) -> usize {
        self.outcomes.iter().filter(|(r, o)| self.requests[r] == kind && o.is_ok()).count()
    }
}

fn is_vote(from: &str, to: &str) -> impl Fn(&InFlight) -> bool {
    let (from, to) = (from.to_string(), to.to_string());
    move |f| f.from == from && f.to == to && matches!(f.msg, Message::Vote { .. })
}

fn is_commit(from: &str, to: &str) -> impl Fn(&InFlight) -> bool {
    let (from, to) = (from.to_string(), to.to_string());
    move |f| f.from == from && f.to == to && matches!(f.msg, Message::Decision { commit: true, .. })
}

fn is_precommit(from: &str, to: &str) -> impl Fn(&InFlight) -> bool {
    let (from, to) = (from.to_string(), to.to_string());
    move |f| f.from == from && f.to == to && matches!(f.msg, Message::PreCommit { .. })
}

/// Random transfers and full reads from random nodes over a lossy, reordering network,
/// with random node crashes and restarts and random partitions isolating one node; then
/// everything heals and settles.
fn random_run(seed: u64, tweak: impl Fn(&mut CoreConfig)) -> (Sim, usize) {
    let mut sim = Sim::new(3, seed, tweak);
    sim.drop_prob = 0.03;
    sim.max_delay = 5;
    let ids: Vec<String> = sim.nodes.keys().cloned().collect();
    let mut down_until: Option<(String, u64)> = None;
    let mut crashes = 0;
    let mut healed_at: Option<u64> = None;
    for _ in 0..3000 {
        let live: Vec<String> = ids.iter().filter(|id| sim.is_up(id)).cloned().collect();
        if sim.rng.random_bool(0.05) {
            let at = live[sim.rng.random_range(0..live.len())].clone();
            let from = sim.rng.random_range(0..ACCOUNTS);
            let to = (from + sim.rng.random_range(1..ACCOUNTS)) % ACCOUNTS;
            let amount = sim.rng.random_range(1..=60);
            sim.transfer(&at, &format!("a{from}"), &format!("a{to}"), amount);
        }
        if sim.rng.random_bool(0.01) {
            let at = live[sim.rng.random_range(0..live.len())].clone();
            sim.read_all(&at);
        }
        match &down_until {
            Some((id, until)) if sim.now >= *until => {
                let id = id.clone();
                sim.restart(&id);
                down_until = None;
            }
            None if sim.rng.random_bool(0.003) => {
                let victim = ids[sim.rng.random_range(0..ids.len())].clone();
                sim.crash(&victim);
                crashes += 1;
                let back = sim.now + sim.rng.random_range(20..400);
                down_until = Some((victim, back));
            }
            _ => {}
        }
        match healed_at {
            Some(at) if sim.now >= at => {
                sim.heal();
                healed_at = None;
            }
            None if sim.rng.random_bool(0.006) => {
                let island = ids[sim.rng.random_range(0..ids.len())].clone();
                for other in ids.iter().filter(|o| **o != island) {
                    sim.cut_both(&island, other);
                }
                healed_at = Some(sim.now + sim.rng.random_range(50..600));
            }
            _ => {}
        }
        sim.advance(1);
    }
    if let Some((id, _)) = down_until {
        sim.restart(&id);
    }
    sim.heal();
    sim.drop_prob = 0.0;
    sim.advance(10 * TIMEOUT);
    (sim, crashes)
}

#[test]
fn correct_2pc_conserves_money_under_coordinator_crashes() {
    let (mut transfers, mut reads, mut crashes) = (0, 0, 0);
    for seed in 0..40 {
        let (sim, c) = random_run(seed, |_| {});
        crashes += c;
        assert_eq!(sim.in_doubt(), 0, "seed {seed}: transactions still in doubt after healing");
        assert_eq!(sim.locks(), 0, "seed {seed}: locks still held after healing");
        assert_eq!(sim.total(), TOTAL, "seed {seed}: money created or destroyed: {:?}", sim.balances());
        assert!(
            sim.balances().values().all(|b| *b >= 0),
            "seed {seed}: negative balance {:?}",
            sim.balances()
        );
        for sum in sim.read_sums() {
            assert_eq!(sum, TOTAL, "seed {seed}: a committed read of all accounts was torn");
        }
        transfers += sim.committed(Kind::Transfer);
        reads += sim.committed(Kind::ReadAll);
    }
    eprintln!("{transfers} transfers and {reads} full reads committed across {crashes} crashes");
    assert!(transfers > 100 && reads > 10 && crashes > 5, "the runs exercised too little");
}

#[test]
fn participant_in_doubt_holds_locks_until_coordinator_returns() {
    let mut sim = Sim::new(3, 1, |_| {});
    let (x, y) = (sim.account_on("n2"), sim.account_on("n3"));
    sim.transfer("n1", &x, &y, 30);
    // n3 votes last (shard order); the coordinator dies before that vote reaches it.
    sim.intercept(1000, "last vote", is_vote("n3", "n1"));
    sim.crash_unsent("n1");
    sim.advance(20 * TIMEOUT);
    assert_eq!(sim.in_doubt(), 2, "both participants wait for the coordinator");
    let held: BTreeSet<String> =
        ["n2", "n3"].iter().flat_map(|n| sim.core(n).status().locks).map(|(k, _, _)| k).collect();
    assert_eq!(held, [x.clone(), y.clone()].into(), "the in-doubt transfer keeps its locks");
    // Another transfer on a locked account waits behind it, then times out.
    let blocked = sim.transfer("n2", &x, &y, 1);
    sim.advance(3 * TIMEOUT);
    assert!(matches!(sim.outcomes.get(&blocked), Some(Err(_))), "{:?}", sim.outcomes.get(&blocked));
    sim.restart("n1");
    sim.advance(5 * TIMEOUT);
    assert_eq!(sim.in_doubt(), 0);
    assert_eq!(sim.locks(), 0);
    // No commit was logged, so the recovered coordinator answers abort.
    assert_eq!((sim.balances()[&x], sim.balances()[&y]), (INITIAL, INITIAL));
    let after = sim.transfer("n2", &x, &y, 1);
    sim.advance(5 * TIMEOUT);
    assert!(matches!(sim.outcomes.get(&after), Some(Ok(_))), "the accounts are usable again");
    assert_eq!(sim.total(), TOTAL);
}

#[test]
fn recovered_coordinator_finishes_the_commit_its_log_holds() {
    let mut sim = Sim::new(3, 2, |_| {});
    let (x, y) = (sim.account_on("n2"), sim.account_on("n3"));
    let t = sim.transfer("n1", &x, &y, 30);
    sim.intercept(1000, "first commit", is_commit("n1", "n2"));
    sim.crash_unsent("n1");
    assert!(matches!(sim.outcomes.get(&t), Some(Ok(_))), "the client heard of the commit once it was logged");
    sim.advance(20 * TIMEOUT);
    assert_eq!(sim.in_doubt(), 2, "nobody but the coordinator knows the outcome");
    sim.restart("n1");
    sim.advance(5 * TIMEOUT);
    assert_eq!(sim.in_doubt(), 0);
    assert_eq!((sim.balances()[&x], sim.balances()[&y]), (INITIAL - 30, INITIAL + 30));
    assert_eq!(sim.total(), TOTAL);
}

/// A transfer whose commit reaches the first participant but, for a while (twice the
/// time a participant waits before deciding alone), not the second.
fn commit_reaches_one_participant(tweak: impl Fn(&mut CoreConfig)) -> (Sim, String, String) {
    let mut sim = Sim::new(3, 3, tweak);
    let (x, y) = (sim.account_on("n2"), sim.account_on("n3"));
    sim.transfer("n1", &x, &y, 30);
    sim.intercept(1000, "commit to n3", is_commit("n1", "n3"));
    sim.cut_both("n1", "n3");
    sim.advance(5 * TIMEOUT);
    sim.heal();
    sim.advance(5 * TIMEOUT);
    (sim, x, y)
}

#[test]
fn heuristic_abort_creates_or_destroys_money() {
    let (sim, x, y) = commit_reaches_one_participant(|_| {});
    assert_eq!(sim.total(), TOTAL, "the correct participant waited for the decision");
    assert_eq!(sim.balances()[&y], INITIAL + 30);
    let (sim, x2, y2) = commit_reaches_one_participant(|c| c.unsafe_heuristic_abort = true);
    assert_eq!((x, y), (x2.clone(), y2.clone()));
    assert_eq!(sim.balances()[&x2], INITIAL - 30, "the first participant committed");
    assert_eq!(sim.balances()[&y2], INITIAL, "the second aborted on its own");
    assert_eq!(sim.total(), TOTAL - 30, "so money was destroyed");
}

/// The coordinator crashes after its commit reached the first participant only, and
/// restarts.
fn coordinator_crashes_mid_commit(tweak: impl Fn(&mut CoreConfig)) -> Sim {
    let mut sim = Sim::new(3, 4, tweak);
    let (x, y) = (sim.account_on("n2"), sim.account_on("n3"));
    sim.transfer("n1", &x, &y, 30);
    sim.intercept(1000, "commit to n3", is_commit("n1", "n3"));
    sim.crash_unsent("n1");
    sim.advance(2 * TIMEOUT);
    sim.restart("n1");
    sim.advance(5 * TIMEOUT);
    sim
}

#[test]
fn no_decision_log_creates_or_destroys_money() {
    let sim = coordinator_crashes_mid_commit(|_| {});
    assert_eq!(sim.in_doubt(), 0);
    assert_eq!(sim.total(), TOTAL, "the logged decision was resent after the restart");
    let sim = coordinator_crashes_mid_commit(|c| c.unsafe_no_decision_log = true);
    assert_eq!(sim.in_doubt(), 0);
    assert_eq!(sim.total(), TOTAL - 30, "the forgetful coordinator answered abort to the second participant");
}

/// A full read runs while a transfer's commit has reached its first participant but
/// not yet its second; the commit arrives shortly after.
fn read_during_commit(tweak: impl Fn(&mut CoreConfig)) -> Vec<i64> {
    let mut sim = Sim::new(3, 5, tweak);
    let (x, y) = (sim.account_on("n2"), sim.account_on("n3"));
    sim.transfer("n1", &x, &y, 30);
    let held = sim.intercept(1000, "commit to n3", is_commit("n1", "n3"));
    sim.read_all("n2");
    sim.advance(TIMEOUT / 4);
    sim.deliver(held);
    sim.advance(5 * TIMEOUT);
    assert_eq!(sim.total(), TOTAL);
    sim.read_sums()
}

#[test]
fn unlocked_reads_show_a_torn_snapshot() {
    assert_eq!(read_during_commit(|_| {}), vec![TOTAL], "a locked read waits for the commit");
    assert_eq!(
        read_during_commit(|c| c.unsafe_unlocked_reads = true),
        vec![TOTAL - 30],
        "an unlocked read sees the debit without the credit"
    );
}

#[test]
fn three_pc_finishes_without_the_coordinator() {
    let scenario = |protocol| {
        let mut sim = Sim::new(3, 6, |c| c.protocol = protocol);
        let (x, y) = (sim.account_on("n2"), sim.account_on("n3"));
        sim.transfer("n1", &x, &y, 30);
        sim.intercept(1000, "last vote", is_vote("n3", "n1"));
        sim.crash_unsent("n1");
        sim.advance(10 * TIMEOUT);
        sim
    };
    let two = scenario(Protocol::TwoPhase);
    assert_eq!(two.in_doubt(), 2, "2PC blocks while the coordinator is away");
    assert!(two.locks() >= 2);
    let three = scenario(Protocol::ThreePhase);
    assert_eq!(three.in_doubt(), 0, "3PC participants decide alone");
    assert_eq!(three.locks(), 0);

    // Crashing after every participant pre-committed: they all commit alone.
    let mut sim = Sim::new(3, 7, |c| c.protocol = Protocol::ThreePhase);
    let (x, y) = (sim.account_on("n2"), sim.account_on("n3"));
    sim.transfer("n1", &x, &y, 30);
    sim.intercept(1000, "commit after the pre-commits", is_commit("n1", "n2"));
    sim.crash_unsent("n1");
    sim.advance(10 * TIMEOUT);
    assert_eq!(sim.in_doubt(), 0);
    assert_eq!((sim.balances()[&x], sim.balances()[&y]), (INITIAL - 30, INITIAL + 30));
}

#[test]
fn three_pc_diverges_under_partition() {
    let mut sim = Sim::new(3, 8, |c| c.protocol = Protocol::ThreePhase);
    let (x, y) = (sim.account_on("n2"), sim.account_on("n3"));
    sim.transfer("n1", &x, &y, 30);
    // The coordinator is cut off from n3 just as it pre-commits: n2 pre-commits and
    // commits, n3 never hears of it and aborts by timeout.
    sim.intercept(1000, "pre-commit to n3", is_precommit("n1", "n3"));
    sim.cut_both("n1", "n3");
    sim.advance(10 * TIMEOUT);
    sim.heal();
    sim.advance(10 * TIMEOUT);
    assert_eq!(sim.in_doubt(), 0);
    assert_eq!(sim.balances()[&x], INITIAL - 30, "n2 committed");
    assert_eq!(sim.balances()[&y], INITIAL, "n3 aborted alone");
    assert_eq!(sim.total(), TOTAL - 30);

    // The same partition, at the same point, only delays 2PC.
    let mut sim = Sim::new(3, 8, |_| {});
    sim.transfer("n1", &x, &y, 30);
    sim.intercept(1000, "commit to n3", is_commit("n1", "n3"));
    sim.cut_both("n1", "n3");
    sim.advance(10 * TIMEOUT);
    assert_eq!(sim.in_doubt(), 1, "n3 waits");
    sim.heal();
    sim.advance(10 * TIMEOUT);
    assert_eq!(sim.in_doubt(), 0);
    assert_eq!(sim.total(), TOTAL);
}

#[test]
fn three_pc_restarted_coordinator_leaves_its_unfinished_transaction_to_the_participants() {
    // n1 coordinates a transfer between its own account and n2's, logs the commit and dies
    // before any pre-commit leaves (the pause hook holds them back). n2 aborts alone while
    // n1 is down; n1's own participant, replayed in doubt, must abort too, not take a
    // resent commit from its recovered coordinator.
    let mut sim = Sim::new(3, 10, |c| {
        c.protocol = Protocol::ThreePhase;
        c.pause_before_commit_ms = 10 * TIMEOUT;
    });
    let (x, y) = (sim.account_on("n1"), sim.account_on("n2"));
    sim.transfer("n1", &x, &y, 30);
    let last = sim.intercept(1000, "last vote", is_vote("n2", "n1"));
    sim.deliver(last);
    assert!(sim.core("n1").knows_committed(&sim.core("n2").status().in_doubt[0].txn), "the commit is logged");
    sim.crash_unsent("n1");
    sim.advance(10 * TIMEOUT);
    sim.restart("n1");
    sim.advance(10 * TIMEOUT);
    assert_eq!(sim.in_doubt(), 0);
    assert_eq!((sim.balances()[&x], sim.balances()[&y]), (INITIAL, INITIAL), "both sides aborted");
    assert_eq!(sim.total(), TOTAL);
}

#[test]
fn three_pc_prepare_queued_behind_a_dead_coordinators_locks_is_refused_not_granted_later() {
    // The coordinator dies with one transfer in doubt on n2 and n3 and a second one's
    // prepare queued on n2 behind the first one's locks. The first is aborted alone after
    // 2 x TIMEOUT; the queued prepare must not then take the locks and vote to nobody,
    // blocking the account for another 2 x TIMEOUT: it is refused after TIMEOUT.
    let mut sim = Sim::new(3, 11, |c| c.protocol = Protocol::ThreePhase);
    let (x, y) = (sim.account_on("n2"), sim.account_on("n3"));
    sim.transfer("n1", &x, &y, 30);
    let _lost = sim.intercept(1000, "last vote", is_vote("n3", "n1"));
    sim.transfer("n1", &x, &y, 5);
    sim.advance(TIMEOUT / 4);
    assert_eq!(sim.core("n2").status().lock_waiters, 1, "the second prepare waits on n2");
    sim.crash_unsent("n1");
    sim.advance(3 * TIMEOUT);
    assert_eq!(sim.in_doubt(), 0, "nothing is left in doubt on n2 or n3");
    assert_eq!(sim.locks(), 0, "no lock is held for a dead coordinator");
    assert_eq!(sim.total(), TOTAL);
}

#[test]
fn insufficient_funds_abort_and_change_nothing() {
    let mut sim = Sim::new(3, 9, |_| {});
    let (x, y) = (sim.account_on("n2"), sim.account_on("n3"));
    let t = sim.transfer("n1", &x, &y, INITIAL + 1);
    sim.advance(5 * TIMEOUT);
    let reason = sim.outcomes[&t].clone().expect_err("refused");
    assert!(reason.contains("insufficient funds"), "{reason}");
    assert_eq!(sim.locks(), 0);
    assert_eq!(sim.balances()[&x], INITIAL);
}

#[test]
fn three_pc_never_leaves_a_participant_in_doubt_after_its_timeout() {
    let (sim, crashes) = random_run(3, |c| c.protocol = Protocol::ThreePhase);
    assert!(crashes > 0);
    assert_eq!(sim.in_doubt(), 0);
    assert_eq!(sim.locks(), 0);
}

/// Whether a healed random run broke the bank: money created or destroyed, a negative
/// balance, or a torn full read.
fn broke_the_bank(sim: &Sim) -> bool {
    sim.total() != TOTAL
        || sim.balances().values().any(|b| *b < 0)
        || sim.read_sums().iter().any(|s| *s != TOTAL)
}

/// Switches one planted bug on.
type Tweak = fn(&mut CoreConfig);

#[test]
fn every_planted_bug_breaks_the_bank_in_some_random_run() {
    let bugs: [(&str, Tweak); 3] = [
        ("unsafe-heuristic-abort", |c| c.unsafe_heuristic_abort = true),
        ("unsafe-no-decision-log", |c| c.unsafe_no_decision_log = true),
        ("unsafe-unlocked-reads", |c| c.unsafe_unlocked_reads = true),
    ];
    for (name, bug) in bugs {
        let broken: Vec<u64> = (0..12).filter(|seed| broke_the_bank(&random_run(*seed, bug).0)).collect();
        eprintln!("{name}: broke the bank with seeds {broken:?}");
        assert!(!broken.is_empty(), "{name} never broke the bank in 12 random runs");
    }
}

#[test]
fn three_pc_breaks_the_bank_in_some_random_partitioned_run() {
    let broken: Vec<u64> = (0..12)
        .filter(|seed| broke_the_bank(&random_run(*seed, |c| c.protocol = Protocol::ThreePhase).0))
        .collect();
    eprintln!("3pc: broke the bank with seeds {broken:?}");
    assert!(!broken.is_empty(), "3PC kept the bank in 12 random partitioned runs");
}
