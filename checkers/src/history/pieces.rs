//! One piece of a history's text, parsed on its own thread straight into its share of the
//! history's op vector.
//!
//! The reader cuts each chunk of `history.jsonl` at line ends into one piece per core
//! ([`split_at_lines`]), hands each piece the run of op slots its lines can fill, and
//! parses the pieces at once ([`parse_piece`]). Everything a piece can judge alone is
//! judged there, in parallel: its UTF-8, every line's JSON, and the index and time rules
//! between its own ops. What is left to the reader is the rule across each seam between
//! pieces and the pairing of the whole history.

use super::line_map::LineMap;
use super::{Op, OpType};
use crate::error::InputError;
use serde_json::Value;
use std::mem::MaybeUninit;
use std::path::Path;

/// A piece of a chunk, surveyed: whole lines (only the input's last may lack its line end).
pub(super) struct Part<'t> {
    /// The 1-based number of the piece's first line in the file.
    pub(super) first_line: usize,
    /// The piece's text.
    pub(super) text: &'t str,
    /// How many lines the piece has, and so at most how many ops.
    pub(super) lines: usize,
}

/// The first pass over a piece, run on the piece's own thread: its text as `str` and its
/// line count (which the reader needs before parsing, to give each piece its slots), or
/// the byte position of its first invalid UTF-8 byte, counted from `start`.
pub(super) fn survey(bytes: &[u8], start: usize) -> Result<(&str, usize), usize> {
    let text = std::str::from_utf8(bytes).map_err(|e| start + e.valid_up_to())?;
    Ok((text, count_lines(bytes)))
}

/// What parsing a piece came to.
pub(super) struct Parsed {
    /// How many of the piece's slots now hold its ops, from the first.
    pub(super) written: usize,
    /// The line each written op came from, by its position among the piece's ops.
    pub(super) lines: LineMap,
    /// The piece's first malformed line, or first op that breaks the index or time rule
    /// against the op before it in the piece, where parsing stopped.
    pub(super) error: Option<InputError>,
}

/// Runs `work` on each item, on a thread each when there are several, and returns the
/// results in the items' order.
pub(super) fn on_threads<T: Send, R: Send>(items: Vec<T>, work: impl Fn(T) -> R + Sync) -> Vec<R> {
    if items.len() == 1 {
        return items.into_iter().map(work).collect();
    }
    let work = &work;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items.into_iter().map(|item| scope.spawn(move || work(item))).collect();
        handles.into_iter().map(|h| h.join().expect("a history parser thread panicked")).collect()
    })
}

/// An op that holds a slot until the piece's thread writes the real op over it: cheap to
/// make, and nothing to free.
pub(super) fn placeholder() -> Op {
    Op {
        index: 0,
        time: 0,
        process: super::Process::Nemesis,
        kind: OpType::Info,
        f: super::Name::EMPTY,
        key: None,
        value: Value::Null,
        node: None,
        error: None,
        siblings: None,
    }
}

/// Parses `part` into `slots` (at least `part.lines` of them, not yet holding ops),
/// stopping at its first problem. The first `written` slots then hold the piece's ops and
/// every other slot holds nothing: the caller owns the ops and must move or drop them.
///
/// Each slot gets its placeholder here, just before its line is parsed over it, rather
/// than the whole vector in one pass beforehand: that pass wrote every op twice, and on
/// one thread while the other cores waited.
pub(super) fn parse_piece(path: &Path, part: &Part<'_>, slots: &mut [MaybeUninit<Op>]) -> Parsed {
    let mut parsed = Parsed { written: 0, lines: LineMap::default(), error: None };
    let mut previous_line = 0;
    for (n, line) in lines(part.text).enumerate() {
        if is_blank(line) {
            continue;
        }
        let at = part.first_line + n;
        let (done, rest) = slots.split_at_mut(parsed.written);
        let slot = rest[0].write(placeholder());
        // Nearly every line has the writer's own shape, read without serde's machinery.
        let mut error = None;
        if !super::canonical::parse_into(line, slot) {
            match serde_json::from_str::<Op>(line) {
                Ok(op) => *slot = op,
                Err(e) => error = Some(InputError::json(path, at, "malformed op", &e)),
            }
        }
        if error.is_none()
            && let Some(previous) = done.last()
        {
            // SAFETY: the slots before `written` hold this piece's ops.
            let previous = unsafe { previous.assume_init_ref() };
            error = check_order(path, at, slot, Some((previous, previous_line))).err();
        }
        if let Some(e) = error {
            // SAFETY: the slot was written above and is not counted among the ops.
            unsafe { rest[0].assume_init_drop() };
            parsed.error = Some(e);
            break;
        }
        parsed.lines.record(parsed.written, at);
        parsed.written += 1;
        previous_line = at;
    }
    parsed
}

