//! Writes-follow-reads against its definition, on thousands of small histories whose reads
//! return any value issued for their key. After a process reads a write `w2` of another
//! process, none of its later reads of a key may return the initial value if `w2`'s
//! process had read a write of that key before issuing `w2`, nor a write older (in its
//! writer's order) than one `w2`'s process had read of that key from the same writer. The
//! checker finds these through an index and forward-moving cursors; the definition here
//! tries every triple of reads.

mod ladder_support;

use ladder_support::Builder;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use sunder_check::history::History;
use sunder_check::ladder::register::{RegisterHistory, Source};
use sunder_check::session;
use sunder_check::verdict::Validity;

/// `calls` completed calls by `workers` processes on `keys` keys, one after another; reads
/// (half) return the initial value now and then, else one of the last four values issued
/// for the key.
fn history(seed: u64, workers: u64, keys: usize, calls: usize) -> History {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut b = Builder::new();
    let mut issued: Vec<Vec<i64>> = vec![Vec::new(); keys];
    let mut next = 0i64;
    for _ in 0..calls {
        let p = rng.random_range(0..workers);
        let k = rng.random_range(0..keys);
        let key = format!("k{k}");
        if rng.random_bool(0.5) {
            let v = if issued[k].is_empty() || rng.random_bool(0.2) {
                Value::Null
            } else {
                json!(issued[k][rng.random_range(issued[k].len().saturating_sub(4)..issued[k].len())])
            };
            b.read(p, &key, v);
        } else {
            next += 1;
            issued[k].push(next);
            b.write(p, &key, json!(next));
        }
    }
    b.history()
}

/// Whether some read breaks writes-follow-reads, by trying every (read of `w2`, later
/// read, read by `w2`'s process before `w2`).
fn violated_by_definition(rh: &RegisterHistory) -> bool {
    let ev = |e: u32| &rh.events[e as usize];
    for s in 0..rh.process_count() {
        let events: Vec<u32> = rh.process_events(s).map(|e| e as u32).collect();
        for (i, &saw) in events.iter().enumerate() {
            let Some(Source::Write(w2)) = ev(saw).read else { continue };
            let q = ev(w2).process as usize;
            if q == s {
                continue;
            }
            let before_w2 = rh.process_events(q).map(|e| e as u32).filter(|&x| ev(x).pos < ev(w2).pos);
            for x in before_w2 {
                let Some(Source::Write(w1)) = ev(x).read else { continue };
                for &r in &events[i + 1..] {
                    if ev(r).key != ev(x).key {
                        continue;
                    }
                    match ev(r).read {
                        Some(Source::Init) => return true,
                        Some(Source::Write(w0))
                            if ev(w0).process == ev(w1).process && ev(w0).pos < ev(w1).pos =>
                        {
                            return true;
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    false
}

#[test]
fn writes_follow_reads_agrees_with_the_definition_on_small_histories() {
    let (mut held, mut broken) = (0, 0);
    for seed in 0..20_000u64 {
        let (workers, keys, calls) = match seed % 3 {
            0 => (3, 1, 20),
            1 => (4, 1, 24),
            _ => (3, 2, 24),
        };
        let h = history(seed, workers, keys, calls);
        let Ok(rh) = RegisterHistory::from_history(&h) else { continue };
        let expected = violated_by_definition(&rh);
        let results = session::check_register(&rh);
        let (_, wfr) = results.iter().find(|(m, _)| m == "writes-follow-reads").expect("writes-follow-reads");
        let want = if expected { Validity::Invalid } else { Validity::Valid };
        assert_eq!(wfr.valid, want, "seed {seed}: {:?}\n{:?}", wfr.anomalies, h.ops());
        if expected {
            broken += 1;
        } else {
            held += 1;
        }
    }
    assert!(held > 1_000 && broken > 1_000, "{held} held, {broken} broken");
}
