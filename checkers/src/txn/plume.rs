//! Plume's text history format (Liu, Gu, Wei, Basin, OOPSLA 2024): one operation a line,
//! `r(key,value,session,txn)` or `w(key,value,session,txn)`, in program order; a txn of -1
//! marks writes of aborted transactions. Each transaction becomes one Sunder `txn` op of
//! rw-register micro-ops, on the process of its session. Plume's histories carry no time,
//! so every op gets time 0: real time orders nothing, and sessions order only themselves.

use crate::error::InputError;
use crate::history::{History, Op, OpType, Strictness};
use serde_json::{Value, json};
use std::path::Path;

/// Reads a Plume text history from `path`.
pub fn load(path: &Path) -> Result<History, InputError> {
    let text = std::fs::read_to_string(path).map_err(|e| InputError::io(path, e))?;
    parse(path, &text)
}

/// Parses Plume text; `path` only names the source in errors.
pub fn parse(path: &Path, text: &str) -> Result<History, InputError> {
    // Transactions in order of first appearance: (txn id, session, micro-ops).
    let mut txns: Vec<(i64, u64, Vec<Value>)> = vec![];
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let (f, key, value, session, txn) = parse_line(line).map_err(|p| InputError::at(path, n + 1, p))?;
        // Aborted writes of one session form one aborted transaction.
        let slot = txns.iter().position(|t| t.0 == txn && (txn != -1 || t.1 == session));
        match slot {
            Some(i) if txns[i].1 != session => {
                return Err(InputError::at(
                    path,
                    n + 1,
                    format!("transaction {txn} appears in session {} and in session {session}", txns[i].1),
                ));
            }
            Some(i) => txns[i].2.push(json!([f, key, value])),
            None => txns.push((txn, session, vec![json!([f, key, value])])),
        }
    }
    if txns.is_empty() {
        return Err(InputError::whole(path, "no operations: expected lines like r(1,1,0,0)"));
    }
    let mut ops = Vec::with_capacity(txns.len() * 2);
    for (txn, session, mops) in txns {
        let invoke: Vec<Value> =
            mops.iter().map(|m| if m[0] == "r" { json!(["r", m[1], null]) } else { m.clone() }).collect();
        let end = if txn == -1 { OpType::Fail } else { OpType::Ok };
        let i = ops.len() as u64;
        ops.push(Op::client(i, 0, session, OpType::Invoke, "txn", Value::Array(invoke)));
        ops.push(Op::client(i + 1, 0, session, end, "txn", Value::Array(mops)));
    }
    History::new(ops, Strictness::Lenient).map_err(|v| InputError::whole(path, v.to_string()))
}

fn parse_line(line: &str) -> Result<(&'static str, i64, i64, u64, i64), String> {
    let f = match line.as_bytes().first() {
        Some(b'r') => "r",
        Some(b'w') => "w",
        _ => return Err(format!("expected r(...) or w(...), got '{line}'")),
    };
    let inner = line[1..]
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .ok_or_else(|| format!("expected {f}(key,value,session,txn), got '{line}'"))?;
    let fields: Vec<&str> = inner.split(',').map(str::trim).collect();
    if fields.len() != 4 {
        return Err(format!("expected 4 fields (key,value,session,txn), got {} in '{line}'", fields.len()));
    }
    let num = |i: usize, what: &str| -> Result<i64, String> {
        fields[i].parse::<i64>().map_err(|_| format!("{what} must be an integer, got '{}'", fields[i]))
    };
    let session = num(2, "session")?;
    let txn = num(3, "txn")?;
    if session < 0 || txn < -1 {
        return Err(format!("session must be >= 0 and txn >= -1 in '{line}'"));
    }
    Ok((f, num(0, "key")?, num(1, "value")?, session as u64, txn))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_lines_into_transactions_per_session() {
        let h = parse(Path::new("t"), "w(1,1,0,0)\nw(2,1,0,0)\nr(1,1,1,1)\n").unwrap();
        assert_eq!(h.len(), 4);
        assert_eq!(h.ops()[1].value, json!([["w", 1, 1], ["w", 2, 1]]));
        assert_eq!(h.ops()[3].value, json!([["r", 1, 1]]));
    }

    #[test]
    fn names_the_line_of_a_malformed_operation() {
        let e = parse(Path::new("t"), "w(1,1,0,0)\nx(1,2)\n").unwrap_err();
        assert_eq!(e.line, Some(2));
    }

    #[test]
    fn aborted_writes_become_a_failed_transaction() {
        let h = parse(Path::new("t"), "w(1,1,0,-1)\nr(1,1,0,1)\n").unwrap();
        assert_eq!(h.ops()[1].kind, OpType::Fail);
    }
}
