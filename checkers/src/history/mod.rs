//! The history model: what a run recorded, in order. The runner writes it with
//! [`HistoryWriter`] (which also holds it in memory, and keeps a binary mirror of the file
//! beside it: [`mirror_path`]), `sunder check` reads it back with [`read_jsonl`] (from the
//! mirror while it provably matches the file), importers build it from other tools'
//! formats, and every checker consumes a validated [`History`].

mod canonical;
mod line_map;
mod mirror;
mod name;
mod op;
mod pieces;
mod reader;
mod writer;

pub use mirror::{MirrorBuilder, mirror_path};
pub use op::{Name, Op, OpType, Process};
pub(crate) use reader::validate_at_lines;
pub(crate) use reader::{JsonlReader, read_mirrored};
pub use reader::{parse_jsonl, read_jsonl, read_jsonl_text, stream_jsonl, stream_jsonl_text};
pub use writer::{BatchSink, HistoryWriter};

use rustc_hash::FxHashMap;
use std::fmt;

/// A validated history: ops in the order the harness saw them, with every client
/// completion paired to its invocation.
#[derive(Debug, Clone, Default)]
pub struct History {
    ops: Vec<Op>,
    /// For each op position, the position of its partner (invoke <-> completion), or
    /// [`NO_PARTNER`]: four bytes an op rather than an `Option<usize>`'s sixteen, since a
    /// history of millions of ops keeps this beside them for as long as it is judged.
    partner: Vec<u32>,
    /// What the ops' `index` numbers are.
    numbering: OpNumbering,
}

/// What the `index` of a history's ops is, and so what the op numbers in anomalies and
/// witnesses mean: a user must be able to find the op in their own file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OpNumbering {
    /// The file's own numbers: Sunder's `index`, or a Jepsen history's `:index`.
    #[default]
    Index,
    /// The file carries no index: each op's 0-based position among the file's ops.
    Position,
}

impl OpNumbering {
    /// `index` or `position`, as written in results.
    pub fn as_str(self) -> &'static str {
        match self {
            OpNumbering::Index => "index",
            OpNumbering::Position => "position",
        }
    }

    /// What an op number means, in words, for a report or summary.
    pub fn meaning(self) -> &'static str {
        match self {
            OpNumbering::Index => "op numbers are the history's own indices",
            OpNumbering::Position => {
                "op numbers are 0-based positions among the file's ops (the file has no indices)"
            }
        }
    }
}

/// What is wrong with a sequence of ops, and at which position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Position (0-based) of the offending op in the sequence.
    pub position: usize,
    /// The problem in plain words.
    pub problem: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "op {}: {}", self.position, self.problem)
    }
}

/// How strictly [`History::new`] applies Jepsen's process rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strictness {
    /// Sunder's own histories: an op from a process after its `info` is an error.
    Strict,
    /// Imported histories from tools that reuse a process after `info`: allowed.
    Lenient,
}

impl History {
    /// Validates `ops` and pairs completions with invocations.
    ///
    /// Rejects a completion without an open invocation, a second invocation on a process
    /// whose first is still open, and (when strict) any op from a process after its `info`.
    /// Nemesis ops are not paired: the nemesis may log a lone `info`. An invocation still
    /// open at the end is kept; checkers treat it like `info`.
    pub fn new(ops: Vec<Op>, strictness: Strictness) -> Result<History, Violation> {
        let mut pairing = Pairing::new(strictness, ops.len());
        pairing.pair(&ops)?;
        Ok(pairing.into_history(ops))
    }

    /// The same history, its op indices declared to mean `numbering` (importers say so
    /// when a file has no indices of its own).
    pub fn with_numbering(mut self, numbering: OpNumbering) -> History {
        self.numbering = numbering;
        self
    }

    /// What the ops' `index` numbers are.
    pub fn op_numbering(&self) -> OpNumbering {
        self.numbering
    }

    /// All ops in history order.
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// Number of ops.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// True when the history holds no op.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The completion of the invocation at `position`, or the invocation of the completion
    /// at `position`; `None` for an invocation still open at the end, or a lone nemesis op.
    pub fn partner(&self, position: usize) -> Option<usize> {
        partner_at(&self.partner, position)
    }

    /// Client operations as (invocation, completion) position pairs, in invocation order.
    /// An invocation never completed has `None` and counts as indeterminate.
    pub fn client_calls(&self) -> impl Iterator<Item = (usize, Option<usize>)> + '_ {
        self.ops
            .iter()
            .enumerate()
            .filter(|(_, op)| op.kind == OpType::Invoke && !op.is_nemesis())
            .map(move |(i, _)| (i, partner_at(&self.partner, i)))
    }

    /// Consumes the history, returning its ops.
    pub fn into_ops(self) -> Vec<Op> {
        self.ops
    }
}

/// The partner slot of an op that has none (an open invocation, a lone nemesis op).
const NO_PARTNER: u32 = u32::MAX;

/// The partner recorded at `position`, if any.
fn partner_at(partner: &[u32], position: usize) -> Option<usize> {
    match partner[position] {
        NO_PARTNER => None,
        p => Some(p as usize),
    }
}

/// [`History::new`]'s validation and pairing, done as the ops come: fed the ops read so far
/// any number of times, it pairs those it has not seen. The reader pairs one chunk's ops on
/// a spare thread while the next chunk is parsed.
#[derive(Debug)]
pub(crate) struct Pairing {
    strictness: Strictness,
    /// Each client process's open invocation.
    open: FxHashMap<u64, usize>,
    /// Each retired process's `info`.
    retired: FxHashMap<u64, usize>,
    /// For each op paired so far, its partner, or [`NO_PARTNER`].
    partner: Vec<u32>,
    nemesis_open: Option<usize>,
}

