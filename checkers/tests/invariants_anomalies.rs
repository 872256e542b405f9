//! One small hand-written history per anomaly kind of the invariant checkers (bank,
//! set-full, set, counter, unique-ids).

mod ladder_support;

use ladder_support::{Builder, v};
use serde_json::{Value, json};
use sunder_check::bank::{self, BankSettings};
use sunder_check::counter::{self, CounterSettings};
use sunder_check::history::{History, OpType};
use sunder_check::set_full::{self, SetFullSettings};
use sunder_check::unique_ids::{self, UniqueIdsSettings};
use sunder_check::verdict::{CheckerResult, Validity};

fn kinds(r: &CheckerResult) -> Vec<&str> {
    r.anomalies.iter().map(|a| a.kind.as_str()).collect()
}

fn bank_reads(reads: &[Value]) -> History {
    let mut b = Builder::new();
    for r in reads {
        b.invoke(1, "read", "", Value::Null).complete(1, OpType::Ok, "read", "", r.clone());
    }
    b.history()
}

fn two_accounts() -> BankSettings {
    BankSettings {
        accounts: Some(vec!["a".into(), "b".into()]),
        total: Some(10),
        negative_balances_allowed: false,
    }
}

#[test]
fn bank_accepts_reads_that_keep_the_total() {
    let h = bank_reads(&[json!({"a": 10, "b": 0}), json!({"a": 3, "b": 7})]);
    let r = bank::check(&h, &two_accounts());
    assert_eq!(r.valid, Validity::Valid, "{r:?}");
}

#[test]
fn bank_accepts_the_accounts_endpoint_body_as_a_read() {
    let h = bank_reads(&[json!({"balances": {"a": 4, "b": 6}})]);
    assert_eq!(bank::check(&h, &two_accounts()).valid, Validity::Valid);
}

#[test]
fn identifies_bank_read_with_wrong_total() {
    let r = bank::check(&bank_reads(&[json!({"a": 3, "b": 8})]), &two_accounts());
    assert_eq!(kinds(&r), ["wrong-total"]);
    assert!(r.anomalies[0].explanation.contains("summing to 11 instead of 10"));
    assert_eq!(r.anomalies[0].ops, [1]);
}

#[test]
fn identifies_bank_read_with_negative_balance_unless_allowed() {
    let h = bank_reads(&[json!({"a": 11, "b": -1})]);
    assert_eq!(kinds(&bank::check(&h, &two_accounts())), ["negative-balance"]);
    let allowed = BankSettings { negative_balances_allowed: true, ..two_accounts() };
    assert_eq!(bank::check(&h, &allowed).valid, Validity::Valid);
}

#[test]
fn identifies_bank_read_with_unexpected_missing_and_null_accounts() {
    let r =
        bank::check(&bank_reads(&[json!({"a": 10, "c": 0}), json!({"a": 10, "b": null})]), &two_accounts());
    let mut k = kinds(&r);
    k.sort();
    assert_eq!(k, ["missing-account", "nil-balance", "unexpected-account"]);
}

#[test]
fn bank_read_that_is_not_a_balance_map_is_unknown_naming_the_op() {
    let r = bank::check(&bank_reads(&[json!([1, 2])]), &two_accounts());
    assert_eq!(r.valid, Validity::Unknown);
    assert!(r.reason.unwrap().contains("op 1"));
}

fn adds_then_reads(adds: &[i64], reads: &[Value]) -> History {
    let mut b = Builder::new();
    for a in adds {
        b.invoke(1, "add", "", v(*a)).complete(1, OpType::Ok, "add", "", v(*a));
    }
    for r in reads {
        b.invoke(2, "read", "", Value::Null).complete(2, OpType::Ok, "read", "", r.clone());
    }
    b.history()
}

#[test]
fn set_full_accepts_elements_that_stay_visible() {
    let r = set_full::check(
        &adds_then_reads(&[1, 2], &[json!([1, 2]), json!([2, 1])]),
        &SetFullSettings::default(),
    );
    assert_eq!(r.valid, Validity::Valid, "{r:?}");
    assert_eq!(r.details["stable-count"], 2);
}

#[test]
fn identifies_set_full_element_that_disappears_as_lost() {
    let r =
        set_full::check(&adds_then_reads(&[1, 2], &[json!([1, 2]), json!([2])]), &SetFullSettings::default());
    assert_eq!(kinds(&r), ["lost"]);
    assert_eq!(r.anomalies[0].ops, [0, 1, 6]);
    assert!(r.anomalies[0].explanation.contains("element 1 was added"));
}

#[test]
fn identifies_set_full_element_never_added_as_unexpected_and_repeats_as_duplicated() {
    let r =
        set_full::check(&adds_then_reads(&[1], &[json!([1, 9]), json!([1, 1])]), &SetFullSettings::default());
    let mut k = kinds(&r);
    k.sort();
    assert_eq!(k, ["duplicated", "unexpected"]);
}

