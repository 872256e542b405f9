//! Jepsen op maps (from EDN or JSON) to Sunder [`Op`]s. Both encodings carry the same maps
//! (`:process :type :f :value`, optionally `:key :time :node :error`), so one conversion
//! serves `history.edn`, Porcupine's kv lines and elle-cli's JSON arrays. Jepsen's
//! `independent` tuples (`:value [key value]` on every op) become `key` + `value`.

use super::edn::{Located, read_forms};
use crate::error::InputError;
use crate::history::{History, Op, OpNumbering, OpType, Process, Strictness, validate_at_lines};
use serde_json::Value;
use std::path::Path;

/// Reads Jepsen EDN: one vector of op maps, or one map a line.
pub fn from_edn(path: &Path, text: &str) -> Result<History, InputError> {
    let forms = read_forms(text).map_err(|e| match e.column {
        Some(column) => InputError::at_column(path, e.line, column, e.problem),
        None => InputError::at(path, e.line, e.problem),
    })?;
    build(path, forms)
}

/// Reads a JSON array of Jepsen op maps, or one JSON map a line.
pub fn from_json(path: &Path, text: &str) -> Result<History, InputError> {
    let trimmed = text.trim_start();
    let forms = if trimmed.starts_with('[') {
        let value: Value =
            serde_json::from_str(text).map_err(|e| InputError::json(path, 1, "malformed JSON", &e))?;
        let Value::Array(items) = value else { unreachable!("text starts with '['") };
        let lines = element_lines(text);
        items
            .into_iter()
            .enumerate()
            .map(|(i, value)| Located { line: lines.get(i).copied().unwrap_or(1), value })
            .collect()
    } else {
        let mut forms = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let value = serde_json::from_str(line)
                .map_err(|e| InputError::json(path, n + 1, "malformed JSON", &e))?;
            forms.push(Located { line: n + 1, value });
        }
        forms
    };
    build(path, forms)
}

