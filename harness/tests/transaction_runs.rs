//! Transactions and the bank through the whole pipeline: raft-kv (every transaction through
//! its log) and bank-2pc (two-phase commit over shards) driven by the list-append and bank
//! workloads, with real kills and partitions, judged by the transactional checker and the
//! bank invariants. The correct protocols must hold their guarantees; bank-2pc's planted
//! lock-skipping reads must be caught by both checkers, and its heuristic abort whenever a
//! decision is slow to arrive. Three-phase commit is shown both ways, from the history and
//! the nodes' sampled `/status`: it finishes without a killed coordinator where two-phase
//! commit blocks, and it breaks the bank under a partition where two-phase commit waits.

mod support;

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use support::{Finished, run};

fn strongest(r: &Finished) -> String {
    r.results["strongest_held"].as_str().unwrap_or("none").to_string()
}

/// A bank-2pc list-append run with `setting`, plus `planted` (a bug's `-o`, or nothing).
fn list_append_on_2pc(tag: &str, setting: &[&'static str], planted: &[&'static str]) -> Finished {
    let mut args = vec!["--system", "bank-2pc", "--workload", "list-append"];
    args.extend_from_slice(setting);
    args.extend_from_slice(planted);
    run(tag, &args)
}

/// The correct protocol is strict serializable where the planted bug is caught breaking it.
fn control_holds_where_planted_breaks(control: &Finished, planted: &Finished) {
    assert_eq!(control.code, Some(0), "{}", control.summary());
    assert_eq!(strongest(control), "strict-serializable", "{}", control.summary());
    assert_eq!(planted.code, Some(1), "{}", planted.summary());
    assert_eq!(planted.results["models"]["strict-serializable"], false, "{}", planted.summary());
}

#[test]
fn raft_kv_transactions_are_strict_serializable_under_partitions_and_kills() {
    let r = run(
        "raft-list-append",
        &[
            "--system",
            "raft-kv",
            "--nodes",
            "3",
            "--workload",
            "list-append",
            "--time-limit",
            "12",
            "--nemesis",
            "partition,kill",
            "--nemesis-interval",
            "2",
            "--seed",
            "31",
        ],
    );
    assert_eq!(r.code, Some(0), "{}", r.summary());
    assert_eq!(r.results["models"]["strict-serializable"], true, "{}", r.summary());
    assert_eq!(strongest(&r), "strict-serializable");
    assert!(r.results["stats"]["by_f"]["txn"]["ok"].as_u64().unwrap_or(0) > 200, "{}", r.summary());
}

#[test]
fn bank_2pc_keeps_the_money_under_partitions_and_kills() {
    let r = run(
        "2pc-bank",
        &[
            "--system",
            "bank-2pc",
            "--workload",
            "bank",
            "--time-limit",
            "12",
            "--nemesis-interval",
            "2",
            "--seed",
            "32",
        ],
    );
    assert_eq!(r.code, Some(0), "{}", r.summary());
    assert_eq!(r.results["checkers"]["bank"]["valid"], true, "{}", r.summary());
    assert_eq!(
        r.results["checkers"]["bank"]["details"]["total"],
        500,
        "the run's own total: {}",
        r.summary()
    );
    assert!(r.results["stats"]["by_f"]["read"]["ok"].as_u64().unwrap_or(0) > 20, "{}", r.summary());
}

#[test]
fn bank_2pc_transactions_are_strict_serializable_and_unlocked_reads_are_caught() {
    let setting = ["--time-limit", "8", "--seed", "33"];
    let correct = list_append_on_2pc("2pc-list-append", &setting, &[]);
    assert_eq!(correct.code, Some(0), "{}", correct.summary());
    assert_eq!(strongest(&correct), "strict-serializable", "{}", correct.summary());

    let torn = list_append_on_2pc("2pc-unlocked-reads", &setting, &["-o", "unsafe-unlocked-reads=true"]);
    assert_eq!(torn.code, Some(1), "{}", torn.summary());
    assert_eq!(torn.results["models"]["serializable"], false, "{}", torn.summary());
    assert!(torn.anomaly_kinds().iter().any(|k| k.starts_with("G-single")), "{}", torn.summary());
    assert!(correct.anomaly_kinds().is_empty(), "{}", correct.summary());

    let bank = run(
        "2pc-bank-unlocked",
        &[
            "--system",
            "bank-2pc",
            "--workload",
            "bank",
            "-o",
            "unsafe-unlocked-reads=true",
            "--time-limit",
            "10",
            "--seed",
            "34",
        ],
    );
    assert_eq!(bank.code, Some(1), "{}", bank.summary());
    assert!(bank.anomaly_kinds().iter().any(|k| k == "wrong-total"), "{}", bank.summary());
}

