//! Reads Sunder's own JSONL history files back, line by line, and validates them, so a
//! checker never sees a silently partial or malformed history.

use super::{History, Op, Strictness};
use crate::error::InputError;
use std::path::Path;

/// Reads and validates a JSONL history file (or standard input for `-`), within the input
/// limits of [`crate::import::read_text`]. Every problem names the file and line.
///
/// The file is parsed chunk by chunk as it is read, so a long history is never held as
/// text and ops at once.
pub fn read_jsonl(path: &Path) -> Result<History, InputError> {
    let mut chunks = crate::import::source::TextChunks::open(path)?;
    let mut reader = JsonlReader::new(path, chunks.size_hint);
    reader.feed_rest(&mut chunks)?;
    reader.finish()
}

/// Parses and validates JSONL history text; `path` only names the source in errors.
///
/// Beyond the rules every history keeps, Sunder's own file promises (docs/history.md) that
/// `index` counts ops from 0 with neither gap nor repeat, and that `time` never goes back:
/// both are checked here, since a checker trusts them (a stray huge `time` once passed for a
/// lost write).
pub fn parse_jsonl(path: &Path, text: &str) -> Result<History, InputError> {
    let mut reader = JsonlReader::new(path, text.len());
    reader.feed(1, text)?;
    reader.finish()
}

/// A JSONL history being parsed from consecutive pieces of its text.
///
/// Parsing is most of the cost of checking a long run, so a large piece is cut at line
/// boundaries into one part per core and the parts are parsed at once; the order rules and
/// the first error are then found exactly as a single pass would find them.
pub(crate) struct JsonlReader<'p> {
    path: &'p Path,
    ops: Vec<Op>,
    lines: Vec<usize>,
    /// Bytes of text the whole history is expected to have, to size `ops` once.
    expected_bytes: usize,
}

