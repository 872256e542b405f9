//! Test support shared by the ladder and invariant tests: where the external data lives,
//! and a small builder for hand-written register histories.
#![allow(dead_code)]

use serde_json::{Value, json};
use std::path::PathBuf;
use sunder_check::history::{History, Op, OpType, Process, Strictness};

/// `$SUNDER_DATA`, or `shared/data` two levels above this crate; panics with a clear
/// message when it is missing, so a test never skips silently.
pub fn data_dir() -> PathBuf {
    let dir = match std::env::var_os("SUNDER_DATA") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"),
    };
    assert!(
        dir.join("MANIFEST.tsv").is_file(),
        "external test data not found at {} (set SUNDER_DATA to the shared/data folder)",
        dir.display()
    );
    dir
}

/// Builds histories op by op; times advance by one per op.
#[derive(Default)]
pub struct Builder {
    ops: Vec<Op>,
}

impl Builder {
    pub fn new() -> Builder {
        Builder::default()
    }

    fn push(
        &mut self,
        process: Process,
        kind: OpType,
        f: &str,
        key: Option<&str>,
        value: Value,
    ) -> &mut Self {
        let index = self.ops.len() as u64;
        self.ops.push(Op {
            index,
            time: index * 10,
            process,
            kind,
            f: f.to_string(),
            key: key.map(str::to_string),
            value,
            node: None,
            error: None,
        });
        self
    }

    /// An invocation by client `p`.
    pub fn invoke(&mut self, p: u64, f: &str, key: &str, value: Value) -> &mut Self {
        self.push(Process::Client(p), OpType::Invoke, f, Some(key), value)
    }

    /// A completion by client `p`.
    pub fn complete(&mut self, p: u64, kind: OpType, f: &str, key: &str, value: Value) -> &mut Self {
        self.push(Process::Client(p), kind, f, Some(key), value)
    }

    /// A completed write.
    pub fn write(&mut self, p: u64, key: &str, v: Value) -> &mut Self {
        self.invoke(p, "write", key, v.clone()).complete(p, OpType::Ok, "write", key, v)
    }

    /// A completed read returning `v`.
    pub fn read(&mut self, p: u64, key: &str, v: Value) -> &mut Self {
        self.invoke(p, "read", key, Value::Null).complete(p, OpType::Ok, "read", key, v)
    }

    /// A completed final-phase read on `node`.
    pub fn final_read(&mut self, p: u64, node: &str, key: &str, v: Value) -> &mut Self {
        self.invoke(p, "read", key, Value::Null).complete(p, OpType::Ok, "read", key, v);
        self.ops.last_mut().unwrap().node = Some(node.to_string());
        self
    }

    /// A nemesis op.
    pub fn nemesis(&mut self, f: &str, v: Value) -> &mut Self {
        self.push(Process::Nemesis, OpType::Info, f, None, v)
    }

    pub fn history(&self) -> History {
        History::new(self.ops.clone(), Strictness::Strict).expect("valid test history")
    }
}

/// A history from the causal data's encoding: process name -> program-ordered
/// `["w"|"r", key, value]`; processes run one after another.
pub fn from_program_order(ops: &Value) -> History {
    let mut b = Builder::new();
    for (p, (_, list)) in ops.as_object().expect("process map").iter().enumerate() {
        for op in list.as_array().expect("op list") {
            let [kind, key, value] = op.as_array().expect("op triple").as_slice() else {
                panic!("bad op {op}")
            };
            let key = key.as_str().expect("key");
            match kind.as_str() {
                Some("w") => b.write(p as u64, key, value.clone()),
                Some("r") => b.read(p as u64, key, value.clone()),
                _ => panic!("bad op kind {kind}"),
            };
        }
    }
    b.history()
}

/// `json!` shorthand re-exported for tests.
pub fn v(x: i64) -> Value {
    json!(x)
}
