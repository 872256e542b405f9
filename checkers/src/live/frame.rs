//! What every streaming judge of an invariant keeps of a history beside its checker: the
//! stats checker's counts, the nemesis's own ops (few) and the latest time, for the fault
//! windows the results are composed in, and why the judge gave up, if it did. [`Frame::results`]
//! and [`Frame::compose`] compose a decided verdict exactly as `plan::judge` does.

use super::Outcome;
use crate::history::{History, Op, OpNumbering, Strictness};
use crate::stats::Stats;
use crate::verdict::{CheckerResult, Results, Validity};
use std::collections::BTreeMap;

/// The frame of one streamed history.
#[derive(Default)]
pub struct Frame {
    /// The stats checker's counts so far.
    pub stats: Stats,
    nemesis: Vec<Op>,
    end_time: u64,
    given_up: Option<String>,
}

impl Frame {
    /// Notes the next op; `false` once the judge has given up (nothing more is needed).
    pub fn note(&mut self, op: &Op) -> bool {
        if self.given_up.is_some() {
            return false;
        }
        self.end_time = self.end_time.max(op.time);
        self.stats.count(op);
        if op.is_nemesis() {
            self.nemesis.push(op.clone());
        }
        true
    }

    /// Gives the verdict up to the offline check, for this reason (the first one stands).
    pub fn give_up(&mut self, why: String) {
        self.given_up.get_or_insert(why);
    }

    /// Why the judge gave up, if it has.
    pub fn given_up(&self) -> Option<&str> {
        self.given_up.as_deref()
    }

    /// The results of the history, with the stats and `checker`'s result under `name`; or
    /// the offline check, if the judge gave up.
    pub fn results(self, name: &str, checker: impl FnOnce() -> CheckerResult) -> Outcome {
        if let Some(why) = self.given_up {
            return Outcome::Offline(why);
        }
        let checkers = BTreeMap::from([(name.to_string(), checker())]);
        Outcome::Decided(Box::new(self.compose(checkers, vec![])))
    }

    /// The results of a decided history: `checkers` and `models` with the stats, composed
    /// in the nemesis's fault windows as `plan::judge` composes them.
    pub fn compose(
        mut self,
        mut checkers: BTreeMap<String, CheckerResult>,
        models: Vec<(String, Validity)>,
    ) -> Results {
        self.stats.conclude(OpNumbering::Index);
        let stats_result = crate::stats::result(self.stats);
        let stats_details = stats_result.details.clone();
        checkers.insert("stats".to_string(), stats_result);
        // A nemesis op never breaks the pairing rules, so this cannot fail.
        let nemesis = History::new(self.nemesis, Strictness::Lenient).unwrap_or_default();
        let context = crate::distinct::HistoryContext::of_nemesis(&nemesis, self.end_time);
        Results::compose_in(Some(&context), checkers, models, stats_details)
    }

    /// Takes the reason the judge gave up, if it has.
    pub fn take_given_up(&mut self) -> Option<String> {
        self.given_up.take()
    }
}
