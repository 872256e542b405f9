//! A fast parser for the lines Sunder's own writer produces, and only those.
//!
//! Reading `history.jsonl` is a large part of every check of a long run, and almost every
//! line of it has one shape: the fields of [`Op`] in declaration order, no whitespace, and
//! a value that is `null`, a boolean, an integer, a plain string or a short array of those.
//! [`parse`] reads exactly that shape byte by byte, without serde's generic machinery or a
//! heap string per field. Anything else (whitespace, another field order, an escape, a
//! float, an object, siblings, a number that might overflow) makes it answer `None`, and
//! the caller hands the line to serde: so serde stays the judge of every unusual line and
//! of every error message, and this parser only has to agree with serde on what it accepts
//! (a property the tests check on mutated lines).

use super::{Name, Op, OpType, Process};
use serde_json::Value;

/// The op on `line` if it has the writer's shape, else `None` (not an error: parse it the
/// general way).
#[cfg(test)]
pub(super) fn parse(line: &str) -> Option<Op> {
    let mut op = super::pieces::placeholder();
    parse_into(line, &mut op).then_some(op)
}

/// Reads the op on `line` into `slot` if the line has the writer's shape, and says whether
/// it had (if not, `slot` holds a partial op, and the line is to be parsed the general
/// way). The op is built where it is kept: an op is 152 bytes, and moving each of millions
/// from a return value into the history's vector was a visible part of reading one.
pub(super) fn parse_into(line: &str, slot: &mut Op) -> bool {
    fill(line, slot).is_some()
}

fn fill(line: &str, op: &mut Op) -> Option<()> {
    let mut c = Cursor { text: line, bytes: line.as_bytes(), at: 0 };
    c.expect(b"{\"index\":")?;
    op.index = c.digits()?;
    c.expect(b",\"time\":")?;
    op.time = c.digits()?;
    c.expect(b",\"process\":")?;
    op.process = if c.peek() == Some(b'"') {
        c.expect(b"\"nemesis\"")?;
        Process::Nemesis
    } else {
        Process::Client(c.digits()?)
    };
    c.expect(b",\"type\":")?;
    op.kind = if c.skip(b"\"invoke\"") {
        OpType::Invoke
    } else if c.skip(b"\"ok\"") {
        OpType::Ok
    } else if c.skip(b"\"fail\"") {
        OpType::Fail
    } else if c.skip(b"\"info\"") {
        OpType::Info
    } else {
        return None;
    };
    c.expect(b",\"f\":")?;
    op.f = Name::from(c.plain_string()?);
    op.key = if c.skip(b",\"key\":") { Some(Name::from(c.plain_string()?)) } else { None };
    c.expect(b",\"value\":")?;
    op.value = c.value(1)?;
    op.node = if c.skip(b",\"node\":") { Some(Name::from(c.plain_string()?)) } else { None };
    op.error = if c.skip(b",\"error\":") { Some(c.plain_string()?.into()) } else { None };
    op.siblings = None;
    c.expect(b"}")?;
    (c.at == c.bytes.len()).then_some(())
}

/// Integers of at most this many digits fit every integer type serde would read them into.
const MAX_DIGITS: usize = 18;

