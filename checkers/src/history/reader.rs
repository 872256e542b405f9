//! Reads Sunder's own JSONL history files back, line by line, and validates them, so a
//! checker never sees a silently partial or malformed history.

use super::{History, Op, Strictness};
use crate::error::InputError;
use std::io::{BufRead, BufReader};
use std::path::Path;

/// Reads and validates a JSONL history file. Every problem names the file and line.
pub fn read_jsonl(path: &Path) -> Result<History, InputError> {
    let file = std::fs::File::open(path).map_err(|e| InputError::io(path, e))?;
    let mut ops = Vec::new();
    for (n, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| InputError::io(path, e))?;
        push_line(&mut ops, path, n + 1, &line)?;
    }
    finish(path, ops)
}

/// Parses and validates JSONL history text; `path` only names the source in errors.
pub fn parse_jsonl(path: &Path, text: &str) -> Result<History, InputError> {
    let mut ops = Vec::new();
    for (n, line) in text.lines().enumerate() {
        push_line(&mut ops, path, n + 1, line)?;
    }
    finish(path, ops)
}

fn push_line(ops: &mut Vec<(usize, Op)>, path: &Path, line_no: usize, line: &str) -> Result<(), InputError> {
    if line.trim().is_empty() {
        return Ok(());
    }
    let op: Op = serde_json::from_str(line)
        .map_err(|e| InputError::at(path, line_no, format!("malformed op: {e}")))?;
    ops.push((line_no, op));
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
        assert!(e.starts_with("h.jsonl:2: malformed op"), "{e}");
    }

    #[test]
    fn names_the_line_of_an_unknown_op_type() {
        let e =
            parse("{\"index\":0,\"time\":1,\"process\":0,\"type\":\"maybe\",\"f\":\"read\"}").unwrap_err();
        assert!(e.to_string().starts_with("h.jsonl:1: malformed op"), "{e}");
    }

    #[test]
    fn names_the_line_of_a_completion_without_invoke() {
        let text = "\n{\"index\":0,\"time\":1,\"process\":4,\"type\":\"ok\",\"f\":\"read\",\"value\":3}\n";
        let e = parse(text).unwrap_err().to_string();
        assert!(e.starts_with("h.jsonl:2: ok of read by process 4 without an invocation"), "{e}");
    }
}
