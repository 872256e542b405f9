//! Pairs a history's ops into calls as they arrive, with [`History::new`]'s strict rules,
//! and releases the calls' invocations and returns in history order once each is *settled*:
//! an event is released only when every call invoked before it has completed, so whoever
//! consumes the events knows every open call's outcome. The frontier trails the newest op
//! by at most the longest call in flight (the op timeout), and at the end of the history
//! every call still open is settled as crashed.
//!
//! [`History::new`]: crate::history::History::new

use crate::history::{Op, OpType, Process};
use rustc_hash::FxHashMap;
use std::collections::{BTreeSet, VecDeque};

/// A client call whose outcome is known.
pub struct Settled<'a> {
    /// Position of its invocation.
    pub at: usize,
    /// The invocation.
    pub invoke: &'a Op,
    /// The completion; `None` for a call still open at the end.
    pub completion: Option<&'a Op>,
}

/// An event released in history order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The call invoked at this position opened.
    Invoke(usize),
    /// The call invoked at this position returned, at the op of this index.
    Return(usize, u64),
}

/// Ops paired into calls, and the events not yet released.
#[derive(Default)]
pub struct Calls {
    seen: usize,
    /// Open invocation per process: its position and op.
    open: FxHashMap<u64, (usize, Op)>,
    open_positions: BTreeSet<usize>,
    retired: FxHashMap<u64, u64>,
    events: VecDeque<(usize, Event)>,
    /// Set by [`Calls::pairing_only`]: no events are kept.
    no_events: bool,
}

impl Calls {
    /// Calls that only pair and settle, for a consumer that wants the calls but not the
    /// events in order (which would pile up behind a call that never completes).
    pub fn pairing_only() -> Calls {
        Calls { no_events: true, ..Calls::default() }
    }

    /// Takes the next op of the history, handing `settled` the call it completes, if any;
    /// fails with what breaks the history's rules (the offline reader reports it in its own
    /// words).
    pub fn push(&mut self, op: &Op, settled: impl FnOnce(Settled<'_>)) -> Result<(), String> {
        let at = self.seen;
        self.seen += 1;
        let Process::Client(p) = op.process else { return Ok(()) };
        if let Some(&index) = self.retired.get(&p) {
            return Err(format!("process {p} issued an op after its info at op {index}"));
        }
        match op.kind {
            OpType::Invoke => {
                if self.open.contains_key(&p) {
                    return Err(format!("process {p} invoked {} while another invocation is open", op.f));
                }
                self.open.insert(p, (at, op.clone()));
                if !self.no_events {
                    self.open_positions.insert(at);
                    self.events.push_back((at, Event::Invoke(at)));
                }
            }
            kind => {
                let Some((i, invoke)) = self.open.remove(&p) else {
                    return Err(format!("{kind} of {} by process {p} without an invocation", op.f));
                };
                if invoke.f != op.f {
                    return Err(format!("process {p} completed {} but invoked {}", op.f, invoke.f));
                }
                self.open_positions.remove(&i);
                if kind == OpType::Info {
                    self.retired.insert(p, op.index);
                } else if !self.no_events {
                    self.events.push_back((at, Event::Return(i, op.index)));
                }
                settled(Settled { at: i, invoke: &invoke, completion: Some(op) });
            }
        }
        Ok(())
    }

    /// Settles every call still open as crashed (the history ended), in invocation order.
    pub fn close(&mut self, mut settled: impl FnMut(Settled<'_>)) {
        let mut open: Vec<(usize, Op)> = self.open.drain().map(|(_, v)| v).collect();
        open.sort_by_key(|(i, _)| *i);
        for (i, invoke) in &open {
            settled(Settled { at: *i, invoke, completion: None });
        }
        self.open_positions.clear();
    }

    /// The next event every call before it has settled for, if any.
    pub fn next_event(&mut self) -> Option<Event> {
        let frontier = self.open_positions.first().copied().unwrap_or(usize::MAX);
        match self.events.front() {
            Some(&(at, e)) if at < frontier => {
                self.events.pop_front();
                Some(e)
            }
            _ => None,
        }
    }

    /// Events waiting for the frontier.
    pub fn waiting(&self) -> usize {
        self.events.len()
    }
}
