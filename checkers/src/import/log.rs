//! Jepsen log lines (`INFO  jepsen.util - 3\t:ok\t:read\t4`), the format of Porcupine's etcd
//! test data. Lines from other loggers are skipped, as in a real `jepsen.log`; a
//! `jepsen.util` op line that does not parse is an error naming its line. The logs carry no
//! time, so an op's time is its position.

use super::SkippedLines;
use super::edn::read_one;
use crate::error::InputError;
use crate::history::{History, Op, OpNumbering, OpType, Process, Strictness, validate_at_lines};
use serde_json::Value;
use std::path::Path;

/// What precedes the op on a Jepsen op log line: `INFO  jepsen.util - 3\t:ok ...` in the
/// logs Porcupine ships, `... - jepsen.util 3\t:ok ...` in newer Jepsen console output.
const MARKERS: [&str; 2] = ["jepsen.util - ", "jepsen.util "];

const OP_TYPES: [&str; 4] = [":invoke", ":ok", ":fail", ":info"];

/// The text after the marker, when `line` is a `jepsen.util` log line.
fn after_marker(line: &str) -> Option<&str> {
    MARKERS.iter().find_map(|m| line.find(m).map(|at| &line[at + m.len()..]))
}

/// True when `line` is a Jepsen op log line: a `jepsen.util` line whose message is a
/// process and an op type. Other `jepsen.util` messages ("Relative time begins now") are not.
pub fn is_log_line(line: &str) -> bool {
    after_marker(line).is_some_and(is_op_message)
}

/// An op message names a process (a number or `:nemesis`) or, second, an op type; a line
/// with either is read as an op, so a damaged op line is an error rather than skipped.
fn is_op_message(rest: &str) -> bool {
    let mut tokens = rest.split_whitespace();
    let process = tokens.next().unwrap_or_default().trim_start_matches(':');
    let kind = tokens.next().unwrap_or_default();
    process == "nemesis" || process.parse::<u64>().is_ok() || OP_TYPES.contains(&kind)
}

/// Reads Jepsen log lines into a validated history. Every line that is not an op line (a
/// header from `lein test`, other loggers, the result map printed at the end) is skipped
/// and counted in the answer, so a console log reads as it is.
pub fn from_log(path: &Path, text: &str) -> Result<(History, SkippedLines), InputError> {
    let mut ops = Vec::new();
    let mut lines = Vec::new();
    let mut skipped = SkippedLines::default();
    for (n, line) in text.lines().enumerate() {
        let Some(rest) = after_marker(line).filter(|r| is_op_message(r)) else {
            if !line.trim().is_empty() {
                skipped.note(n + 1);
            }
            continue;
        };
        let op = parse_line(ops.len() as u64, rest).map_err(|p| InputError::at(path, n + 1, p))?;
        ops.push(op);
        lines.push(n + 1);
    }
    if ops.is_empty() {
        return Err(InputError::whole(
            path,
            "no Jepsen op log line (`INFO  jepsen.util - 0 :invoke :read nil`) in the file",
        ));
    }
    let history = validate_at_lines(path, ops, &lines, Strictness::Lenient)?;
    Ok((history.with_numbering(OpNumbering::Position), skipped))
}

fn parse_line(position: u64, rest: &str) -> Result<Op, String> {
    let mut remaining = rest.trim();
    let mut field = || {
        let end = remaining.find(char::is_whitespace).unwrap_or(remaining.len());
        let (token, tail) = remaining.split_at(end);
        remaining = tail.trim_start();
        (!token.is_empty()).then_some(token)
    };
    let (Some(process), Some(kind), Some(f)) = (field(), field(), field()) else {
        return Err("a jepsen.util line needs a process, a type and a function".into());
    };
    let value_text = remaining;
    let process = match process.trim_start_matches(':') {
        "nemesis" => Process::Nemesis,
        p => Process::Client(p.parse().map_err(|_| format!("'{p}' is not a process number"))?),
    };
    let kind = match kind {
        ":invoke" => OpType::Invoke,
        ":ok" => OpType::Ok,
        ":fail" => OpType::Fail,
        ":info" => OpType::Info,
        other => return Err(format!("unknown op type '{other}': expected :invoke, :ok, :fail or :info")),
    };
    let value_text = value_text.trim();
    let value = if value_text.is_empty() {
        Value::Null
    } else {
        read_one(value_text).map_err(|e| format!("bad value '{value_text}': {}", e.problem))?
    };
    let (value, error) = match (kind, &value) {
        // Jepsen replaces the value of a timed-out op with the keyword saying so.
        (OpType::Fail | OpType::Info, Value::String(s)) => (Value::Null, Some(s.clone())),
        _ => (value, None),
    };
    let mut op = Op::client(position, position, 0, kind, f.trim_start_matches(':'), value);
    op.process = process;
    op.error = error.map(String::into_boxed_str);
    Ok(op)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_porcupine_etcd_log_lines() {
        let (h, skipped) = from_log(
            Path::new("etcd.log"),
            "INFO  jepsen.util - 0\t:invoke\t:cas\t[1 4]\nINFO  jepsen.core - other logger\n\
             INFO  jepsen.util - 0   :info   :cas    :timed-out\n",
        )
        .unwrap();
        assert_eq!(skipped, SkippedLines { count: 1, first: vec![2] });
        assert_eq!(h.len(), 2);
        assert_eq!(h.ops()[0].value, json!([1, 4]));
        assert_eq!(h.ops()[1].kind, OpType::Info);
        assert_eq!(h.ops()[1].error.as_deref(), Some("timed-out"));
    }

    #[test]
    fn names_the_line_of_a_bad_op_line() {
        let e = from_log(Path::new("etcd.log"), "\nINFO  jepsen.util - x\t:invoke\t:read\tnil").unwrap_err();
        assert_eq!(e.to_string(), "etcd.log:2: 'x' is not a process number");
    }

    #[test]
    fn skips_and_counts_the_lines_of_a_console_log_around_the_ops() {
        let text = "lein test jepsen.etcd-test\nINFO  jepsen.util - Relative time begins now\n\
                    INFO  jepsen.util - 0\t:invoke\t:read\tnil\nINFO  jepsen.util - 0\t:ok\t:read\t3\n\
                    \n{:valid? true,\n :configs ({:model {:value 3}})}\n";
        let (h, skipped) = from_log(Path::new("console.log"), text).unwrap();
        assert_eq!(h.len(), 2);
        assert_eq!(skipped, SkippedLines { count: 4, first: vec![1, 2, 6, 7] });
    }
}
