//! Timestamps for last-write-wins registers. Two clocks: the node's wall clock as it is
//! (`resolve=lww`; the driver reads `SystemTime::now()`, so libfaketime's skew reaches it
//! on purpose), and a hybrid logical clock (`resolve=hlc`) that follows the wall clock
//! but never runs backwards and never falls behind a stamp it has seen. Both are pure:
//! the caller passes the wall-clock reading in.

use serde::{Deserialize, Serialize};

/// The version of a last-write-wins value: compared by `time`, then `logical`, then
/// `node`, so two writes never tie.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Stamp {
    /// Milliseconds: the wall clock (lww) or the HLC's physical part.
    pub time: u64,
    /// Tie-breaker within one millisecond: a per-node sequence (lww) or the HLC counter.
    pub logical: u32,
    /// The node that made the stamp.
    pub node: String,
}

/// A stamp source for one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clock {
    node: String,
    hybrid: bool,
    /// Last stamp issued or observed (`time`, `logical`).
    last: (u64, u32),
}

impl Clock {
    /// A wall clock (`hybrid == false`) or an HLC for `node`.
    pub fn new(node: &str, hybrid: bool) -> Clock {
        Clock { node: node.to_string(), hybrid, last: (0, 0) }
    }

    /// A stamp for a new write at wall-clock reading `wall_ms`. The wall clock follows the
    /// reading wherever it goes (a clock set back issues older stamps: the point of
    /// `resolve=lww`); the HLC issues a stamp above every one it issued or observed.
    pub fn stamp(&mut self, wall_ms: u64) -> Stamp {
        let next = if self.hybrid || wall_ms == self.last.0 {
            if wall_ms > self.last.0 { (wall_ms, 0) } else { (self.last.0, self.last.1 + 1) }
        } else {
            (wall_ms, 0)
        };
        self.last = next;
        Stamp { time: next.0, logical: next.1, node: self.node.clone() }
    }

    /// Takes in a stamp seen in a message, so the HLC's next stamp exceeds it. The plain
    /// wall clock ignores it.
    pub fn observe(&mut self, seen: &Stamp) {
        if self.hybrid && (seen.time, seen.logical) > self.last {
            self.last = (seen.time, seen.logical);
        }
    }

    /// A stamp above both the clock and `floor`: the write phase of an ABD write, which
    /// must supersede every version its query phase found, whatever the clock says.
    pub fn stamp_above(&mut self, wall_ms: u64, floor: Option<&Stamp>) -> Stamp {
        let s = self.stamp(wall_ms);
        match floor {
            Some(f) if (f.time, f.logical) >= (s.time, s.logical) => {
                self.last = (f.time, f.logical + 1);
                Stamp { time: f.time, logical: f.logical + 1, node: self.node.clone() }
            }
            _ => s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hlc_never_goes_backwards_under_skew() {
        let mut hlc = Clock::new("n1", true);
        let readings = [1000, 1005, 400, 400, 2000, 10, 2000, 1999];
        let mut prev = None;
        for r in readings {
            let s = hlc.stamp(r);
            if let Some(p) = &prev {
                assert!(s > *p, "{s:?} after {p:?}");
            }
            prev = Some(s);
        }
    }

    #[test]
    fn hlc_stamps_after_an_observed_stamp_from_a_fast_clock() {
        let mut hlc = Clock::new("n1", true);
        let fast = Stamp { time: 50_000, logical: 3, node: "n2".into() };
        hlc.observe(&fast);
        assert!(hlc.stamp(1000) > fast);
    }

    #[test]
    fn wall_clock_stamps_follow_a_clock_set_back() {
        let mut wall = Clock::new("n1", false);
        let late = wall.stamp(5000);
        let early = wall.stamp(1000);
        assert!(early < late, "lww must expose skew, not hide it");
        wall.observe(&Stamp { time: 9000, logical: 0, node: "n2".into() });
        assert_eq!(wall.stamp(1000).time, 1000);
    }

    #[test]
    fn wall_clock_orders_writes_within_one_millisecond() {
        let mut wall = Clock::new("n1", false);
        assert!(wall.stamp(7) < wall.stamp(7));
    }

    #[test]
    fn stamp_above_supersedes_the_floor_even_from_a_slow_clock() {
        let mut wall = Clock::new("n1", false);
        let floor = Stamp { time: 9000, logical: 2, node: "n3".into() };
        let s = wall.stamp_above(100, Some(&floor));
        assert!(s > floor);
    }
}