/// The lines of `text` exactly as `str::lines` cuts them (a `\r` before a `\n` dropped),
/// found with `memchr`'s vector search, which is several times faster on long texts.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut start = 0;
    let ends = memchr::memchr_iter(b'\n', text.as_bytes()).chain(std::iter::once(text.len()));
    ends.filter_map(move |end| {
        let line = text.get(start..end).filter(|l| end < text.len() || !l.is_empty())?;
        start = end + 1;
        // Only a line that ends in `\n` loses a `\r` before it.
        Some(if end < text.len() { line.strip_suffix('\r').unwrap_or(line) } else { line })
    })
}

/// True for a line that holds nothing but whitespace; an op line starts with `{`, so the
/// common case costs one comparison.
fn is_blank(line: &str) -> bool {
    !line.starts_with('{') && line.trim().is_empty()
}

/// Cuts `bytes` into at most `n` pieces of about equal size, each ending at a line end, as
/// `(start, end)` byte ranges. Cuts fall only after a `\n`, which is never inside a UTF-8
/// sequence, so each piece of valid UTF-8 is valid UTF-8.
pub(super) fn split_at_lines(bytes: &[u8], n: usize) -> Vec<(usize, usize)> {
    let mut pieces = Vec::with_capacity(n);
    let mut start = 0usize;
    for k in 1..n {
        let target = (bytes.len() * k / n).max(start);
        let Some(nl) = memchr::memchr(b'\n', &bytes[target..]) else { break };
        let end = target + nl + 1;
        pieces.push((start, end));
        start = end;
    }
    pieces.push((start, bytes.len()));
    pieces
}

/// How many lines `str::lines` finds in `bytes`: one per line end, and one more for text
/// after the last.
pub(super) fn count_lines(bytes: &[u8]) -> usize {
    let ends = memchr::memchr_iter(b'\n', bytes).count();
    ends + usize::from(bytes.last().is_some_and(|&b| b != b'\n'))
}

/// The index and time rules of Sunder's file, checked against the op before, which came
/// from line `previous.1`.
pub(super) fn check_order(
    path: &Path,
    line: usize,
    op: &Op,
    previous: Option<(&Op, usize)>,
) -> Result<(), InputError> {
    let expected = previous.map_or(0, |(p, _)| p.index + 1);
    if op.index != expected {
        let what = match previous {
            Some((p, _)) if op.index <= p.index => format!("repeats or goes back from index {}", p.index),
            _ => "leaves a gap".to_string(),
        };
        return Err(InputError::at(
            path,
            line,
            format!(
                "index {} {what}: indices count ops from 0, one by one, and {expected} was due",
                op.index
            ),
        ));
    }
    if let Some((p, at)) = previous
        && op.time < p.time
    {
        return Err(InputError::at(
            path,
            line,
            format!(
                "time {} is earlier than {} of the op on line {at}: times are a monotonic clock and never go back",
                op.time, p.time
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_end_at_line_ends_and_cover_the_text() {
        let text = b"a\nbb\nccc\ndddd\n\neeeee";
        for n in 1..8 {
            let mut next = 0;
            for (start, end) in split_at_lines(text, n) {
                assert_eq!(start, next);
                assert!(end == text.len() || text[end - 1] == b'\n');
                next = end;
            }
            assert_eq!(next, text.len());
        }
    }

    #[test]
    fn cuts_lines_exactly_as_str_lines_does() {
        for text in ["", "\n", "a", "a\n", "a\nb", "\n\n", "a\r\nb\r\n", "a\n\nb\n", "\r", "a\r", "\r\n\r"] {
            assert_eq!(lines(text).collect::<Vec<_>>(), text.lines().collect::<Vec<_>>(), "{text:?}");
        }
    }

    #[test]
    fn counts_the_lines_str_lines_finds() {
        for text in ["", "\n", "a", "a\n", "a\nb", "\n\n", "a\r\nb\r\n", "a\n\nb\n"] {
            assert_eq!(count_lines(text.as_bytes()), text.lines().count(), "{text:?}");
        }
    }
}
