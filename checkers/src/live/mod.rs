//! Judging a history while it is written. The runner hands every batch of ops to a
//! [`LiveJudge`] as the history writer appends it to `history.jsonl`; when the run ends, the
//! verdict is ready but for the last op timeout's worth of ops, instead of starting from
//! the whole history.
//!
//! The judge holds no copy of the history. It pairs ops into calls ([`calls`]), counts them
//! for the stats checker, keeps each key's linearizability as a set of configurations
//! ([`configurations`]), and gathers what the ladder's convergence check needs
//! ([`register_facts`], with [`written_values`] for the uniqueness of writes). It handles
//! the plans whose checkers can consume ops in order: linearizability of a register-like
//! model (`register`, `cas-register`, `kv`) with the ladder below it ([`RegisterJudge`]),
//! and the bank, counter and set-full invariants ([`bank`], [`counter`], [`set_full`]).
//!
//! It only vouches for what it can decide exactly as [`crate::plan::judge`] would: a
//! linearizable history, whose ladder is then implied, with convergence holding. Anything
//! else (a key that is not linearizable, a divergence, a history that breaks the pairing
//! rules, too many calls open at once) ends in [`Outcome::Offline`], and the caller judges
//! the stored history offline, which finds the witness and explains it. So the streaming
//! verdict, when there is one, is the offline verdict: the linearizability checker's
//! `details` say how it was decided (`"decided_by": "streaming"`), and everything else in
//! `results.json` is the same.
//!
//! A register history that goes offline still has most of its causal-memory check done
//! here: from the op where linearizability fails (catching up on the ops kept until then),
//! the judge grows each process's causal-memory view ([`memory_views`]) and decides it when
//! the process retires, and [`LiveJudge::finish_knowing`] hands the views decided clean to
//! the offline check ([`crate::plan::Prejudged`]), which grows only the others.

pub mod bank;
pub mod calls;
pub mod configurations;
pub mod counter;
pub mod frame;
pub mod memory_views;
pub mod register_facts;
pub mod set_full;
pub mod written_values;

use crate::history::{Name, Op, OpType};
use crate::import::FailSemantics;
use crate::ladder;
use crate::linearizable::ModelKind;
use crate::linearizable::model::{Call, Compiled, Model, Outcome as CallOutcome};
use crate::linearizable::models::RegisterModel;
use crate::plan::{Check, Plan, Prejudged};
use crate::verdict::{CheckerResult, Results, Validity};
use calls::{Calls, Event, Settled};
use configurations::{Partition, Refusal, Slot};
use frame::Frame;
use memory_views::GrowingViews;
use register_facts::{LadderPart, RegisterFacts};
use rustc_hash::FxHashMap;
use serde_json::json;
use std::collections::BTreeMap;

/// How a streaming judgement ended.
#[derive(Debug)]
pub enum Outcome {
    /// The verdict, the same as the offline check's.
    Decided(Box<Results>),
    /// Only the offline check can give the verdict, for this reason.
    Offline(String),
}

type RegisterOp = <RegisterModel as Model>::Op;

/// A call whose outcome became known, between its completion and its invocation's
/// release.
struct Known {
    /// Position of the invocation.
    at: usize,
    /// The function of a call never completed (the stats count it as `info`).
    open_f: Option<Name>,
    /// The compiled call, `None` when the model skips it.
    compiled: Option<CompiledCall>,
}

/// A call as its partition takes it.
struct CompiledCall {
    key: Option<Name>,
    op: RegisterOp,
    crashed: bool,
}

/// A compiled call waiting for its invocation's release.
struct Waiting {
    partition: usize,
    op: RegisterOp,
    crashed: bool,
}

/// The judge of one history being written: of a register plan, or of the bank or counter
/// invariant.
pub enum LiveJudge {
    /// Linearizability of a register-like model, with the ladder below it.
    Register(Box<RegisterJudge>),
    /// The bank invariant.
    Bank(Box<bank::BankJudge>),
    /// The counter invariant.
    Counter(Box<counter::CounterJudge>),
    /// The set-full invariant.
    SetFull(Box<set_full::SetFullJudge>),
}

impl LiveJudge {
    /// A judge for `plan`, or `None` when some checker of the plan cannot consume ops in
    /// order (the history is then judged offline).
    pub fn new(plan: &Plan, fail_semantics: FailSemantics) -> Option<LiveJudge> {
        match &plan.checks[..] {
            [Check::Bank(settings)] => Some(LiveJudge::Bank(Box::new(bank::BankJudge::new(settings)))),
            [Check::Counter(settings)] => {
                Some(LiveJudge::Counter(Box::new(counter::CounterJudge::new(settings))))
            }
            [Check::SetFull(settings)] => {
                Some(LiveJudge::SetFull(Box::new(set_full::SetFullJudge::new(settings))))
            }
            _ => RegisterJudge::new(plan, fail_semantics).map(|j| LiveJudge::Register(Box::new(j))),
        }
    }