/// The line each element of the top-level JSON array starts on.
fn element_lines(text: &str) -> Vec<usize> {
    let mut lines = Vec::new();
    let (mut depth, mut line, mut in_string, mut escaped, mut expecting) =
        (0usize, 1usize, false, false, false);
    for c in text.bytes() {
        if c == b'\n' {
            line += 1;
        }
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        if expecting && !c.is_ascii_whitespace() && c != b']' {
            lines.push(line);
            expecting = false;
        }
        match c {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth == 1 {
                    expecting = true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b',' if depth == 1 => expecting = true,
            _ => {}
        }
    }
    lines
}

fn build(path: &Path, forms: Vec<Located>) -> Result<History, InputError> {
    let mut ops = Vec::with_capacity(forms.len());
    let mut lines = Vec::with_capacity(forms.len());
    let anonymous = !forms.iter().any(|f| f.value.get("process").is_some());
    let mut numbering = AnonymousProcesses::default();
    let mut file_indices = Vec::with_capacity(forms.len());
    for form in forms {
        let mut value = form.value;
        if anonymous && let Value::Object(m) = &mut value {
            let process = numbering.assign(m.get("type"), m.get("f"));
            m.insert("process".into(), process.into());
        }
        let op = to_op(ops.len() as u64, &value).map_err(|p| InputError::at(path, form.line, p))?;
        file_indices.push(value.get("index").and_then(Value::as_u64));
        ops.push(op);
        lines.push(form.line);
    }
    untuple_independent(&mut ops);
    let numbering = adopt_file_indices(&mut ops, &file_indices);
    Ok(validate_at_lines(path, ops, &lines, Strictness::Lenient)?.with_numbering(numbering))
}

/// Numbers the ops by the file's own `:index` when every op carries one and they increase
/// (Jepsen writes them so), since those are the numbers a user can look up; otherwise the
/// ops keep their positions, and the result says so. Indices may have gaps: Jepsen drops
/// ops from a history it writes and keeps the others' numbers.
fn adopt_file_indices(ops: &mut [Op], file_indices: &[Option<u64>]) -> OpNumbering {
    let increasing = file_indices.windows(2).all(|w| matches!(w, [Some(a), Some(b)] if a < b));
    let complete = file_indices.iter().all(Option::is_some);
    if ops.is_empty() || !increasing || !complete {
        return OpNumbering::Position;
    }
    for (op, index) in ops.iter_mut().zip(file_indices) {
        op.index = index.expect("checked complete above");
    }
    OpNumbering::Index
}

/// Process numbers for histories written without `:process` (Elle's hand-written ones):
/// every invocation gets a fresh process, and a completion closes the oldest open
/// invocation of the same function.
#[derive(Default)]
struct AnonymousProcesses {
    next: u64,
    open: Vec<(Option<Value>, u64)>,
}

impl AnonymousProcesses {
    fn assign(&mut self, kind: Option<&Value>, f: Option<&Value>) -> u64 {
        if kind.and_then(Value::as_str) == Some("invoke") {
            self.next += 1;
            self.open.push((f.cloned(), self.next));
            return self.next;
        }
        match self.open.iter().position(|(g, _)| g.as_ref() == f) {
            Some(i) => self.open.remove(i).1,
            None => {
                // A completion with no invocation: a process of its own, which validation
                // then reports at this line.
                self.next += 1;
                self.next
            }
        }
    }
}

/// A scalar as text: strings as they are, everything else as JSON.
fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn to_op(position: u64, v: &Value) -> Result<Op, String> {
    let Value::Object(m) = v else {
        return Err(format!("expected an op map, got {}", short(v)));
    };
    let process = match m.get("process") {
        Some(Value::Number(n)) => Process::Client(
            n.as_u64().ok_or_else(|| format!("process must be a non-negative integer, got {n}"))?,
        ),
        Some(Value::String(s)) if s == "nemesis" => Process::Nemesis,
        Some(other) => return Err(format!("process must be an integer or :nemesis, got {}", short(other))),
        None => return Err("op has no :process".into()),
    };
    let kind = match m.get("type").and_then(Value::as_str) {
        Some("invoke") => OpType::Invoke,
        Some("ok") => OpType::Ok,
        Some("fail") => OpType::Fail,
        Some("info") => OpType::Info,
        Some(other) => return Err(format!("unknown op type '{other}': expected invoke, ok, fail or info")),
        None => return Err("op has no :type".into()),
    };
    let value = m.get("value").cloned().unwrap_or(Value::Null);
    let f = match m.get("f") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => text_of(other),
        // Elle's own histories leave :f out of transactions.
        None if value.is_array() => "txn".into(),
        None => return Err("op has no :f".into()),
    };
    let time = match m.get("time") {
        Some(Value::Number(n)) => n.as_u64().or_else(|| n.as_f64().map(|f| f.max(0.0) as u64)).unwrap_or(0),
        _ => position,
    };
    Ok(Op {
        index: position,
        time,
        process,
        kind,
        f: f.into(),
        key: m.get("key").filter(|k| !k.is_null()).map(|k| text_of(k).into()),
        value,
        node: m.get("node").filter(|k| !k.is_null()).map(|k| text_of(k).into()),
        error: m.get("error").filter(|k| !k.is_null()).map(|k| text_of(k).into()),
        siblings: None,
    })
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 { format!("{}...", s.chars().take(57).collect::<String>()) } else { s }
}

