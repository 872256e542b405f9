//! The time and memory the transactional checker may spend. Every step asks the meter
//! before it grows a large structure or starts another round of search; running out ends
//! the check with `unknown` and a reason instead of an out-of-memory or an endless search.

use std::time::{Duration, Instant};

/// Limits on one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnBudget {
    /// Wall time for the whole check.
    pub time: Duration,
    /// Bytes the checker's own structures may hold (the history itself not counted).
    pub memory_bytes: u64,
}

impl Default for TxnBudget {
    /// One minute and 2 GiB.
    fn default() -> TxnBudget {
        TxnBudget { time: Duration::from_secs(60), memory_bytes: 2 << 30 }
    }
}

/// Why a check stopped early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Exhausted(pub String);

/// Tracks time and the size of the largest structures against a [`TxnBudget`].
#[derive(Debug)]
pub(crate) struct Meter {
    budget: TxnBudget,
    started: Instant,
}

impl Meter {
    /// Starts the clock.
    pub(crate) fn new(budget: TxnBudget) -> Meter {
        Meter { budget, started: Instant::now() }
    }

    /// Fails once the time budget is spent; `doing` names the step for the reason.
    pub(crate) fn time(&self, doing: &str) -> Result<(), Exhausted> {
        if self.started.elapsed() > self.budget.time {
            return Err(Exhausted(format!(
                "time budget of {:.1} s spent while {doing}",
                self.budget.time.as_secs_f64()
            )));
        }
        Ok(())
    }

    /// Fails when a structure of `bytes` would not fit the memory budget.
    pub(crate) fn memory(&self, bytes: u64, what: &str) -> Result<(), Exhausted> {
        if bytes > self.budget.memory_bytes {
            return Err(Exhausted(format!(
                "memory budget of {} MiB too small: {what} would need about {} MiB",
                self.budget.memory_bytes >> 20,
                bytes >> 20
            )));
        }
        Ok(())
    }

    /// Seconds since the check began.
    pub(crate) fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}