    /// The same judge, a register judge growing causal memory's views once
    /// linearizability fails ([`memory_views`]), for a caller that will tell the offline
    /// check what they decided ([`LiveJudge::finish_knowing`]). A caller that stops
    /// feeding where the judge gives up has no use for them.
    pub fn with_memory_views(self) -> LiveJudge {
        match self {
            LiveJudge::Register(mut j) => {
                j.prefix = Some(Vec::new());
                LiveJudge::Register(j)
            }
            other => other,
        }
    }

    /// The same judge, a register judge forgetting values no longer in play whenever more
    /// than `floor` are interned (tests make it small, to compact often).
    pub fn compacting_past(self, floor: usize) -> LiveJudge {
        match self {
            LiveJudge::Register(j) => LiveJudge::Register(Box::new(j.compacting_past(floor))),
            other => other,
        }
    }

    /// Takes the next ops of the history, in order.
    pub fn feed(&mut self, ops: &[Op]) {
        match self {
            LiveJudge::Register(j) => j.feed(ops),
            LiveJudge::Bank(j) => j.feed(ops),
            LiveJudge::Counter(j) => j.feed(ops),
            LiveJudge::SetFull(j) => j.feed(ops),
        }
    }

    /// The verdict, once every op is in.
    pub fn finish(self) -> Outcome {
        self.finish_knowing().0
    }

    /// The verdict, once every op is in, with what was decided while the history was
    /// written that an offline check can be told ([`crate::plan::judge_knowing`]).
    pub fn finish_knowing(self) -> (Outcome, Prejudged) {
        match self {
            LiveJudge::Register(j) => j.finish_knowing(),
            LiveJudge::Bank(j) => (j.finish(), Prejudged::default()),
            LiveJudge::Counter(j) => (j.finish(), Prejudged::default()),
            LiveJudge::SetFull(j) => (j.finish(), Prejudged::default()),
        }
    }

    /// Why the judge gave up, if it has (the run can say so while it goes on).
    pub fn given_up(&self) -> Option<&str> {
        match self {
            LiveJudge::Register(j) => j.given_up(),
            LiveJudge::Bank(j) => j.given_up(),
            LiveJudge::Counter(j) => j.given_up(),
            LiveJudge::SetFull(j) => j.given_up(),
        }
    }
}

/// The streaming judge of a register plan.
pub struct RegisterJudge {
    model_name: String,
    model: RegisterModel,
    fail_semantics: FailSemantics,
    calls: Calls,
    waiting: FxHashMap<usize, Waiting>,
    /// Open calls by invocation position: partition and slot.
    slots: FxHashMap<usize, (usize, Slot)>,
    partitions: Vec<Partition<RegisterModel>>,
    partition_of: FxHashMap<Option<Name>, usize>,
    ops_compiled: usize,
    /// The stats' counts, the nemesis's ops, and why the verdict was given up, if it was.
    frame: Frame,
    facts: RegisterFacts,
    positions: usize,
    /// Interned values past which the model forgets those no longer in play.
    compact_at: usize,
    compact_floor: usize,
    /// Causal memory's views, grown once linearizability fails (the ladder is then judged
    /// offline, and these spare it most of causal memory).
    views: Option<GrowingViews>,
    /// The ops so far, kept while linearizability holds so that the views can start from
    /// the first op when it fails; dropped past [`VIEWS_CATCH_UP`] ops. `None` from the
    /// start unless [`LiveJudge::with_memory_views`] asked for the views.
    prefix: Option<Vec<Op>>,
}

/// Ops kept for causal memory's views to catch up on when linearizability fails: a faulty
/// run fails within its first few thousand ops, and a run still linearizable past this many
/// is left to the offline check whole rather than copied.
pub const VIEWS_CATCH_UP: usize = 1 << 17;

/// Values the model interns before it first forgets those no longer in play.
const COMPACT_FLOOR: usize = 1 << 16;

impl RegisterJudge {
    /// A judge for a register plan, or `None` when `plan` is not one.
    pub fn new(plan: &Plan, fail_semantics: FailSemantics) -> Option<RegisterJudge> {
        let [Check::Linearizable(kind)] = &plan.checks[..] else { return None };
        let model = match kind {
            ModelKind::Kv => RegisterModel::new(None, true),
            ModelKind::Register { initial } => RegisterModel::new(initial.as_ref(), false),
            ModelKind::CasRegister { initial } => RegisterModel::new(initial.as_ref(), true),
            _ => return None,
        };
        Some(RegisterJudge {
            model_name: kind.to_string(),
            model,
            fail_semantics,
            calls: Calls::default(),
            waiting: FxHashMap::default(),
            slots: FxHashMap::default(),
            partitions: Vec::new(),
            partition_of: FxHashMap::default(),
            ops_compiled: 0,
            frame: Frame::default(),
            facts: RegisterFacts::default(),
            positions: 0,
            compact_at: COMPACT_FLOOR,
            compact_floor: COMPACT_FLOOR,
            views: None,
            prefix: None,
        })
    }

