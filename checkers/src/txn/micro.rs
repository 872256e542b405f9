//! Micro-operations: the steps inside one transaction (`["append", k, v]`, `["r", k, v]`,
//! `["w", k, v]`), parsed from an op's JSON value into compact integer form. Keys and values
//! (numbers or strings) are interned to `u32` ids here once, so every later step of the
//! checker compares integers and never touches JSON again.

use rustc_hash::FxHashMap;
use serde_json::Value;
use std::fmt;

/// The id of the initial (never written) version of a key, and of a `null` read.
pub(crate) const INITIAL: u32 = u32::MAX;

/// A key or a value as it appeared in the history, before interning.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Scalar {
    /// An integer.
    Int(i64),
    /// Anything else (strings, keywords, floats), by its text.
    Text(String),
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Int(i) => write!(f, "{i}"),
            Scalar::Text(s) => f.write_str(s),
        }
    }
}

/// Small non-negative integers (the common case: Elle's and Sunder's generators write
/// counters) are their own id, with no table entry; anything else gets an id at or above
/// this offset.
const TABLE_OFFSET: u32 = 1 << 31;

/// Assigns `u32` ids to scalars and remembers the ones that need a table for explanations.
#[derive(Debug, Default)]
pub(crate) struct Interner {
    ids: FxHashMap<Scalar, u32>,
    names: Vec<Scalar>,
}

impl Interner {
    /// The id of `s`, allocating one on first sight.
    pub(crate) fn intern(&mut self, s: Scalar) -> u32 {
        if let Scalar::Int(i) = s
            && (0..i64::from(TABLE_OFFSET)).contains(&i)
        {
            return i as u32;
        }
        if let Some(&id) = self.ids.get(&s) {
            return id;
        }
        let id = TABLE_OFFSET + self.names.len() as u32;
        self.ids.insert(s.clone(), id);
        self.names.push(s);
        id
    }

    /// The text of an id (`INITIAL` reads as "nil").
    pub(crate) fn name(&self, id: u32) -> String {
        match id {
            INITIAL => "nil".into(),
            small if small < TABLE_OFFSET => small.to_string(),
            other => self.names[(other - TABLE_OFFSET) as usize].to_string(),
        }
    }
}

/// What one micro-op does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MopKind {
    /// Appends `value` to the list at `key`.
    Append,
    /// Overwrites the register at `key` with `value`.
    Write,
    /// Read a whole list: elements are `pool[list.0 .. list.0 + list.1]`.
    ReadList,
    /// Read one register value (`value`, `INITIAL` for nil).
    ReadValue,
    /// A read whose result is not known (an invocation, or an `info` completion).
    ReadUnknown,
}

/// One micro-op in compact form.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mop {
    /// What it does.
    pub kind: MopKind,
    /// Interned key.
    pub key: u32,
    /// Interned value written or read (`INITIAL` when none).
    pub value: u32,
    /// For list reads: start and length in the shared element pool.
    pub list: (u32, u32),
}

/// Parses and interns the micro-ops of every transaction, into flat shared storage.
#[derive(Debug, Default)]
pub(crate) struct MopTable {
    /// Every micro-op of every transaction, transaction after transaction.
    pub mops: Vec<Mop>,
    /// Elements of every list read.
    pub pool: Vec<u32>,
    /// Key names.
    pub keys: Interner,
    /// Value names.
    pub values: Interner,
}

/// How `read_value` should read an `ok` read's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadShape {
    /// list-append: the result is a list (`null` meaning the empty list).
    List,
    /// rw-register: the result is one value (`null` meaning the initial version).
    Register,
}

impl MopTable {
    /// Parses `value` (a JSON array of micro-ops) and appends them; returns their range.
    /// `results_known` is true for `ok` completions, whose reads carry results.
    pub(crate) fn push_txn(
        &mut self,
        value: &Value,
        results_known: bool,
        shape: ReadShape,
    ) -> Result<(u32, u32), String> {
        let Value::Array(items) = value else {
            return Err(format!("a transaction's value must be a list of micro-ops, got {}", short(value)));
        };
        let start = self.mops.len() as u32;
        for (i, item) in items.iter().enumerate() {
            let mop =
                self.parse_mop(item, results_known, shape).map_err(|e| format!("micro-op {}: {e}", i + 1))?;
            self.mops.push(mop);
        }
        Ok((start, items.len() as u32))
    }

