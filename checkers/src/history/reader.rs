//! Reads Sunder's own JSONL history files back, line by line, and validates them, so a
//! checker never sees a silently partial or malformed history.

use super::{History, Op, Strictness};
use crate::error::InputError;
use std::path::Path;

/// Reads and validates a JSONL history file (or standard input for `-`), within the input
/// limits of [`crate::import::read_text`]. Every problem names the file and line.
pub fn read_jsonl(path: &Path) -> Result<History, InputError> {
    let text = crate::import::read_text(path)?;
    parse_jsonl(path, &text)
}

/// Parses and validates JSONL history text; `path` only names the source in errors.
///
/// Beyond the rules every history keeps, Sunder's own file promises (docs/history.md) that
/// `index` counts ops from 0 with neither gap nor repeat, and that `time` never goes back:
/// both are checked here, since a checker trusts them (a stray huge `time` once passed for a
/// lost write).
pub fn parse_jsonl(path: &Path, text: &str) -> Result<History, InputError> {
    let mut ops: Vec<(usize, Op)> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let op: Op =
            serde_json::from_str(line).map_err(|e| InputError::json(path, n + 1, "malformed op", &e))?;
        check_order(path, n + 1, &op, ops.last())?;
        ops.push((n + 1, op));
    }
    finish(path, ops)
}

/// The index and time rules of Sunder's file, checked against the op before.
fn check_order(path: &Path, line: usize, op: &Op, previous: Option<&(usize, Op)>) -> Result<(), InputError> {
    let expected = previous.map_or(0, |(_, p)| p.index + 1);
    if op.index != expected {
        let what = match previous {
            Some((_, p)) if op.index <= p.index => format!("repeats or goes back from index {}", p.index),
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
    if let Some((at, p)) = previous
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

fn finish(path: &Path, numbered: Vec<(usize, Op)>) -> Result<History, InputError> {
    let (lines, ops): (Vec<usize>, Vec<Op>) = numbered.into_iter().unzip();
    validate_at_lines(path, ops, &lines, Strictness::Strict)
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
