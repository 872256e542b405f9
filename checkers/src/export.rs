//! The Jepsen EDN exporter: any Sunder history as a Jepsen `history.edn`, so a verdict can
//! be cross-checked with Knossos or Elle. The output is one vector holding one op map a
//! line, which both Jepsen's line reader and a plain EDN reader accept, and which Sunder's
//! own importer reads back to the same ops.

use crate::history::{History, Op, Process};
use serde_json::Value;
use std::fmt::Write;

/// The history as Jepsen EDN, with `:key` on keyed ops.
pub fn to_jepsen_edn(history: &History) -> String {
    render(history, false)
}

/// The history as Jepsen EDN with keyed ops written as Jepsen `independent` tuples
/// (`:value [key value]`, no `:key`), the shape Jepsen's independent checker and Knossos
/// expect for a register per key.
pub fn to_jepsen_edn_independent(history: &History) -> String {
    render(history, true)
}

fn render(history: &History, independent: bool) -> String {
    let mut out = String::with_capacity(history.len() * 80 + 4);
    out.push('[');
    for (i, op) in history.ops().iter().enumerate() {
        if i > 0 {
            out.push_str("\n ");
        }
        op_map(&mut out, op, independent);
    }
    out.push_str("]\n");
    out
}

fn op_map(out: &mut String, op: &Op, independent: bool) {
    let _ = write!(out, "{{:index {}, :time {}, :process ", op.index, op.time);
    match op.process {
        Process::Client(p) => {
            let _ = write!(out, "{p}");
        }
        Process::Nemesis => out.push_str(":nemesis"),
    }
    let _ = write!(out, ", :type :{}, :f ", op.kind.as_str());
    keyword_or_string(out, &op.f);
    match (&op.key, independent && !op.is_nemesis()) {
        (Some(key), true) => {
            out.push_str(", :value [");
            edn_string(out, key);
            out.push(' ');
            edn_value(out, &op.value);
            out.push(']');
        }
        (key, _) => {
            if let Some(key) = key {
                out.push_str(", :key ");
                edn_string(out, key);
            }
            out.push_str(", :value ");
            edn_value(out, &op.value);
        }
    }
    if let Some(node) = &op.node {
        out.push_str(", :node ");
        edn_string(out, node);
    }
    if let Some(error) = &op.error {
        out.push_str(", :error ");
        edn_string(out, error);
    }
    out.push('}');
}

/// True when `s` can be written as a keyword and read back unchanged.
fn is_keyword_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || "*+!-_?<>=".contains(c))
        && s.chars().all(|c| c.is_ascii_alphanumeric() || "*+!-_?<>=./".contains(c))
}

fn keyword_or_string(out: &mut String, s: &str) {
    if is_keyword_name(s) {
        out.push(':');
        out.push_str(s);
    } else {
        edn_string(out, s);
    }
}

/// `s` as an EDN string literal.
fn edn_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn edn_value(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("nil"),
        Value::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => edn_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                edn_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                keyword_or_string(out, k);
                out.push(' ');
                edn_value(out, item);
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{OpType, Strictness};
    use crate::import::{Format, parse};
    use crate::linearizable::generate::{Generation, register_history};
    use serde_json::json;
    use std::path::Path;

    fn small() -> History {
        let mut nemesis = Op::client(2, 30, 0, OpType::Info, "start-partition", json!({"isolated": ["n1"]}));
        nemesis.process = Process::Nemesis;
        let mut fail = Op::client(3, 40, 1, OpType::Fail, "cas", json!([1, 2])).with_key("k1");
        fail.error = Some("precondition \"failed\"".into());
        fail.node = Some("n2".into());
        History::new(
            vec![
                Op::client(0, 10, 1, OpType::Invoke, "cas", json!([1, 2])).with_key("k1"),
                Op::client(1, 20, 0, OpType::Invoke, "read", Value::Null),
                nemesis,
                fail,
            ],
            Strictness::Strict,
        )
        .unwrap()
    }

    #[test]
    fn writes_the_golden_jepsen_edn_of_a_small_history() {
        let golden = "[{:index 0, :time 10, :process 1, :type :invoke, :f :cas, :key \"k1\", :value [1 2]}\n \
{:index 1, :time 20, :process 0, :type :invoke, :f :read, :value nil}\n \
{:index 2, :time 30, :process :nemesis, :type :info, :f :start-partition, :value {:isolated [\"n1\"]}}\n \
{:index 3, :time 40, :process 1, :type :fail, :f :cas, :key \"k1\", :value [1 2], :node \"n2\", :error \"precondition \\\"failed\\\"\"}]\n";
        assert_eq!(to_jepsen_edn(&small()), golden);
    }

    #[test]
    fn writes_keyed_ops_as_independent_tuples_on_request() {
        let edn = to_jepsen_edn_independent(&small());
        assert!(edn.contains(":f :cas, :value [\"k1\" [1 2]]"), "{edn}");
        assert!(edn.contains(":f :start-partition, :value {:isolated"), "{edn}");
    }

    #[test]
    fn reads_back_to_the_same_ops() {
        let h = register_history(&Generation { ops: 400, ..Generation::default() });
        let back = parse(Path::new("h.edn"), &to_jepsen_edn(&h), Format::Auto).unwrap();
        assert_eq!(back.format, Format::JepsenEdn);
        assert_eq!(back.history.ops(), h.ops());
        let small = small();
        assert_eq!(
            parse(Path::new("h.edn"), &to_jepsen_edn(&small), Format::JepsenEdn).unwrap().history.ops(),
            small.ops()
        );
    }
}