#[test]
fn identifies_set_full_element_late_to_appear_as_stale_only_when_linearizable() {
    let mut b = Builder::new();
    b.invoke(1, "add", "", v(1)).complete(1, OpType::Ok, "add", "", v(1));
    b.invoke(2, "read", "", Value::Null).complete(2, OpType::Ok, "read", "", json!([]));
    b.invoke(2, "read", "", Value::Null).complete(2, OpType::Ok, "read", "", json!([1]));
    // Times in the builder are 10 ns apart; make the miss long enough to count in ms.
    let mut ops = b.history().into_ops();
    for (i, op) in ops.iter_mut().enumerate() {
        op.time = i as u64 * 5_000_000;
    }
    let h = History::new(ops, sunder_check::history::Strictness::Strict).unwrap();
    let plain = set_full::check(&h, &SetFullSettings::default());
    assert_eq!(plain.valid, Validity::Valid, "{plain:?}");
    assert_eq!(plain.details["stale-count"], 1);
    let strict = set_full::check(&h, &SetFullSettings { linearizable: true });
    assert_eq!(kinds(&strict), ["stale"]);
}

#[test]
fn set_full_without_any_stable_element_is_unknown() {
    let r = set_full::check(&adds_then_reads(&[1], &[]), &SetFullSettings::default());
    assert_eq!(r.valid, Validity::Unknown, "{r:?}");
}

#[test]
fn identifies_plain_set_lost_and_unexpected_elements_in_the_final_read() {
    let r = set_full::check_set(&adds_then_reads(&[1, 2, 3], &[json!([1]), json!([1, 2, 7])]));
    let mut k = kinds(&r);
    k.sort();
    assert_eq!(k, ["lost", "unexpected"]);
    assert!(r.anomalies.iter().any(|a| a.explanation.contains("element 3 was acknowledged")));
    assert_eq!(set_full::check_set(&adds_then_reads(&[1], &[])).valid, Validity::Unknown);
}

#[test]
fn counter_accepts_reads_within_bounds_and_counts_indeterminate_adds_as_maybe() {
    let mut b = Builder::new();
    b.invoke(1, "add", "", v(2)).complete(1, OpType::Ok, "add", "", v(2));
    b.invoke(3, "add", "", v(5)).complete(3, OpType::Info, "add", "", v(5));
    b.invoke(4, "add", "", v(100)).complete(4, OpType::Fail, "add", "", v(100));
    b.invoke(2, "read", "", Value::Null).complete(2, OpType::Ok, "read", "", v(7));
    let r = counter::check(&b.history(), &CounterSettings::default());
    assert_eq!(r.valid, Validity::Valid, "{r:?}");
}

#[test]
fn identifies_counter_reads_outside_the_bounds() {
    let mut b = Builder::new();
    b.invoke(1, "add", "", v(2)).complete(1, OpType::Ok, "add", "", v(2));
    b.invoke(2, "read", "", Value::Null).complete(2, OpType::Ok, "read", "", v(1));
    b.invoke(2, "read", "", Value::Null).complete(2, OpType::Ok, "read", "", v(3));
    let r = counter::check(&b.history(), &CounterSettings::default());
    assert_eq!(kinds(&r), ["read-below-lower-bound", "read-above-upper-bound"]);
    assert_eq!(r.anomalies[0].ops, [2, 3]);
    assert!(r.anomalies[0].explanation.contains("process 2 read 1, but the counter was between 2"));
}

#[test]
fn identifies_a_duplicated_unique_id() {
    let mut b = Builder::new();
    for (p, id) in [(1, 10), (2, 11), (3, 10)] {
        b.invoke(p, "generate", "", Value::Null).complete(p, OpType::Ok, "generate", "", v(id));
    }
    let r = unique_ids::check(&b.history(), &UniqueIdsSettings::default());
    assert_eq!(kinds(&r), ["duplicated-id"]);
    assert_eq!(r.anomalies[0].ops, [1, 5]);
    assert_eq!(r.details["range"], json!([10, 11]));
    let mut ok = Builder::new();
    ok.invoke(1, "generate", "", Value::Null).complete(1, OpType::Ok, "generate", "", v(1));
    assert_eq!(unique_ids::check(&ok.history(), &UniqueIdsSettings::default()).valid, Validity::Valid);
}

#[test]
fn set_full_without_any_add_is_unknown_not_invalid() {
    let mut b = Builder::new();
    b.invoke(0, "read", "s", Value::Null).complete(0, OpType::Ok, "read", "s", json!([1, 2, 3]));
    let r = set_full::check(&b.history(), &SetFullSettings::default());
    assert_eq!(r.valid, Validity::Unknown, "{r:?}");
    assert!(r.reason.unwrap().contains("no add"));
}

#[test]
fn set_full_reads_maelstrom_broadcasts_as_adds() {
    let mut b = Builder::new();
    b.invoke(0, "broadcast", "s", json!(7)).complete(0, OpType::Ok, "broadcast", "s", json!(7));
    b.invoke(1, "read", "s", Value::Null).complete(1, OpType::Ok, "read", "s", json!([]));
    let lost = set_full::check(&b.history(), &SetFullSettings::default());
    assert_eq!(lost.valid, Validity::Invalid, "an acknowledged broadcast no read holds is lost");
    let mut b = Builder::new();
    b.invoke(0, "broadcast", "s", json!(7)).complete(0, OpType::Ok, "broadcast", "s", json!(7));
    b.invoke(1, "read", "s", Value::Null).complete(1, OpType::Ok, "read", "s", json!([7]));
    assert_eq!(set_full::check(&b.history(), &SetFullSettings::default()).valid, Validity::Valid);
}
