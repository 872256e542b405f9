//! The one small trait every sequential specification implements. A model first compiles a
//! history's calls into its own compact ops (interning values to integers so states are
//! cheap to hash and clone, and choosing the partition each op belongs to); the search then
//! only asks it to step a state by an op. Keeping the two phases apart lets the search run
//! partitions on several threads against a model it only reads.

use crate::history::Op;
use serde_json::Value;
use std::hash::Hash;

/// How a call ended, as the model needs to know it.
#[derive(Debug, Clone, Copy)]
pub enum Outcome<'a> {
    /// It happened; the completion's value.
    Ok(&'a Value),
    /// A `fail` to be read as a definite observation (see `FailSemantics::CasMismatch`).
    Fail,
    /// `info`, or never completed: it may have happened at any time after its invoke, or
    /// never. A model's step for such an op must never refuse: an effect that cannot apply
    /// leaves the state as it is, which is the same as the op never happening.
    Unknown,
}

/// One client call of the history, as handed to [`Model::compile`].
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// The invocation (its value is the argument).
    pub invoke: &'a Op,
    /// The completion, when there is one.
    pub completion: Option<&'a Op>,
    /// How the call ended.
    pub outcome: Outcome<'a>,
}

/// What a model made of a call.
#[derive(Debug, Clone)]
pub enum Compiled<O> {
    /// The call constrains nothing (an unknown read, a failed op) and is left out.
    Skip,
    /// The call, in the partition named by `key` (`None`: the model's single partition).
    Op {
        /// Partition the op belongs to.
        key: Option<crate::history::Name>,
        /// The compiled op.
        op: O,
    },
}

/// A sequential specification the search can check a history against.
pub trait Model: Sync {
    /// The model's state: small, cheap to clone and hash.
    type State: Clone + Eq + Hash + Send;
    /// One compiled call: argument and observed result. Equal ops are interchangeable: the
    /// search orders crashed ops that are equal (see `search`).
    type Op: Send + Sync + PartialEq;

    /// Turns a history call into a model op, or says why it cannot.
    fn compile(&mut self, call: &Call<'_>) -> Result<Compiled<Self::Op>, String>;

    /// The state every partition starts in.
    fn init(&self) -> Self::State;

    /// The state after `op`, or `None` when `op` cannot happen in `state` (its observed
    /// result contradicts the state).
    fn step(&self, state: &Self::State, op: &Self::Op) -> Option<Self::State>;

    /// The state after `op` (which the model accepted) as a witness shows it. The search's
    /// states may stand for classes of states that no later op tells apart (the string kv
    /// model's do); the witness replays its prefix with this step to show concrete ones.
    fn witness_step(&self, state: &Self::State, op: &Self::Op) -> Self::State {
        self.step(state, op).unwrap_or_else(|| state.clone())
    }

    /// True when `op` never changes any state it applies to (a read, a failed cas). The
    /// search linearizes such an op as soon as it can and never tries it later instead:
    /// moving it earlier cannot change any state another op sees.
    fn read_only(&self, _op: &Self::Op) -> bool {
        false
    }

    /// Heap bytes a state holds beyond its inline size, for the memory budget.
    fn heap_bytes(&self, _state: &Self::State) -> usize {
        0
    }

    /// The op in words, e.g. `read of k2 returned 5`.
    fn describe(&self, op: &Self::Op, key: Option<&str>) -> String;

    /// The state in words, e.g. `k2 held 7`.
    fn describe_state(&self, state: &Self::State, key: Option<&str>) -> String;

    /// The state as JSON, for the witness the report draws.
    fn state_json(&self, state: &Self::State) -> Value;
}

/// Interns JSON values to dense integers so register states are one `u32`. `null` is 0.
#[derive(Debug, Clone)]
pub struct ValueTable {
    ints: rustc_hash::FxHashMap<i64, u32>,
    others: rustc_hash::FxHashMap<String, u32>,
    values: Vec<Value>,
}

// Written out rather than derived: an empty table would lack `null` at id 0.
impl Default for ValueTable {
    fn default() -> ValueTable {
        ValueTable::new()
    }
}

impl ValueTable {
    /// A table holding only `null` (id 0).
    pub fn new() -> ValueTable {
        ValueTable { ints: Default::default(), others: Default::default(), values: vec![Value::Null] }
    }

    /// The id of `v`, assigning one on first sight.
    pub fn id(&mut self, v: &Value) -> u32 {
        if v.is_null() {
            return 0;
        }
        let next = self.values.len() as u32;
        if let Some(i) = v.as_i64() {
            return *self.ints.entry(i).or_insert_with(|| {
                self.values.push(v.clone());
                next
            });
        }
        *self.others.entry(v.to_string()).or_insert_with(|| {
            self.values.push(v.clone());
            next
        })
    }

    /// The value of an id.
    pub fn value(&self, id: u32) -> &Value {
        &self.values[id as usize]
    }

    /// True when integer `i` is interned.
    pub fn contains_int(&self, i: i64) -> bool {
        self.ints.contains_key(&i)
    }

    /// True when the value whose JSON text is `text` (not an integer) is interned.
    pub fn contains_text(&self, text: &str) -> bool {
        self.others.contains_key(text)
    }

    /// Values interned so far (`null` included).
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when only `null` is interned.
    pub fn is_empty(&self) -> bool {
        self.values.len() == 1
    }

    /// Keeps only the values whose ids `keep` holds (and `null`), renumbered densely in their
    /// old order; returns each kept old id's new id (indexed by old id, `u32::MAX` for
    /// dropped ones). A checker that runs as long as a history grows forgets the values no
    /// state or open op names any more.
    pub fn retain(&mut self, keep: &rustc_hash::FxHashSet<u32>) -> Vec<u32> {
        let mut renumbered = vec![u32::MAX; self.values.len()];
        let mut table = ValueTable::new();
        renumbered[0] = 0;
        for (old, v) in self.values.iter().enumerate().skip(1) {
            if keep.contains(&(old as u32)) {
                renumbered[old] = table.id(v);
            }
        }
        *self = table;
        renumbered
    }
}

/// `key` as a phrase: `key k2`, or `the register` when the model has one partition.
pub fn subject(key: Option<&str>, what: &str) -> String {
    match key {
        Some(k) => format!("key {k}"),
        None => format!("the {what}"),
    }
}
