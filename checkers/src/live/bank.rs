//! The bank invariant judged while the history is written: every `ok` read is checked as it
//! arrives ([`crate::bank::BankCheck`], the code the offline check runs), the ops are counted
//! for the stats checker ([`super::frame`]), and the history's pairing rules are kept
//! ([`super::calls`]). As for registers, only a verdict the offline check would give to the
//! byte comes out of it: the invariant held. A broken invariant, a malformed read or a
//! history that breaks the rules is left to the offline check, which ties each anomaly to
//! its fault windows.

use super::Outcome;
use super::calls::Calls;
use super::frame::Frame;
use crate::bank::{BankCheck, BankSettings};
use crate::history::Op;

/// The streaming judge of a bank plan.
pub struct BankJudge {
    check: BankCheck,
    calls: Calls,
    frame: Frame,
}

impl BankJudge {
    /// A judge of the bank invariant under `settings`.
    pub fn new(settings: &BankSettings) -> BankJudge {
        BankJudge { check: BankCheck::new(settings), calls: Calls::pairing_only(), frame: Frame::default() }
    }

    /// Takes the next ops of the history, in order.
    pub fn feed(&mut self, ops: &[Op]) {
        for op in ops {
            if !self.frame.note(op) {
                return;
            }
            // Calls still open are counted at the end, when they are settled as never completed.
            if let Err(e) = self.calls.push(op, |_| {}) {
                return self.give_up(format!("op {}: {e}", op.index));
            }
            self.check.op(op);
            if !self.check.holds() {
                self.give_up("the bank invariant does not hold".into());
            }
        }
    }

    fn give_up(&mut self, why: String) {
        self.frame.give_up(why);
        self.calls = Calls::pairing_only();
    }

    /// Why the judge gave up, if it has.
    pub fn given_up(&self) -> Option<&str> {
        self.frame.given_up()
    }

    /// The verdict, once every op is in.
    pub fn finish(mut self) -> Outcome {
        let stats = &mut self.frame.stats;
        self.calls.close(|s| stats.count_never_completed(&s.invoke.f));
        let check = self.check;
        self.frame.results("bank", || check.finish())
    }
}