#[test]
fn bank_2pc_participants_that_abort_on_their_own_lose_acknowledged_transactions() {
    // The debug hook holds every writing commit for 600 ms after the coordinator decided
    // (and answered the client), as a slow network between the phases would. Correct
    // participants wait in doubt and commit when the decision arrives; with the planted
    // heuristic abort they give up after 2 x 100 ms, every time, so acknowledged appends
    // vanish and later reads miss them: no fault and no timing luck needed.
    let setting = [
        "--nemesis",
        "none",
        "-o",
        "timeout-ms=100",
        "-o",
        "debug-pause-before-commit-ms=600",
        "--time-limit",
        "6",
        "--seed",
        "35",
    ];
    let patient = list_append_on_2pc("2pc-slow-commit", &setting, &[]);
    let hasty = list_append_on_2pc("2pc-heuristic-abort", &setting, &["-o", "unsafe-heuristic-abort=true"]);
    control_holds_where_planted_breaks(&patient, &hasty);
}

#[test]
fn bank_2pc_coordinator_that_forgets_its_decisions_loses_acknowledged_transactions_to_kills() {
    // With the pause hook every writing commit sits decided but unsent for 1.5 s, so each
    // of the ~6 kills in the run lands on a coordinator holding dozens of them (about 270
    // transactions a second go through three coordinators). The correct coordinator finds
    // them in its log on restart and finishes them; the planted one answers its in-doubt
    // participants "abort", and the clients were already told "ok".
    let setting = [
        "--nemesis",
        "kill",
        "--nemesis-interval",
        "1.5",
        "-o",
        "debug-pause-before-commit-ms=1500",
        "--time-limit",
        "10",
        "--seed",
        "52",
    ];
    let logged = list_append_on_2pc("2pc-kill-logged", &setting, &[]);
    let forgetful =
        list_append_on_2pc("2pc-no-decision-log", &setting, &["-o", "unsafe-no-decision-log=true"]);
    control_holds_where_planted_breaks(&logged, &forgetful);
}

/// One node's `/status` samples from the run folder (`nodes/<node>/status.jsonl`).
fn status_samples(r: &Finished, node: &str) -> Vec<Value> {
    let path = r.store.path().join("latest").join("nodes").join(node).join("status.jsonl");
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}\n{}", path.display(), r.summary()));
    text.lines().map(|l| serde_json::from_str(l).expect("a status sample is JSON")).collect()
}

/// The recorded ops of the run.
fn history(r: &Finished) -> Vec<Value> {
    let text =
        std::fs::read_to_string(r.store.path().join("latest").join("history.jsonl")).expect("history.jsonl");
    text.lines().map(|l| serde_json::from_str(l).expect("an op is JSON")).collect()
}

/// The time (ns) of the first nemesis op `f`.
fn nemesis_time(ops: &[Value], f: &str, r: &Finished) -> u64 {
    ops.iter()
        .find(|o| o["process"] == "nemesis" && o["f"] == f)
        .and_then(|o| o["time"].as_u64())
        .unwrap_or_else(|| panic!("no {f} in the history\n{}", r.summary()))
}

