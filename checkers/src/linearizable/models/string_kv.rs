//! Porcupine's kv model: `get`, `put` and `append` on string values, one register per key,
//! every key starting as the empty string.
//!
//! Appends build new strings during the search, but a string matters only through the gets
//! that may still read it, so the state is not the string. While the string is a prefix of
//! some value a get of its key returned, the state is that prefix's point in the key's
//! [`PrefixTree`] (a few integers: cloning, hashing and comparing cost nothing, and equal
//! points are equal strings). Once it is a prefix of no value read, no get can return it or
//! anything appended to it, and only a put can change that: all such strings behave the
//! same from then on, so they are one state, [`KvState::Unread`]. Merging states that no
//! future op tells apart keeps every verdict and lets the memo see that two orders of
//! appends nobody read came to the same thing. The witness shows the real strings, replayed
//! along its prefix ([`Model::witness_step`]).

use super::prefix_tree::{Point, PrefixTree};
use crate::linearizable::model::{Call, Compiled, Model, Outcome, subject};
use rustc_hash::FxHashMap;
use serde_json::Value;
use std::sync::{Arc, OnceLock};

/// The state of one key during the search.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KvState {
    /// The empty string (every key's initial state, whatever its key).
    Empty,
    /// A nonempty prefix of a value some get of key number `key` returned.
    Read {
        /// The key's number in the model.
        key: u32,
        /// The prefix in that key's tree.
        at: Point,
    },
    /// Any string that is a prefix of no value a get of its key returned.
    Unread,
    /// The string itself, as the witness shows it; the search never makes one.
    Text(Arc<str>),
}

/// What a kv op does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Get,
    Put,
    Append,
}

/// One kv op: a get that returned a text, or a put or append of one; texts are numbered
/// per key, so equal ops are equal numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StringKvOp {
    action: Action,
    key: u32,
    text: u32,
}

/// The texts of one key: every value its ops carry, interned, and the tree of those read.
#[derive(Debug, Clone, Default)]
struct KeyTexts {
    texts: Vec<Box<str>>,
    ids: FxHashMap<Box<str>, u32>,
    /// Per text: a get returned it.
    read: Vec<bool>,
    /// Per text: a put wrote it.
    put: Vec<bool>,
    /// Built on the key's first step, once compiling has seen every get.
    tree: OnceLock<KeyTree>,
}

#[derive(Debug, Clone)]
struct KeyTree {
    tree: PrefixTree,
    /// Per text read or put: the state holding exactly it (`Unread` for other texts).
    states: Vec<KvState>,
}

impl KeyTexts {
    fn id(&mut self, text: &str) -> u32 {
        if let Some(&id) = self.ids.get(text) {
            return id;
        }
        let id = self.texts.len() as u32;
        self.texts.push(Box::from(text));
        self.ids.insert(Box::from(text), id);
        self.read.push(false);
        self.put.push(false);
        id
    }

    fn tree(&self, key: u32) -> &KeyTree {
        self.tree.get_or_init(|| {
            let tree = PrefixTree::new(&self.texts, (0..self.texts.len()).filter(|&i| self.read[i]));
            let states = (0..self.texts.len())
                .map(|i| match self.read[i] || self.put[i] {
                    true => state_at(key, tree.walk(&self.texts, PrefixTree::ROOT, self.texts[i].as_bytes())),
                    false => KvState::Unread,
                })
                .collect();
            KeyTree { tree, states }
        })
    }
}

/// The state of a walk's end.
fn state_at(key: u32, at: Option<Point>) -> KvState {
    match at {
        Some(PrefixTree::ROOT) => KvState::Empty,
        Some(at) => KvState::Read { key, at },
        None => KvState::Unread,
    }
}

/// Porcupine's string kv, partitioned by key.
#[derive(Debug, Clone, Default)]
pub struct StringKvModel {
    numbers: FxHashMap<String, u32>,
    unkeyed: Option<u32>,
    keys: Vec<KeyTexts>,
}

fn text_of(v: &Value) -> std::borrow::Cow<'_, str> {
    match v {
        Value::String(s) => s.as_str().into(),
        Value::Null => "".into(),
        other => other.to_string().into(),
    }
}

impl StringKvModel {
    fn number(&mut self, key: Option<&str>) -> u32 {
        let next = self.keys.len() as u32;
        let number = match key {
            Some(k) => match self.numbers.get(k) {
                Some(&n) => n,
                None => *self.numbers.entry(k.to_owned()).or_insert(next),
            },
            None => *self.unkeyed.get_or_insert(next),
        };
        if number == next {
            self.keys.push(KeyTexts::default());
        }
        number
    }

    fn text(&self, op: &StringKvOp) -> &str {
        &self.keys[op.key as usize].texts[op.text as usize]
    }

    /// The string a state stands for, when it stands for one (`Unread` does not).
    fn string<'s>(&'s self, state: &'s KvState) -> Option<&'s str> {
        match state {
            KvState::Empty => Some(""),
            KvState::Read { key, at } => {
                let k = &self.keys[*key as usize];
                Some(k.tree(*key).tree.text(&k.texts, *at))
            }
            KvState::Unread => None,
            KvState::Text(t) => Some(t),
        }
    }
}

impl Model for StringKvModel {
    type State = KvState;
    type Op = StringKvOp;

