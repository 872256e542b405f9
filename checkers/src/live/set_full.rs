//! The set-full invariant judged while the history is written: each op goes to its key's
//! [`SetFullCheck`] (the code the offline check runs) as it arrives, with its invocation's
//! index and time for a read, and the ops are counted for the stats checker
//! ([`super::frame`]). A set-full verdict needs every read, so it is known only at the end,
//! but then at once: the judge keeps one entry per element added, not the history. As for
//! the other judges, only a verdict the offline check would give to the byte comes out of
//! it, a valid one; a lost, stale or unexpected element, a malformed read or a history that
//! breaks the pairing rules is left to the offline check, which ties each anomaly to its
//! fault windows.

use super::Outcome;
use super::calls::Calls;
use super::frame::Frame;
use crate::history::{Name, Op, OpType, Process};
use crate::set_full::{SetFullCheck, SetFullSettings};
use crate::verdict::Validity;
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;

/// The streaming judge of a set-full plan.
pub struct SetFullJudge {
    settings: SetFullSettings,
    calls: Calls,
    /// Each client process's open invocation: (index, time).
    invoked: FxHashMap<u64, (u64, u64)>,
    /// One check per key of the client ops (`""` for ops without a key).
    checks: BTreeMap<Name, SetFullCheck>,
    frame: Frame,
}

impl SetFullJudge {
    /// A judge of the set-full invariant under `settings`.
    pub fn new(settings: &SetFullSettings) -> SetFullJudge {
        SetFullJudge {
            settings: *settings,
            calls: Calls::pairing_only(),
            invoked: FxHashMap::default(),
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
            // Calls still open are counted at the end, when they are settled as never completed.
            if let Err(e) = self.calls.push(op, |_| {}) {
                return self.give_up(format!("op {}: {e}", op.index));
            }
            let invoked = match (op.process, op.kind) {
                (Process::Client(p), OpType::Invoke) => {
                    self.invoked.insert(p, (op.index, op.time));
                    None
                }
                (Process::Client(p), _) => self.invoked.remove(&p),
                _ => None,
            };
            let key = op.key.clone().unwrap_or_default();
            let settings = &self.settings;
            self.checks.entry(key).or_insert_with(|| SetFullCheck::new(settings)).op(op, invoked);
        }
    }

    fn give_up(&mut self, why: String) {
        self.frame.give_up(why);
        self.calls = Calls::pairing_only();
        self.invoked.clear();
        self.checks.clear();
    }

    /// Why the judge gave up, if it has.
    pub fn given_up(&self) -> Option<&str> {
        self.frame.given_up()
    }

    /// The verdict, once every op is in.
    pub fn finish(mut self) -> Outcome {
        let stats = &mut self.frame.stats;
        self.calls.close(|s| stats.count_never_completed(&s.invoke.f));
        let (checks, settings) = (std::mem::take(&mut self.checks), self.settings);
        let result = if checks.len() <= 1 {
            checks.into_values().next().unwrap_or_else(|| SetFullCheck::new(&settings)).finish()
        } else {
            crate::plan::compose_keys(checks.into_iter().map(|(k, c)| (k.to_string(), c.finish())))
        };
        if result.valid != Validity::Valid {
            self.frame.give_up(format!("set-full is {}", result.valid.as_str()));
        }
        self.frame.results("set-full", || result)
    }
}