    /// The same judge, forgetting values no longer in play whenever more than `floor` are
    /// interned (tests make it small, to compact often).
    pub fn compacting_past(mut self, floor: usize) -> RegisterJudge {
        self.compact_floor = floor;
        self.compact_at = floor;
        self
    }

    /// Takes the next ops of the history, in order.
    pub fn feed(&mut self, ops: &[Op]) {
        for (i, op) in ops.iter().enumerate() {
            // Once given up, the offline check judges: only causal memory's views go on.
            if !self.frame.note(op) {
                self.feed_views(&ops[i..]);
                return;
            }
            if let Some(prefix) = &mut self.prefix {
                if prefix.len() < VIEWS_CATCH_UP {
                    prefix.push(op.clone());
                } else {
                    self.prefix = None;
                }
            }
            let at = self.positions;
            self.positions += 1;
            if op.is_nemesis() {
                self.facts.nemesis(at, op);
            }
            let mut settled = None;
            let pushed = self.calls.push(op, |s| {
                settled = Some(Self::settle(&mut self.model, self.fail_semantics, &mut self.facts, s))
            });
            if let Err(e) = pushed {
                self.give_up(format!("op {}: {e}", op.index));
                continue;
            }
            if let Some(known) = settled {
                self.note_known(known);
            }
            self.release();
            if self.model.interned() > self.compact_at {
                self.compact();
            }
        }
    }

    /// Feeds causal memory's views, starting them (from the ops kept so far) the first
    /// time; without the ops from the first one, there are none.
    fn feed_views(&mut self, ops: &[Op]) {
        if self.views.is_none()
            && let Some(prefix) = self.prefix.take()
        {
            self.views = Some(GrowingViews::start(prefix));
        }
        if let Some(views) = &mut self.views {
            views.feed(ops);
        }
    }

    /// Forgets the values no open call, waiting call or configuration names, so memory
    /// follows what is in play rather than the history's length.
    fn compact(&mut self) {
        let (mut ops, mut states) = (Vec::new(), Vec::new());
        for p in &mut self.partitions {
            let (o, s) = p.values_mut();
            ops.extend(o);
            states.extend(s);
        }
        ops.extend(self.waiting.values_mut().map(|w| &mut w.op));
        self.model.retain(ops, states);
        self.facts.forget_ended(self.model.values());
        self.compact_at = (2 * self.model.interned()).max(self.compact_floor);
    }

    /// Ends the history: settles the calls left open as crashed and gives the verdict.
    pub fn finish(self) -> Outcome {
        self.finish_knowing().0
    }

    /// [`RegisterJudge::finish`], with the causal-memory views decided clean while the
    /// history was written, when it goes offline.
    pub fn finish_knowing(mut self) -> (Outcome, Prejudged) {
        if self.frame.given_up().is_some() {
            self.feed_views(&[]);
        }
        let clean_views = self.views.take().and_then(GrowingViews::finish);
        let prejudged = Prejudged { clean_views };
        (self.finish_streamed(), prejudged)
    }

    fn finish_streamed(mut self) -> Outcome {
        let mut settled = Vec::new();
        if self.frame.given_up().is_none() {
            let (model, sem, facts) = (&mut self.model, self.fail_semantics, &mut self.facts);
            self.calls.close(|s| settled.push(Self::settle(model, sem, facts, s)));
        }
        for known in settled {
            self.note_known(known);
        }
        self.release();
        if let Some(why) = self.frame.take_given_up() {
            return Outcome::Offline(why);
        }
        self.verdict()
    }

    /// Why the judge gave up, if it has (the run can say so while it goes on).
    pub fn given_up(&self) -> Option<&str> {
        self.frame.given_up()
    }

    fn give_up(&mut self, why: String) {
        if self.frame.given_up().is_none() {
            self.frame.give_up(why);
            // Nothing more is needed of the calls and configurations.
            self.partitions.clear();
            self.waiting.clear();
            self.slots.clear();
            self.calls = Calls::default();
        }
    }

