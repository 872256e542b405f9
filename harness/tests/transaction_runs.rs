//! Transactions and the bank through the whole pipeline: raft-kv (every transaction through
//! its log) and bank-2pc (two-phase commit over shards) driven by the list-append and bank
//! workloads, with real kills and partitions, judged by the transactional checker and the
//! bank invariants. The correct protocols must hold their guarantees; bank-2pc's planted
//! lock-skipping reads must be caught by both checkers, and its heuristic abort whenever a
//! decision is slow to arrive.

mod support;

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