    fn compile(&mut self, call: &Call<'_>) -> Result<Compiled<StringKvOp>, String> {
        let (action, value) = match (call.invoke.f.as_str(), call.outcome) {
            ("get", Outcome::Ok(v)) => (Action::Get, v),
            ("get", _) | ("put" | "append", Outcome::Fail) => return Ok(Compiled::Skip),
            ("put", _) => (Action::Put, &call.invoke.value),
            ("append", _) => (Action::Append, &call.invoke.value),
            (f, _) => return Err(format!("the string kv has no op '{f}' (expected get, put or append)")),
        };
        let key = self.number(call.invoke.key.as_deref());
        let texts = &mut self.keys[key as usize];
        let text = texts.id(&text_of(value));
        match action {
            Action::Get => texts.read[text as usize] = true,
            Action::Put => texts.put[text as usize] = true,
            Action::Append => {}
        }
        Ok(Compiled::Op { key: call.invoke.key.clone(), op: StringKvOp { action, key, text } })
    }

    fn init(&self) -> KvState {
        KvState::Empty
    }

    fn step(&self, state: &KvState, op: &StringKvOp) -> Option<KvState> {
        if let KvState::Text(t) = state {
            return match op.action {
                Action::Get => (**t == *self.text(op)).then(|| state.clone()),
                _ => Some(self.witness_step(state, op)),
            };
        }
        let texts = &self.keys[op.key as usize];
        let tree = texts.tree(op.key);
        match op.action {
            Action::Get => (*state == tree.states[op.text as usize]).then(|| state.clone()),
            Action::Put => Some(tree.states[op.text as usize].clone()),
            Action::Append => {
                let from = match state {
                    KvState::Empty => PrefixTree::ROOT,
                    KvState::Read { at, .. } => *at,
                    _ => return Some(KvState::Unread),
                };
                let tail = texts.texts[op.text as usize].as_bytes();
                Some(state_at(op.key, tree.tree.walk(&texts.texts, from, tail)))
            }
        }
    }

    fn witness_step(&self, state: &KvState, op: &StringKvOp) -> KvState {
        let Some(before) = self.string(state) else { return KvState::Unread };
        KvState::Text(match op.action {
            Action::Get => Arc::from(before),
            Action::Put => Arc::from(self.text(op)),
            Action::Append => Arc::from(format!("{before}{}", self.text(op))),
        })
    }

    fn read_only(&self, op: &StringKvOp) -> bool {
        op.action == Action::Get
    }

    fn heap_bytes(&self, state: &KvState) -> usize {
        match state {
            KvState::Text(t) => t.len() + 16,
            _ => 0,
        }
    }

    fn describe(&self, op: &StringKvOp, key: Option<&str>) -> String {
        let (k, v) = (subject(key, "store"), self.text(op));
        match op.action {
            Action::Get => format!("get of {k} returned {v:?}"),
            Action::Put => format!("put of {v:?} to {k}"),
            Action::Append => format!("append of {v:?} to {k}"),
        }
    }

    fn describe_state(&self, state: &KvState, key: Option<&str>) -> String {
        match self.string(state) {
            Some(s) => format!("{} held {s:?}", subject(key, "store")),
            None => {
                format!("{} held a string that begins no value a get of it returned", subject(key, "store"))
            }
        }
    }

    fn state_json(&self, state: &KvState) -> Value {
        self.string(state).map_or(Value::Null, |s| Value::String(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Op, OpType};
    use serde_json::json;

    /// Compiles one call of key `k` (a get that returned `v`, or a put or append of `v`).
    fn op(model: &mut StringKvModel, f: &str, v: &str) -> StringKvOp {
        let invoke = Op::client(0, 0, 0, OpType::Invoke, f, json!(v)).with_key("k");
        let done = Op::client(1, 1, 0, OpType::Ok, f, json!(v)).with_key("k");
        let call = Call { invoke: &invoke, completion: Some(&done), outcome: Outcome::Ok(&done.value) };
        match model.compile(&call) {
            Ok(Compiled::Op { op, .. }) => op,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn strings_nobody_read_are_one_state_and_read_prefixes_are_exact() {
        let mut m = StringKvModel::default();
        let get_ab = op(&mut m, "get", "ab");
        let (a, b, c) = (op(&mut m, "append", "a"), op(&mut m, "append", "b"), op(&mut m, "append", "c"));
        let put_ab = op(&mut m, "put", "ab");
        let run = |ops: &[StringKvOp]| ops.iter().fold(m.init(), |s, o| m.step(&s, o).expect("no get"));
        // The same string by different ops is the same state, and a get of it accepts it.
        assert_eq!(run(&[a, b]), run(&[put_ab]));
        assert!(m.step(&run(&[a, b]), &get_ab).is_some());
        assert!(m.step(&run(&[a]), &get_ab).is_none());
        // "ba", "c" and "abc" begin no value read: one state, which no get accepts...
        assert_eq!(run(&[b, a]), KvState::Unread);
        assert_eq!(run(&[b, a]), run(&[c]));
        assert_eq!(run(&[a, b, c]), KvState::Unread);
        assert!(m.step(&KvState::Unread, &get_ab).is_none());
        // ...until a put.
        assert_eq!(run(&[c, put_ab]), run(&[put_ab]));
        // The witness replays the strings themselves.
        let shown = [b, a, c].iter().fold(m.init(), |s, o| m.witness_step(&s, o));
        assert_eq!(m.state_json(&shown), json!("bac"));
        assert_eq!(m.describe_state(&run(&[a]), Some("k")), "key k held \"a\"");
    }
}