    /// Compiles a call whose outcome is now known; `Err` when the model cannot take it.
    fn settle(
        model: &mut RegisterModel,
        fail_semantics: FailSemantics,
        facts: &mut RegisterFacts,
        s: Settled<'_>,
    ) -> Result<Known, String> {
        facts.call(s.at, s.invoke, s.completion);
        let open_f = s.completion.is_none().then(|| s.invoke.f.clone());
        let skipped = Known { at: s.at, open_f: open_f.clone(), compiled: None };
        let outcome = match s.completion {
            Some(c) if c.kind == OpType::Ok => CallOutcome::Ok(&c.value),
            Some(c) if c.kind == OpType::Fail => match fail_semantics {
                FailSemantics::NotApplied => return Ok(skipped),
                FailSemantics::CasMismatch => CallOutcome::Fail,
            },
            _ => CallOutcome::Unknown,
        };
        let crashed = matches!(outcome, CallOutcome::Unknown);
        let call = Call { invoke: s.invoke, completion: s.completion, outcome };
        Ok(match model.compile(&call).map_err(|p| format!("op {}: {p}", s.invoke.index))? {
            Compiled::Skip => skipped,
            Compiled::Op { key, op } => {
                Known { at: s.at, open_f, compiled: Some(CompiledCall { key, op, crashed }) }
            }
        })
    }

    fn note_known(&mut self, known: Result<Known, String>) {
        let known = match known {
            Ok(k) => k,
            Err(e) => return self.give_up(e),
        };
        if let Some(f) = known.open_f {
            self.frame.stats.count_never_completed(&f);
        }
        let Some(c) = known.compiled else { return };
        self.ops_compiled += 1;
        let next = self.partitions.len();
        let partition = *self.partition_of.entry(c.key).or_insert(next);
        if partition == next {
            self.partitions.push(Partition::new(&self.model));
        }
        self.waiting.insert(known.at, Waiting { partition, op: c.op, crashed: c.crashed });
    }

    /// Applies every released event to its partition.
    fn release(&mut self) {
        while self.frame.given_up().is_none() {
            let Some(event) = self.calls.next_event() else { break };
            let refusal = match event {
                Event::Invoke(at) => match self.waiting.remove(&at) {
                    Some(w) => match self.partitions[w.partition].invoke(&self.model, w.op, w.crashed) {
                        Ok(slot) => {
                            if !w.crashed {
                                self.slots.insert(at, (w.partition, slot));
                            }
                            None
                        }
                        Err(r) => Some((w.partition, r, None)),
                    },
                    None => None,
                },
                Event::Return(at, index) => self.slots.remove(&at).and_then(|(partition, slot)| {
                    self.partitions[partition]
                        .complete(&self.model, slot)
                        .err()
                        .map(|r| (partition, r, Some(index)))
                }),
            };
            if let Some((partition, refusal, index)) = refusal {
                let key = self
                    .partition_of
                    .iter()
                    .find(|(_, p)| **p == partition)
                    .and_then(|(k, _)| k.as_deref())
                    .unwrap_or("")
                    .to_string();
                let why = match refusal {
                    Refusal::NotLinearizable => {
                        let at = index
                            .map(|i| format!(": the call that returned at op {i} cannot take effect"))
                            .unwrap_or_default();
                        format!("key {key:?} is not linearizable{at}")
                    }
                    Refusal::TooManyOpen => format!("key {key:?} has too many calls open at once"),
                    Refusal::TooManyConfigurations => format!("key {key:?} has too many configurations"),
                };
                self.give_up(why);
            }
        }
    }

    fn verdict(self) -> Outcome {
        let ladder_part = self.facts.ladder_part();
        if let LadderPart::Offline(why) = ladder_part {
            return Outcome::Offline(why);
        }
        let mut checkers = BTreeMap::new();
        let peak = self.partitions.iter().map(|p| p.peak).max().unwrap_or(0);
        let lin = CheckerResult::valid().with_details(json!({
            "decided_by": "streaming",
            "model": self.model_name,
            "partitions": self.partitions.len(),
            "decided": self.partitions.len(),
            "ops": self.ops_compiled,
            "peak_configurations": peak,
        }));
        checkers.insert("linearizable".to_string(), lin);
        let mut models = vec![("linearizable".to_string(), Validity::Valid)];
        let mut extra_models = vec![];
        if let LadderPart::Convergence(convergence) = ladder_part {
            for model in &ladder::MODELS[..ladder::MODELS.len() - 1] {
                let mut r = CheckerResult::valid().with_details(json!({ "implied_by": "linearizable" }));
                r.reason = Some(ladder::IMPLIED_BY_LINEARIZABILITY.to_string());
                models.push((model.to_string(), Validity::Valid));
                checkers.insert(model.to_string(), r);
            }
            if !convergence.not_applicable {
                extra_models.push(("convergence".to_string(), convergence.valid));
            }
            checkers.insert("convergence".to_string(), convergence);
        }
        let mut results = self.frame.compose(checkers, models);
        results.models.extend(extra_models);
        Outcome::Decided(Box::new(results))
    }
}