impl<'p> JsonlReader<'p> {
    /// A reader of `path`, whose text is about `expected_bytes` long (0: unknown).
    pub(crate) fn new(path: &'p Path, expected_bytes: usize) -> JsonlReader<'p> {
        JsonlReader { path, ops: Vec::new(), lines: Vec::new(), expected_bytes }
    }

    /// Parses every chunk `chunks` has not handed out yet.
    pub(crate) fn feed_rest(
        &mut self,
        chunks: &mut crate::import::source::TextChunks<'_>,
    ) -> Result<(), InputError> {
        while let Some((line, text)) = chunks.next_chunk()? {
            self.feed(line, text)?;
        }
        Ok(())
    }

    /// Parses the next piece of the text, whose first line is line `first_line`; the piece
    /// ends at a line end unless it is the last.
    pub(crate) fn feed(&mut self, first_line: usize, text: &str) -> Result<(), InputError> {
        let path = self.path;
        let parts = split_at_lines(text, parse_threads(text.len()));
        let parsed: Vec<Piece> = if parts.len() == 1 {
            vec![parse_piece(path, first_line + parts[0].0 - 1, parts[0].1)]
        } else {
            std::thread::scope(|scope| {
                let handles: Vec<_> = parts
                    .iter()
                    .map(|&(first, part)| {
                        scope.spawn(move || parse_piece(path, first_line + first - 1, part))
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().expect("a history parser thread panicked")).collect()
            })
        };
        let count: usize = parsed.iter().map(|p| p.ops.len()).sum();
        if self.ops.is_empty() && count > 0 && self.expected_bytes > text.len() {
            // Sized once from the first piece's bytes per op: doubling a Vec of millions
            // of ops would copy it and hold old and new at once.
            let estimate = (self.expected_bytes as f64 / text.len() as f64 * count as f64 * 1.02) as usize;
            self.ops.reserve(estimate);
            self.lines.reserve(estimate);
        }
        for piece in parsed {
            for (op, line) in piece.ops.into_iter().zip(piece.lines) {
                check_order(path, line, &op, self.ops.last().zip(self.lines.last().copied()))?;
                self.ops.push(op);
                self.lines.push(line);
            }
            // A piece stops at its first malformed line; every op before it kept the order rules.
            if let Some(e) = piece.error {
                return Err(e);
            }
        }
        Ok(())
    }

    /// Validates everything fed and returns the history.
    pub(crate) fn finish(self) -> Result<History, InputError> {
        validate_at_lines(self.path, self.ops, &self.lines, Strictness::Strict)
    }
}

#[cfg(test)]
fn parse_in_pieces(path: &Path, text: &str, threads: usize) -> Result<History, InputError> {
    let mut reader = JsonlReader::new(path, text.len());
    for (first, part) in split_at_lines(text, threads) {
        reader.feed(first, part)?;
    }
    reader.finish()
}

/// What one piece of the text parsed to: its ops with their 1-based line numbers, and the
/// error of the first malformed line, where parsing of the piece stopped.
struct Piece {
    ops: Vec<Op>,
    lines: Vec<usize>,
    error: Option<InputError>,
}

fn parse_piece(path: &Path, first_line: usize, text: &str) -> Piece {
    let expect = memchr::memchr_iter(b'\n', text.as_bytes()).count() + 1;
    let mut piece = Piece { ops: Vec::with_capacity(expect), lines: Vec::with_capacity(expect), error: None };
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        // Nearly every line has the writer's own shape, read without serde's machinery.
        match super::canonical::parse(line).map_or_else(|| serde_json::from_str::<Op>(line), Ok) {
            Ok(op) => {
                piece.ops.push(op);
                piece.lines.push(first_line + n);
            }
            Err(e) => {
                piece.error = Some(InputError::json(path, first_line + n, "malformed op", &e));
                break;
            }
        }
    }
    piece
}

/// How many threads parse a text of `bytes`: one per core for large texts, where the
/// threads pay for themselves, else one.
fn parse_threads(bytes: usize) -> usize {
    const PER_THREAD: usize = 4 << 20;
    if bytes < 2 * PER_THREAD {
        return 1;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores.clamp(1, 8).min(bytes / PER_THREAD)
}

/// Cuts `text` into at most `n` pieces of about equal size, each ending at a line end, with
/// the 1-based number of each piece's first line.
fn split_at_lines(text: &str, n: usize) -> Vec<(usize, &str)> {
    let bytes = text.as_bytes();
    let mut pieces = Vec::with_capacity(n);
    let (mut start, mut line) = (0usize, 1usize);
    for k in 1..n {
        let target = (bytes.len() * k / n).max(start);
        let Some(nl) = memchr::memchr(b'\n', &bytes[target..]) else { break };
        let end = target + nl + 1;
        pieces.push((line, &text[start..end]));
        line += memchr::memchr_iter(b'\n', &bytes[start..end]).count();
        start = end;
    }
    pieces.push((line, &text[start..]));
    pieces
}

/// The index and time rules of Sunder's file, checked against the op before.
fn check_order(path: &Path, line: usize, op: &Op, previous: Option<(&Op, usize)>) -> Result<(), InputError> {
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

/// Validates ops read from `path`, where `lines[i]` is the line op `i` came from, so a
/// violation names its line. Sunder's reader and every importer end here.
pub(crate) fn validate_at_lines(
    path: &Path,
    ops: Vec<Op>,
    lines: &[usize],
    strictness: Strictness,
) -> Result<History, InputError> {
    History::new(ops, strictness).map_err(|v| InputError::at(path, lines[v.position], v.problem))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<History, InputError> {
        parse_jsonl(Path::new("h.jsonl"), text)
    }

    #[test]
    fn parsing_in_pieces_finds_what_one_pass_finds() {
        let good: String = (0..3000)
            .map(|i| line(i, i * 10, (i / 2) % 7, if i % 2 == 0 { "invoke" } else { "ok" }))
            .collect();
        for threads in [1, 2, 3, 7] {
            let h = parse_in_pieces(Path::new("h.jsonl"), &good, threads).unwrap();
            assert_eq!(h.ops().len(), 3000);
            assert!(h.ops().iter().enumerate().all(|(i, o)| o.index == i as u64));
        }
        // A malformed line late, and an order error earlier: the earlier line is named,
        // whichever piece each falls in.
        let mut lines: Vec<String> = good.lines().map(str::to_string).collect();
        lines[2500] = "{not json".to_string();
        lines[1200] = line(1300, 12000, 600 % 7, "invoke").trim_end().to_string();
        let text = lines.join("\n");
        for threads in [1, 2, 3, 7] {
            let e = parse_in_pieces(Path::new("h.jsonl"), &text, threads).unwrap_err().to_string();
            assert!(e.starts_with("h.jsonl:1201:"), "{threads} threads: {e}");
        }
        lines[1200] = line(1200, 12000, 600 % 7, "invoke").trim_end().to_string();
        let text = lines.join("\n");
        for threads in [1, 2, 3, 7] {
            let e = parse_in_pieces(Path::new("h.jsonl"), &text, threads).unwrap_err().to_string();
            assert!(e.starts_with("h.jsonl:2501:"), "{threads} threads: {e}");
        }
    }

    #[test]
    fn pieces_end_at_line_ends_and_count_their_first_lines() {
        let text = "a\nbb\nccc\ndddd\n\neeeee";
        for n in 1..8 {
            let pieces = split_at_lines(text, n);
            assert_eq!(pieces.iter().map(|p| p.1).collect::<String>(), text);
            let mut line = 1;
            for (first, piece) in &pieces {
                assert_eq!(*first, line);
                line += piece.matches('\n').count();
            }
        }
    }

    #[test]
    fn names_file_and_line_of_a_malformed_op() {
        let text = "{\"index\":0,\"time\":1,\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"value\":null}\n{not json\n";
        let e = parse(text).unwrap_err().to_string();
        assert_eq!(e, "h.jsonl:2:2: malformed op: key must be a string");
    }

    #[test]
    fn names_the_line_of_an_unknown_op_type() {
        let e =
            parse("{\"index\":0,\"time\":1,\"process\":0,\"type\":\"maybe\",\"f\":\"read\"}").unwrap_err();
        assert!(e.to_string().starts_with("h.jsonl:1:46: malformed op: unknown variant `maybe`"), "{e}");
    }

    #[test]
    fn names_the_line_of_a_completion_without_invoke() {
        let text = "\n{\"index\":0,\"time\":1,\"process\":4,\"type\":\"ok\",\"f\":\"read\",\"value\":3}\n";
        let e = parse(text).unwrap_err().to_string();
        assert!(e.starts_with("h.jsonl:2: ok of read by process 4 without an invocation"), "{e}");
    }

    fn line(index: u64, time: u64, process: u64, kind: &str) -> String {
        format!(
            "{{\"index\":{index},\"time\":{time},\"process\":{process},\"type\":\"{kind}\",\"f\":\"read\",\"value\":null}}\n"
        )
    }

    #[test]
    fn refuses_a_repeated_index() {
        let text = line(0, 1, 0, "invoke") + &line(0, 2, 0, "ok");
        let e = parse(&text).unwrap_err().to_string();
        assert_eq!(
            e,
            "h.jsonl:2: index 0 repeats or goes back from index 0: indices count ops from 0, one by one, and 1 was due"
        );
    }

    #[test]
    fn refuses_a_gap_in_the_indices() {
        let text = line(0, 1, 0, "invoke") + &line(2, 2, 0, "ok");
        let e = parse(&text).unwrap_err().to_string();
        assert!(e.starts_with("h.jsonl:2: index 2 leaves a gap"), "{e}");
        let e = parse(&line(1, 1, 0, "invoke")).unwrap_err().to_string();
        assert!(e.starts_with("h.jsonl:1: index 1 leaves a gap"), "{e}");
    }

    #[test]
    fn refuses_a_time_that_goes_back() {
        let text = line(0, u64::MAX, 0, "invoke") + &line(1, 5, 0, "ok");
        let e = parse(&text).unwrap_err().to_string();
        assert!(
            e.starts_with("h.jsonl:2: time 5 is earlier than 18446744073709551615 of the op on line 1"),
            "{e}"
        );
    }

    #[test]
    fn names_the_column_of_a_json_error_once() {
        let e = parse("{\"index\":0,\"time\":-3,\"process\":0}").unwrap_err().to_string();
        assert!(e.starts_with("h.jsonl:1:"), "{e}");
        assert!(!e.contains("at line 1 column"), "{e}");
    }
}
