//! Jepsen log lines (`INFO  jepsen.util - 3\t:ok\t:read\t4`), the format of Porcupine's etcd
//! test data. Lines from other loggers are skipped, as in a real `jepsen.log`; a
//! `jepsen.util` op line that does not parse is an error naming its line. The logs carry no
//! time, so an op's time is its position.

use super::edn::read_one;
use crate::error::InputError;
use crate::history::{History, Op, OpType, Process, Strictness, validate_at_lines};
use serde_json::Value;
use std::path::Path;

const MARKER: &str = "jepsen.util - ";

/// True when `line` is a Jepsen op log line.
pub fn is_log_line(line: &str) -> bool {
    line.contains(MARKER)
}

/// Reads Jepsen log lines into a validated history.
pub fn from_log(path: &Path, text: &str) -> Result<History, InputError> {
    let mut ops = Vec::new();
    let mut lines = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let Some(at) = line.find(MARKER) else { continue };
        let op = parse_line(ops.len() as u64, &line[at + MARKER.len()..])
            .map_err(|p| InputError::at(path, n + 1, p))?;
        ops.push(op);
        lines.push(n + 1);
    }
    validate_at_lines(path, ops, &lines, Strictness::Lenient)
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
    op.error = error;
    Ok(op)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_porcupine_etcd_log_lines() {
        let h = from_log(
            Path::new("etcd.log"),
            "INFO  jepsen.util - 0\t:invoke\t:cas\t[1 4]\nINFO  jepsen.core - other logger\n\
             INFO  jepsen.util - 0   :info   :cas    :timed-out\n",
        )
        .unwrap();
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
}