struct Cursor<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    /// Consumes `lit` if the text continues with it. The literal's length is a constant,
    /// so the comparison compiles to a few integer compares instead of a call to `memcmp`.
    fn skip<const N: usize>(&mut self, lit: &[u8; N]) -> bool {
        let found = self.bytes.get(self.at..self.at + N).is_some_and(|next| next == lit);
        if found {
            self.at += N;
        }
        found
    }

    fn expect<const N: usize>(&mut self, lit: &[u8; N]) -> Option<()> {
        self.skip(lit).then_some(())
    }

    /// Digits without a sign, a leading zero (other than `0` itself), a fraction or an
    /// exponent, short enough never to overflow.
    fn digits(&mut self) -> Option<u64> {
        let start = self.at;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
        let digits = &self.bytes[start..self.at];
        if digits.is_empty() || digits.len() > MAX_DIGITS || (digits.len() > 1 && digits[0] == b'0') {
            return None;
        }
        if matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        Some(digits.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')))
    }

    /// A string with no escape and no control character, which JSON and Rust spell alike.
    fn plain_string(&mut self) -> Option<&'a str> {
        self.expect(b"\"")?;
        let start = self.at;
        let len = self.bytes[start..].iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
        self.at = start + len;
        self.expect(b"\"")?;
        // Cut at ASCII quotes of a `str`, so the piece is on character boundaries (which
        // `get` checks in constant time) and needs no second UTF-8 check.
        self.text.get(start..start + len)
    }

    /// `null`, a boolean, an integer, a plain string, or (at `depth` 1) an array of those.
    fn value(&mut self, depth: u8) -> Option<Value> {
        match self.peek()? {
            b'n' => self.expect(b"null").map(|_| Value::Null),
            b't' => self.expect(b"true").map(|_| Value::Bool(true)),
            b'f' => self.expect(b"false").map(|_| Value::Bool(false)),
            b'"' => self.plain_string().map(|s| Value::String(s.to_string())),
            b'-' => {
                self.at += 1;
                // serde reads `-0` as a float; leave it to serde.
                let n = self.digits().filter(|&n| n > 0)?;
                Some(Value::from(-(n as i64)))
            }
            b'0'..=b'9' => self.digits().map(Value::from),
            b'[' if depth > 0 => {
                self.at += 1;
                let mut items = Vec::with_capacity(2);
                if self.skip(b"]") {
                    return Some(Value::Array(items));
                }
                loop {
                    items.push(self.value(depth - 1)?);
                    if self.skip(b"]") {
                        return Some(Value::Array(items));
                    }
                    self.expect(b",")?;
                }
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use serde_json::json;

    fn serde(line: &str) -> Result<Op, serde_json::Error> {
        serde_json::from_str(line)
    }

    fn random_value(rng: &mut ChaCha8Rng, depth: u8) -> Value {
        match rng.random_range(0..9) {
            0 => Value::Null,
            1 => json!(rng.random_bool(0.5)),
            2 => json!(rng.random_range(0..1_000_000u64)),
            3 => json!(-rng.random_range(1..1_000_000i64)),
            4 => json!(["a", "ü b", "say \"hi\"", "tab\t", ""][rng.random_range(0..5)]),
            5 if depth > 0 => {
                Value::Array((0..rng.random_range(0..4)).map(|_| random_value(rng, depth - 1)).collect())
            }
            6 => json!(rng.random_range(0.0..10.0)),
            7 => json!({"k": rng.random_range(0..9)}),
            _ => json!(u64::MAX - rng.random_range(0..3)),
        }
    }

    fn random_op(rng: &mut ChaCha8Rng, index: u64) -> Op {
        let kind = [OpType::Invoke, OpType::Ok, OpType::Fail, OpType::Info][rng.random_range(0..4)];
        let f = ["read", "write", "cas", "partition", "n\u{e9}"][rng.random_range(0..5)];
        let mut op = if rng.random_bool(0.1) {
            Op::nemesis(index, rng.random_range(0..u64::MAX / 2), f, random_value(rng, 2))
        } else {
            Op::client(
                index,
                rng.random_range(0..1 << 40),
                rng.random_range(0..50),
                kind,
                f,
                random_value(rng, 2),
            )
        };
        if rng.random_bool(0.7) {
            op.key = Some(["k1", "key with space", "k\"q"][rng.random_range(0..3)].into());
        }
        if rng.random_bool(0.7) {
            op.node = Some(["n1", "n22"][rng.random_range(0..2)].into());
        }
        if rng.random_bool(0.2) {
            op.error = Some(["timeout", "conn: \"refused\""][rng.random_range(0..2)].into());
        }
        if rng.random_bool(0.05) {
            op.siblings = Some(vec![json!(1), json!(2)].into());
        }
        op
    }

    #[test]
    fn reads_what_the_writer_writes_exactly_as_serde_does() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut fast = 0;
        for i in 0..20_000 {
            let op = random_op(&mut rng, i);
            let line = serde_json::to_string(&op).unwrap();
            if let Some(parsed) = parse(&line) {
                // Floats never take the fast path, so the op comes back exactly.
                assert_eq!(parsed, op, "{line}");
                assert_eq!(serde(&line).unwrap(), op, "{line}");
                fast += 1;
            }
        }
        // Most lines are simple enough for the fast path.
        assert!(fast > 5_000, "only {fast} lines took the fast path");
    }

    #[test]
    fn takes_the_fast_path_on_the_lines_of_a_register_run() {
        for line in [
            r#"{"index":0,"time":104195,"process":0,"type":"invoke","f":"cas","key":"k4","value":[null,1],"node":"n1"}"#,
            r#"{"index":1000,"time":39663329,"process":0,"type":"ok","f":"read","key":"k1","value":208,"node":"n1"}"#,
            r#"{"index":7,"time":9,"process":"nemesis","type":"info","f":"phase","value":"heal"}"#,
            r#"{"index":8,"time":9,"process":3,"type":"info","f":"write","key":"k1","value":-3,"node":"n2","error":"timeout"}"#,
        ] {
            assert_eq!(parse(line), Some(serde(line).unwrap()), "{line}");
        }
    }

    #[test]
    fn accepts_nothing_serde_would_read_differently_or_refuse() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let alphabet = b"{}[]\",:0123456789-.e \\nultrfasik\x01";
        let mut accepted = 0;
        for i in 0..40_000 {
            let mut op = random_op(&mut rng, i);
            op.value = [json!(null), json!(5), json!([null, 3]), json!("x"), json!(true)]
                [rng.random_range(0..5)]
            .clone();
            op.siblings = None;
            let mut bytes = serde_json::to_string(&op).unwrap().into_bytes();
            for _ in 0..rng.random_range(1..3) {
                let at = rng.random_range(0..bytes.len());
                match rng.random_range(0..3) {
                    0 => {
                        bytes.remove(at);
                    }
                    1 => bytes.insert(at, alphabet[rng.random_range(0..alphabet.len())]),
                    _ => bytes[at] = alphabet[rng.random_range(0..alphabet.len())],
                }
            }
            let Ok(line) = String::from_utf8(bytes) else { continue };
            if let Some(fast) = parse(&line) {
                accepted += 1;
                assert_eq!(serde(&line).ok(), Some(fast), "{line}");
            }
        }
        assert!(accepted > 100, "the mutations left only {accepted} lines to compare");
    }

    #[test]
    fn leaves_unusual_lines_to_serde() {
        for line in [
            r#"{"index": 0,"time":1,"process":0,"type":"invoke","f":"read","value":null}"#,
            r#"{"time":1,"index":0,"process":0,"type":"invoke","f":"read","value":null}"#,
            r#"{"index":0,"time":1,"process":0,"type":"invoke","f":"read","value":1.5}"#,
            r#"{"index":0,"time":1,"process":0,"type":"invoke","f":"read","value":-0}"#,
            r#"{"index":0,"time":1,"process":0,"type":"invoke","f":"read","value":{"a":1}}"#,
            r#"{"index":0,"time":1,"process":0,"type":"invoke","f":"r\"d","value":null}"#,
            r#"{"index":0,"time":1,"process":0,"type":"invoke","f":"read","value":null,"extra":1}"#,
            r#"{"index":00,"time":1,"process":0,"type":"invoke","f":"read","value":null}"#,
            r#"{"index":18446744073709551615,"time":1,"process":0,"type":"invoke","f":"read","value":null}"#,
            r#"{"index":0,"time":1,"process":0,"type":"invoke","f":"read","value":null} "#,
        ] {
            assert_eq!(parse(line), None, "{line}");
        }
    }
}
