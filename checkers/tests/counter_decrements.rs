//! The counter checker with decrements: a decrement may lower the counter from its
//! invocation on and certainly has once acknowledged, so the bounds a read must lie within
//! widen downwards while one is in flight. Also what must not wrap: sums of `i64` adds are
//! kept wide, so huge adds cannot make an impossible read look possible.

mod ladder_support;

use ladder_support::Builder;
use serde_json::{Value, json};
use sunder_check::counter::{self, CounterSettings};
use sunder_check::history::OpType;
use sunder_check::verdict::Validity;

fn add(b: &mut Builder, p: u64, d: i64) {
    b.invoke(p, "add", "c", json!(d)).complete(p, OpType::Ok, "add", "c", json!(d));
}

fn read(b: &mut Builder, p: u64, v: i64) {
    b.invoke(p, "read", "c", Value::Null).complete(p, OpType::Ok, "read", "c", json!(v));
}

#[test]
fn acknowledged_decrements_lower_both_bounds() {
    let mut b = Builder::new();
    add(&mut b, 0, 5);
    add(&mut b, 0, -3);
    read(&mut b, 1, 2);
    assert_eq!(counter::check(&b.history(), &CounterSettings::default()).valid, Validity::Valid);
    let mut b = Builder::new();
    add(&mut b, 0, 5);
    add(&mut b, 0, -3);
    read(&mut b, 1, 5);
    let r = counter::check(&b.history(), &CounterSettings::default());
    assert_eq!(r.valid, Validity::Invalid, "a read of 5 after -3 was acknowledged is impossible");
    assert_eq!(r.anomalies[0].kind, "read-above-upper-bound");
}

#[test]
fn a_decrement_in_flight_may_or_may_not_be_seen() {
    for seen in [5, 2] {
        let mut b = Builder::new();
        add(&mut b, 0, 5);
        b.invoke(2, "add", "c", json!(-3));
        read(&mut b, 1, seen);
        b.complete(2, OpType::Info, "add", "c", json!(-3));
        assert_eq!(
            counter::check(&b.history(), &CounterSettings::default()).valid,
            Validity::Valid,
            "{seen}"
        );
    }
    let mut b = Builder::new();
    add(&mut b, 0, 5);
    b.invoke(2, "add", "c", json!(-3));
    read(&mut b, 1, 1);
    b.complete(2, OpType::Info, "add", "c", json!(-3));
    let r = counter::check(&b.history(), &CounterSettings::default());
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(r.anomalies[0].kind, "read-below-lower-bound");
}

#[test]
fn huge_adds_do_not_wrap_into_a_plausible_sum() {
    let mut b = Builder::new();
    add(&mut b, 0, i64::MAX);
    add(&mut b, 0, i64::MAX);
    read(&mut b, 1, -2);
    assert_eq!(counter::check(&b.history(), &CounterSettings::default()).valid, Validity::Invalid);
}
