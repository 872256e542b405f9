//! Which line of a history file each op came from, kept without a number per op.
//!
//! The reader needs an op's line only to name it in an error, yet a JSONL history has one
//! op a line, so op `i` comes from line `i + 1` but for the blank lines skipped before it.
//! [`LineMap`] stores only the places where that rule shifts, which for Sunder's files is
//! the first op alone, instead of a vector as long as the history.

/// The line each op position came from, as the positions where `line - position` changes.
#[derive(Debug, Default)]
pub(super) struct LineMap {
    /// `(position, line)` of each op whose line the op before it does not predict, in order.
    shifts: Vec<(usize, usize)>,
}

impl LineMap {
    /// Records that the op at `position` (the next one after every position recorded so
    /// far) came from `line`.
    pub(super) fn record(&mut self, position: usize, line: usize) {
        if self.predicted(position) != Some(line) {
            self.shifts.push((position, line));
        }
    }

    /// Records the lines of `other`, a map of ops that follow every op recorded so far and
    /// whose first has position `offset` here.
    pub(super) fn extend_shifted(&mut self, other: &LineMap, offset: usize) {
        for &(position, line) in &other.shifts {
            self.record(offset + position, line);
        }
    }

    /// The line the op at `position` came from; `position` must have been recorded or
    /// follow a recorded one.
    pub(super) fn line_of(&self, position: usize) -> usize {
        self.predicted(position).expect("a line for every op read")
    }

    fn predicted(&self, position: usize) -> Option<usize> {
        let after = self.shifts.partition_point(|&(p, _)| p <= position);
        let &(p, line) = self.shifts.get(after.checked_sub(1)?)?;
        Some(line + (position - p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gives_every_op_its_line_across_blank_lines_and_pieces() {
        // Lines 1 and 4 are blank; ops 0..3 come from lines 2, 3, 5, 6, then a second
        // piece adds ops from lines 7 and 9.
        let mut map = LineMap::default();
        for (position, line) in [(0, 2), (1, 3), (2, 5), (3, 6)] {
            map.record(position, line);
        }
        let mut piece = LineMap::default();
        piece.record(0, 7);
        piece.record(1, 9);
        map.extend_shifted(&piece, 4);
        let lines: Vec<usize> = (0..6).map(|p| map.line_of(p)).collect();
        assert_eq!(lines, vec![2, 3, 5, 6, 7, 9]);
        assert_eq!(map.shifts.len(), 3, "only the shifts are kept: {:?}", map.shifts);
    }
}
