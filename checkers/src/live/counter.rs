//! The counter invariant judged while the history is written. The offline check looks
//! ahead from an add's invocation to whether it failed; here [`super::calls`] releases an
//! invocation only once every call invoked up to it has settled, and a completion once
//! every call invoked before it has, so [`CounterCheck`] (the code the offline check runs)
//! sees each op knowing what it needs. Each key is judged on its own, as the offline
//! `per_key` does. Only a verdict the offline check would give to the byte comes out: every
//! read within its bounds. Anything else is left to the offline check.

use super::Outcome;
use super::calls::{Calls, Event};
use super::frame::Frame;
use crate::counter::{CounterCheck, CounterSettings};
use crate::history::{Name, Op, OpType};
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;

/// A settled call waiting for its events' release.
struct Known {
    key: Name,
    invoke: Op,
    completion: Option<Op>,
}

/// The streaming judge of a counter plan.
pub struct CounterJudge {
    settings: CounterSettings,
    calls: Calls,
    known: FxHashMap<usize, Known>,
    /// One check per key of the client ops (`""` for ops without a key).
    checks: BTreeMap<Name, CounterCheck>,
    frame: Frame,
}

impl CounterJudge {
    /// A judge of the counter invariant under `settings`.
    pub fn new(settings: &CounterSettings) -> CounterJudge {
        CounterJudge {
            settings: *settings,
            calls: Calls::default(),
            known: FxHashMap::default(),
            checks: BTreeMap::new(),
            frame: Frame::default(),
        }
    }

    /// Takes the next ops of the history, in order.
    pub fn feed(&mut self, ops: &[Op]) {
        for op in ops {
            if !self.frame.note(op) {
                return;
            }
            if op.is_nemesis() {
                continue;
            }
            let key = op.key.clone().unwrap_or_default();
            if !self.checks.contains_key(&key) {
                self.checks.insert(key.clone(), CounterCheck::new(&self.settings));
            }
            let known = &mut self.known;
            let pushed = self.calls.push(op, |s| {
                let key = s.invoke.key.clone().unwrap_or_default();
                known
                    .insert(s.at, Known { key, invoke: s.invoke.clone(), completion: s.completion.cloned() });
            });
            if let Err(e) = pushed {
                self.give_up(format!("op {}: {e}", op.index));
                return;
            }
            self.release();
        }
    }

    /// Applies every released event to its key's check.
    fn release(&mut self) {
        while self.frame.given_up().is_none() {
            let Some(event) = self.calls.next_event() else { return };
            let (at, returned) = match event {
                Event::Invoke(at) => (at, false),
                Event::Return(at, _) => (at, true),
            };
            let Some(known) = self.known.get(&at) else { continue };
            let Some(check) = self.checks.get_mut(&known.key) else { continue };
            if returned {
                if let Some(c) = &known.completion {
                    check.complete(c, known.invoke.index);
                }
                self.known.remove(&at);
            } else {
                let failed = known.completion.as_ref().is_some_and(|c| c.kind == OpType::Fail);
                check.invoke(&known.invoke, failed);
                // A call with no return event is done with once invoked.
                if known.completion.as_ref().is_none_or(|c| c.kind == OpType::Info) {
                    self.known.remove(&at);
                }
            }
            if !self.checks.values().all(CounterCheck::holds) {
                self.give_up("a counter read lies outside its bounds".into());
            }
        }
    }

    fn give_up(&mut self, why: String) {
        self.frame.give_up(why);
        self.calls = Calls::default();
        self.known.clear();
    }

    /// Why the judge gave up, if it has.
    pub fn given_up(&self) -> Option<&str> {
        self.frame.given_up()
    }

    /// The verdict, once every op is in.
    pub fn finish(mut self) -> Outcome {
        if self.frame.given_up().is_none() {
            let (known, stats) = (&mut self.known, &mut self.frame.stats);
            self.calls.close(|s| {
                stats.count_never_completed(&s.invoke.f);
                let key = s.invoke.key.clone().unwrap_or_default();
                known.insert(s.at, Known { key, invoke: s.invoke.clone(), completion: None });
            });
            self.release();
        }
        let (checks, settings) = (self.checks, self.settings);
        self.frame.results("counter", || {
            if checks.len() <= 1 {
                checks.into_values().next().unwrap_or_else(|| CounterCheck::new(&settings)).finish()
            } else {
                crate::plan::compose_keys(checks.into_iter().map(|(k, c)| (k.to_string(), c.finish())))
            }
        })
    }
}