    fn parse_mop(&mut self, item: &Value, results_known: bool, shape: ReadShape) -> Result<Mop, String> {
        let Value::Array(parts) = item else {
            return Err(format!("expected [f key value], got {}", short(item)));
        };
        if parts.len() != 3 {
            return Err(format!("expected [f key value] (3 elements), got {}", short(item)));
        }
        let f = parts[0]
            .as_str()
            .ok_or_else(|| format!("the function must be a string, got {}", short(&parts[0])))?;
        let key = self.keys.intern(scalar(&parts[1]).ok_or_else(|| format!("bad key {}", short(&parts[1])))?);
        let none = Mop { kind: MopKind::ReadUnknown, key, value: INITIAL, list: (0, 0) };
        // EDN keywords arrive without their colon; JSON written by hand sometimes keeps it.
        match f.trim_start_matches(':') {
            "append" => Ok(Mop { kind: MopKind::Append, value: self.value_of(&parts[2])?, ..none }),
            "w" | "write" => Ok(Mop { kind: MopKind::Write, value: self.value_of(&parts[2])?, ..none }),
            "r" | "read" => {
                if !results_known {
                    return Ok(none);
                }
                match (shape, &parts[2]) {
                    (ReadShape::List, Value::Null) => {
                        Ok(Mop { kind: MopKind::ReadList, list: (self.pool.len() as u32, 0), ..none })
                    }
                    (ReadShape::List, Value::Array(elems)) => {
                        let start = self.pool.len() as u32;
                        for e in elems {
                            let id = self.value_of(e)?;
                            self.pool.push(id);
                        }
                        Ok(Mop { kind: MopKind::ReadList, list: (start, elems.len() as u32), ..none })
                    }
                    (ReadShape::List, other) => {
                        Err(format!("a list-append read must return a list, got {}", short(other)))
                    }
                    (ReadShape::Register, Value::Null) => Ok(Mop { kind: MopKind::ReadValue, ..none }),
                    (ReadShape::Register, v) => {
                        Ok(Mop { kind: MopKind::ReadValue, value: self.value_of(v)?, ..none })
                    }
                }
            }
            other => Err(format!("unknown micro-op '{other}': expected append, r or w")),
        }
    }

    fn value_of(&mut self, v: &Value) -> Result<u32, String> {
        let s = scalar(v).ok_or_else(|| format!("a value must be a number or a string, got {}", short(v)))?;
        Ok(self.values.intern(s))
    }

    /// The elements of a list read.
    pub(crate) fn list(&self, m: &Mop) -> &[u32] {
        &self.pool[m.list.0 as usize..(m.list.0 + m.list.1) as usize]
    }
}

fn scalar(v: &Value) -> Option<Scalar> {
    match v {
        Value::Number(n) => Some(match n.as_i64() {
            Some(i) => Scalar::Int(i),
            None => Scalar::Text(n.to_string()),
        }),
        Value::String(s) => Some(Scalar::Text(s.clone())),
        Value::Bool(b) => Some(Scalar::Text(b.to_string())),
        _ => None,
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 { format!("{}...", s.chars().take(57).collect::<String>()) } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_keyword_and_plain_function_names_alike() {
        let mut t = MopTable::default();
        let (s, n) =
            t.push_txn(&json!([[":append", "x", 1], ["r", "x", [1, 2]]]), true, ReadShape::List).unwrap();
        assert_eq!((s, n), (0, 2));
        assert_eq!(t.mops[0].kind, MopKind::Append);
        assert_eq!(t.list(&t.mops[1]).len(), 2);
    }

    #[test]
    fn small_integers_are_their_own_id_and_everything_else_is_named_back() {
        let mut i = Interner::default();
        assert_eq!(i.intern(Scalar::Int(42)), 42);
        let x = i.intern(Scalar::Text("x".into()));
        let neg = i.intern(Scalar::Int(-1));
        assert_ne!(x, neg);
        assert_eq!(
            (i.name(42), i.name(x), i.name(neg), i.name(INITIAL)),
            ("42".into(), "x".into(), "-1".into(), "nil".into())
        );
    }

    #[test]
    fn rejects_a_micro_op_that_is_not_a_triple() {
        let mut t = MopTable::default();
        let e = t.push_txn(&json!([["r", "x"]]), true, ReadShape::List).unwrap_err();
        assert!(e.contains("micro-op 1") && e.contains("3 elements"), "{e}");
    }
}