impl Pairing {
    /// A pairing of a history expected to hold about `ops` ops.
    pub(crate) fn new(strictness: Strictness, ops: usize) -> Pairing {
        Pairing {
            strictness,
            open: FxHashMap::default(),
            retired: FxHashMap::default(),
            partner: Vec::with_capacity(ops),
            nemesis_open: None,
        }
    }

    /// How many ops are paired.
    pub(crate) fn paired(&self) -> usize {
        self.partner.len()
    }

    /// Pairs the ops of `ops` after the first [`Pairing::paired`], which are the ones fed
    /// before. After an error the pairing is spoiled: feed it nothing more.
    pub(crate) fn pair(&mut self, ops: &[Op]) -> Result<(), Violation> {
        let from = self.partner.len();
        if ops.len() >= NO_PARTNER as usize {
            return Err(Violation {
                position: NO_PARTNER as usize - 1,
                problem: format!("a history holds at most {} ops", NO_PARTNER - 1),
            });
        }
        self.partner.resize(ops.len(), NO_PARTNER);
        let partner = &mut self.partner;
        for (i, op) in ops.iter().enumerate().skip(from) {
            let p = match op.process {
                crate::history::Process::Client(p) => p,
                crate::history::Process::Nemesis => {
                    // Jepsen logs nemesis ops as invoke/info pairs; Sunder logs lone infos.
                    match (op.kind, self.nemesis_open) {
                        (OpType::Invoke, _) => self.nemesis_open = Some(i),
                        (_, Some(j)) if ops[j].f == op.f => {
                            partner[i] = j as u32;
                            partner[j] = i as u32;
                            self.nemesis_open = None;
                        }
                        _ => {}
                    }
                    continue;
                }
            };
            if self.strictness == Strictness::Strict
                && let Some(&at) = self.retired.get(&p)
            {
                return Err(Violation {
                    position: i,
                    problem: format!(
                        "process {p} issued an op after its info at op {}; a process whose op is indeterminate must not be reused",
                        ops[at].index
                    ),
                });
            }
            match op.kind {
                OpType::Invoke => {
                    if let Some(&j) = self.open.get(&p) {
                        return Err(Violation {
                            position: i,
                            problem: format!(
                                "process {p} invoked {} while its invocation at op {} is still open",
                                op.f, ops[j].index
                            ),
                        });
                    }
                    self.open.insert(p, i);
                }
                kind => {
                    let Some(j) = self.open.remove(&p) else {
                        return Err(Violation {
                            position: i,
                            problem: format!("{kind} of {} by process {p} without an invocation", op.f),
                        });
                    };
                    if ops[j].f != op.f {
                        return Err(Violation {
                            position: i,
                            problem: format!(
                                "process {p} completed {} but invoked {} at op {}",
                                op.f, ops[j].f, ops[j].index
                            ),
                        });
                    }
                    partner[i] = j as u32;
                    partner[j] = i as u32;
                    if kind == OpType::Info {
                        self.retired.insert(p, i);
                    }
                }
            }
        }
        Ok(())
    }

    /// The history of `ops`, every one of which was paired without error.
    pub(crate) fn into_history(self, ops: Vec<Op>) -> History {
        assert_eq!(self.partner.len(), ops.len(), "every op is paired before the history is made");
        History { ops, partner: self.partner, numbering: OpNumbering::Index }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn op(p: u64, kind: OpType, f: &str) -> Op {
        Op::client(0, 0, p, kind, f, json!(null))
    }

    #[test]
    fn pairs_completions_with_their_invocations() {
        let h = History::new(
            vec![
                op(1, OpType::Invoke, "write"),
                op(2, OpType::Invoke, "read"),
                op(2, OpType::Ok, "read"),
                op(1, OpType::Info, "write"),
            ],
            Strictness::Strict,
        )
        .unwrap();
        assert_eq!(h.partner(0), Some(3));
        assert_eq!(h.partner(2), Some(1));
        assert_eq!(h.client_calls().collect::<Vec<_>>(), vec![(0, Some(3)), (1, Some(2))]);
    }

    #[test]
    fn rejects_completion_without_invocation() {
        let e = History::new(vec![op(1, OpType::Ok, "read")], Strictness::Strict).unwrap_err();
        assert_eq!(e.position, 0);
        assert!(e.problem.contains("without an invocation"), "{}", e.problem);
    }

    #[test]
    fn rejects_two_open_invocations_on_one_process() {
        let e = History::new(
            vec![op(1, OpType::Invoke, "read"), op(1, OpType::Invoke, "write")],
            Strictness::Strict,
        )
        .unwrap_err();
        assert_eq!(e.position, 1);
        assert!(e.problem.contains("still open"), "{}", e.problem);
    }

    #[test]
    fn rejects_reuse_of_a_process_after_info_only_when_strict() {
        let ops =
            vec![op(1, OpType::Invoke, "write"), op(1, OpType::Info, "write"), op(1, OpType::Invoke, "read")];
        let e = History::new(ops.clone(), Strictness::Strict).unwrap_err();
        assert_eq!(e.position, 2);
        assert!(e.problem.contains("after its info"), "{}", e.problem);
        assert!(History::new(ops, Strictness::Lenient).is_ok());
    }
}