/// Transactions a sample shows in doubt, as `(txn, coordinator)`.
fn in_doubt(sample: &Value) -> BTreeSet<(String, String)> {
    sample["status"]["in_doubt"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|d| {
                    (
                        d["txn"].as_str().unwrap_or("").to_string(),
                        d["coordinator"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The answered samples of `node` taken strictly between `from` and `to` (ns).
fn answered_between(r: &Finished, node: &str, from: u64, to: u64) -> Vec<Value> {
    status_samples(r, node)
        .into_iter()
        .filter(|s| s["ok"] == true && s["time"].as_u64().is_some_and(|t| t > from && t < to))
        .collect()
}

/// Ok transfers invoked after `from` and completed before `to` (ns).
fn transfers_done_between(ops: &[Value], from: u64, to: u64) -> usize {
    let mut invoked: BTreeMap<u64, u64> = BTreeMap::new();
    let mut done = 0;
    for o in ops.iter().filter(|o| o["f"] == "transfer") {
        let (Some(p), Some(t)) = (o["process"].as_u64(), o["time"].as_u64()) else { continue };
        match o["type"].as_str() {
            Some("invoke") => {
                invoked.insert(p, t);
            }
            Some("ok") if invoked.get(&p).is_some_and(|i| *i > from) && t < to => done += 1,
            _ => {}
        }
    }
    done
}

/// A bank run on bank-2pc in which the nemesis SIGKILLs n1 once, at 2.6 s, for 7.2 s
/// (seed 640 with `--nemesis-targets one` draws exactly that, and the time limit ends the
/// run before a second kill). n1 owns no account (`accounts=2`: `a0` lives on n2, `a1` on
/// n3), so it is purely a coordinator, and only n1 holds its writing commits back, for
/// 2.9 s: its first transfer (decided at once, locking both accounts) is certainly
/// decided and unsent when the kill comes, and no pre-commit of n1's is ever in flight at
/// that moment. The others commit at once.
fn coordinator_killed_mid_commit(tag: &str, protocol: &'static str) -> Finished {
    run(
        tag,
        &[
            "--system",
            "bank-2pc",
            "--workload",
            "bank",
            "-w",
            "accounts=2",
            "-w",
            "read-share=5",
            "--nemesis",
            "kill",
            "--nemesis-targets",
            "one",
            "--nemesis-interval",
            "5",
            "--seed",
            "640",
            "--time-limit",
            "11",
            "--op-timeout-ms",
            "1000",
            "-o",
            protocol,
            "-o",
            "timeout-ms=3200",
            "-o",
            "debug-pause-before-commit-ms=2900",
            "-o",
            "debug-pause-nodes=n1",
        ],
    )
}

#[test]
fn three_pc_participants_finish_without_the_killed_coordinator_where_2pc_blocks() {
    let two = coordinator_killed_mid_commit("2pc-coordinator-kill", "protocol=2pc");
    let three = coordinator_killed_mid_commit("3pc-coordinator-kill", "protocol=3pc");
    for r in [&two, &three] {
        assert_eq!(r.code, Some(0), "{}", r.summary());
        assert_eq!(r.results["checkers"]["bank"]["valid"], true, "{}", r.summary());
    }
    for (r, protocol) in [(&two, "2pc"), (&three, "3pc")] {
        let ops = history(r);
        let (killed, back) = (nemesis_time(&ops, "start-kill", r), nemesis_time(&ops, "stop-kill", r));
        let kill = ops.iter().find(|o| o["f"] == "start-kill").expect("a kill");
        assert_eq!(
            kill["value"]["nodes"],
            serde_json::json!(["n1"]),
            "seed 640 kills n1 first\n{}",
            r.summary()
        );
        for node in ["n2", "n3"] {
            // A sample is allowed 300 ms to see the kill; every one after is n1 down.
            let down = answered_between(r, node, killed + 300_000_000, back);
            assert!(
                down.len() >= 20,
                "{protocol} {node}: {} samples while n1 was down\n{}",
                down.len(),
                r.summary()
            );
            let of_n1 = |s: &Value| -> BTreeSet<String> {
                in_doubt(s).into_iter().filter(|(_, c)| c == "n1").map(|(t, _)| t).collect()
            };
            let first = of_n1(&down[0]);
            assert!(
                !first.is_empty(),
                "{protocol} {node}: nothing of n1's in doubt after the kill: {}",
                down[0]
            );
            let last = of_n1(down.last().expect("samples"));
            if protocol == "2pc" {
                // Blocked: the same transactions in doubt, their locks held, all along.
                for s in &down {
                    assert!(first.is_subset(&of_n1(s)), "{node} left doubt without n1: {s}");
                    assert!(
                        !s["status"]["locks"].as_array().is_some_and(Vec::is_empty),
                        "{node} released: {s}"
                    );
                }
                let after = status_samples(r, node);
                let settled = after.last().expect("samples");
                assert!(
                    of_n1(settled).is_disjoint(&first),
                    "{node} still in doubt after n1 returned: {settled}"
                );
            } else {
                // n1's transactions left doubt on their own, before n1 came back.
                assert!(last.is_disjoint(&first), "{node} still in doubt for n1 at {}", down.last().unwrap());
            }
        }
        let done = transfers_done_between(&ops, killed, back);
        if protocol == "2pc" {
            assert_eq!(done, 0, "2pc: transfers completed through n1's held locks\n{}", r.summary());
        } else {
            assert!(done > 0, "3pc: no transfer completed while n1 was down\n{}", r.summary());
        }
    }
}

/// A bank run on bank-2pc partitioned once: seed 1481 cuts n1 off from n2 and n3 (both
/// ways) at 2.7 s for 7.2 s. Every node holds each writing commit back for 3 s after
/// deciding it, longer than the time to the partition, so every transfer decided before
/// it is decided and not yet pre-committed when it starts; the vote timeout of 3.3 s keeps
/// an unfaulted run safe (a pre-commit always arrives before a participant's 6.6 s timer),
/// and the partition outlasts every such timer. Amounts up to 1000 keep the money created
/// and destroyed by different transfers from cancelling out.
///
/// No reads in the main phase (`read-share=0`), which is what makes the outcome certain:
/// a read takes shared locks on every account, n1's first, and then waits 3 s behind the
/// held transfers on n2; one that reached n1 before the first transfers did held n1's
/// accounts until after the cut, so no transfer spanning n1 was decided in time and the
/// run came out valid under load. Without reads, seed 1481's first transfers a7->a20
/// (coordinated by n2) and a16->a29 (by n1) share no account with any other first
/// transfer, so both are decided within the first round trips whatever the load. The
/// final reads after heal still judge the bank, and no main-phase read could succeed
/// anyway: every one waits over 3 s for locks and the client gives up after 1 s.
fn partitioned_mid_commit(tag: &str, protocol: &'static str) -> Finished {
    run(
        tag,
        &[
            "--system",
            "bank-2pc",
            "--workload",
            "bank",
            "-w",
            "accounts=30",
            "-w",
            "balance=100000",
            "-w",
            "max-transfer=1000",
            "-w",
            "read-share=0",
            "--nemesis",
            "partition",
            "--nemesis-interval",
            "5",
            "--seed",
            "1481",
            "--time-limit",
            "11",
            "--op-timeout-ms",
            "1000",
            "-o",
            protocol,
            "-o",
            "timeout-ms=3300",
            "-o",
            "debug-pause-before-commit-ms=3000",
        ],
    )
}

#[test]
fn three_pc_creates_or_destroys_money_under_a_partition_where_2pc_only_waits() {
    let two = partitioned_mid_commit("2pc-partition", "protocol=2pc");
    let three = partitioned_mid_commit("3pc-partition", "protocol=3pc");
    assert_eq!(two.code, Some(0), "{}", two.summary());
    assert_eq!(two.results["checkers"]["bank"]["valid"], true, "{}", two.summary());
    assert_eq!(three.code, Some(1), "{}", three.summary());
    assert_eq!(three.results["checkers"]["bank"]["valid"], false, "{}", three.summary());
    assert!(three.anomaly_kinds().iter().any(|k| k == "wrong-total"), "{}", three.summary());
    for (r, protocol) in [(&two, "2pc"), (&three, "3pc")] {
        let ops = history(r);
        let start = ops.iter().find(|o| o["f"] == "start-partition").expect("a partition");
        assert_eq!(start["value"]["grudge"]["n1"], serde_json::json!(["n2", "n3"]), "{}", r.summary());
        let (cut, healed) =
            (nemesis_time(&ops, "start-partition", r), nemesis_time(&ops, "stop-partition", r));
        let during = answered_between(r, "n1", cut + 300_000_000, healed);
        assert!(during.len() >= 20, "{protocol}: {} samples of n1 during the partition", during.len());
        let waiting_for_others = |s: &Value| -> BTreeSet<String> {
            in_doubt(s).into_iter().filter(|(_, c)| c != "n1").map(|(t, _)| t).collect()
        };
        let first = waiting_for_others(&during[0]);
        assert!(!first.is_empty(), "{protocol}: n1 cut off with nothing in doubt: {}", during[0]);
        let last = waiting_for_others(during.last().expect("samples"));
        if protocol == "2pc" {
            assert!(first.is_subset(&last), "2pc: n1 left doubt while cut off: {}", during.last().unwrap());
        } else {
            assert!(first.is_disjoint(&last), "3pc: n1 still in doubt at {}", during.last().unwrap());
        }
    }
}