/// When every client op is an `independent` tuple `[key value]` (Jepsen's way of running
/// one register per key), splits the tuples into `key` and `value`. A cas tuple must hold a
/// `[from to]` pair, which keeps a plain cas register (`[from to]` everywhere) as it is.
fn untuple_independent(ops: &mut [Op]) {
    let clients = || ops.iter().filter(|op| !op.is_nemesis());
    if clients().next().is_none() {
        return;
    }
    let tuple = |op: &Op| match &op.value {
        Value::Array(a) if a.len() == 2 && op.key.is_none() => {
            let scalar_key = matches!(a[0], Value::String(_) | Value::Number(_));
            let cas_ok = op.f != "cas" || matches!(&a[1], Value::Array(p) if p.len() == 2);
            scalar_key && cas_ok
        }
        _ => false,
    };
    if !clients().all(tuple) {
        return;
    }
    for op in ops.iter_mut().filter(|op| !op.is_nemesis()) {
        let Value::Array(mut a) = std::mem::take(&mut op.value) else { unreachable!("checked above") };
        op.value = a.pop().unwrap_or(Value::Null);
        op.key = Some(text_of(&a[0]).into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn imports_a_knossos_vector_of_ops() {
        let h = from_edn(
            Path::new("h.edn"),
            "[{:process 0, :type :invoke, :f :cas, :value [1 2]}\n {:process 0, :type :fail, :f :cas, :value [1 2]}]",
        )
        .unwrap();
        assert_eq!(h.len(), 2);
        assert_eq!(h.ops()[1].kind, OpType::Fail);
        assert_eq!(h.ops()[1].value, json!([1, 2]));
        assert_eq!(h.ops()[1].key, None);
        assert_eq!(h.partner(1), Some(0));
    }

    #[test]
    fn splits_independent_tuples_into_key_and_value() {
        let h = from_edn(
            Path::new("h.edn"),
            "{:process 0, :type :invoke, :f :read, :value [3 nil]}\n{:process 0, :type :ok, :f :read, :value [3 5]}\n\
             {:process 1, :type :invoke, :f :cas, :value [4 [1 2]]}\n{:process 1, :type :ok, :f :cas, :value [4 [1 2]]}\n\
             {:process :nemesis, :type :info, :f :start, :value nil}",
        )
        .unwrap();
        assert_eq!(h.ops()[1].key.as_deref(), Some("3"));
        assert_eq!(h.ops()[1].value, json!(5));
        assert_eq!(h.ops()[3].value, json!([1, 2]));
    }

    #[test]
    fn names_the_line_of_an_op_without_type() {
        let e =
            from_edn(Path::new("h.edn"), "[{:process 0, :type :invoke, :f :read}\n {:process 0, :f :read}]")
                .unwrap_err();
        assert_eq!(e.to_string(), "h.edn:2: op has no :type");
    }

    #[test]
    fn names_the_line_of_a_bad_element_of_a_json_array() {
        let text = "[{\"process\":0,\"type\":\"invoke\",\"f\":\"read\"},\n {\"process\":0,\"type\":\"later\",\"f\":\"read\"}]";
        let e = from_json(Path::new("h.json"), text).unwrap_err();
        assert!(e.to_string().starts_with("h.json:2: unknown op type 'later'"), "{e}");
    }

    #[test]
    fn keeps_the_files_own_indices_with_their_gaps() {
        let h = from_edn(
            Path::new("h.edn"),
            "{:index 3, :process 0, :type :invoke, :f :read}\n{:index 7, :process 0, :type :ok, :f :read, :value 1}",
        )
        .unwrap();
        assert_eq!(h.op_numbering(), OpNumbering::Index);
        assert_eq!(h.ops().iter().map(|o| o.index).collect::<Vec<_>>(), vec![3, 7]);
    }

    #[test]
    fn numbers_by_position_when_indices_are_missing_or_out_of_order() {
        for text in [
            "{:index 3, :process 0, :type :invoke, :f :read}\n{:process 0, :type :ok, :f :read}",
            "{:index 3, :process 0, :type :invoke, :f :read}\n{:index 3, :process 0, :type :ok, :f :read}",
        ] {
            let h = from_edn(Path::new("h.edn"), text).unwrap();
            assert_eq!(h.op_numbering(), OpNumbering::Position, "{text}");
            assert_eq!(h.ops().iter().map(|o| o.index).collect::<Vec<_>>(), vec![0, 1]);
        }
    }

    #[test]
    fn names_line_and_column_of_a_json_syntax_error_once() {
        let e = from_json(
            Path::new("h.json"),
            "[{\"process\":0,\"type\":\"invoke\",\"f\":\"read\"},\n {\"process\" 0}]",
        )
        .unwrap_err()
        .to_string();
        assert_eq!(e, "h.json:2:13: malformed JSON: expected `:`");
    }

    #[test]
    fn names_the_line_of_a_completion_without_invocation() {
        let e = from_edn(
            Path::new("h.edn"),
            "{:process 0, :type :invoke, :f :read}\n{:process 1, :type :ok, :f :read}",
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("h.edn:2: ok of read by process 1"), "{e}");
    }
}
