//! The pure Raft state machine: Figure 2 and sections 5 and 8 of the paper, plus the
//! PreVote round of the thesis (section 9.6), with no I/O and no clock. Time passes only
//! through [`RaftCore::tick`], messages arrive only through [`RaftCore::step`], and
//! everything the core wants done comes back out of
//! [`RaftCore::ready`]: state to make durable, messages to send once it is durable,
//! committed entries to apply, and confirmed read indices. The node program drives it
//! with real files, HTTP and a timer; the deterministic tests drive it with an in-memory
//! network and a seeded RNG, so both exercise the very same code.

use crate::kv::Command;
use crate::raft::message::{Body, Entry, HardState, Message, NodeId, Payload};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};

/// Tunables of one core.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// This node.
    pub id: NodeId,
    /// Every other member of the cluster.
    pub peers: Vec<NodeId>,
    /// Minimum election timeout in ticks; each timeout is drawn from `[e, 2e)`.
    pub election_ticks: u32,
    /// Ticks between a leader's heartbeats.
    pub heartbeat_ticks: u32,
    /// Most entries carried by one AppendEntries.
    pub max_append_entries: usize,
    /// A leader that has not heard from a majority for an election timeout steps down,
    /// and a node that heard from a live leader within the minimum election timeout
    /// ignores vote requests (what makes leader leases sound).
    pub check_quorum: bool,
    /// A new leader appends a no-op so it commits an entry of its own term at once.
    pub noop_on_election: bool,
    /// An election timeout starts a PreVote round (thesis section 9.6) instead of an
    /// election: the term is raised only once a majority would vote, so a node cut off
    /// from the cluster cannot inflate its term and depose a healthy leader on return.
    pub pre_vote: bool,
    /// The Figure 8 bug: count replicas for entries of older terms too.
    pub unsafe_commit_old_term: bool,
    /// Seed of the election-timeout RNG.
    pub seed: u64,
}

impl CoreConfig {
    /// A configuration with the defaults the node program uses (10 ms ticks).
    pub fn new(id: impl Into<NodeId>, peers: Vec<NodeId>, seed: u64) -> CoreConfig {
        CoreConfig {
            id: id.into(),
            peers,
            election_ticks: 30,
            heartbeat_ticks: 5,
            max_append_entries: 512,
            check_quorum: true,
            noop_on_election: true,
            pre_vote: true,
            unsafe_commit_old_term: false,
            seed,
        }
    }
}

/// A node's role in its current term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Accepts entries from a leader.
    Follower,
    /// Asking for votes.
    Candidate,
    /// Accepts client commands and replicates them.
    Leader,
}

impl Role {
    /// The lowercase name `/status` reports.
    pub fn name(self) -> &'static str {
        match self {
            Role::Follower => "follower",
            Role::Candidate => "candidate",
            Role::Leader => "leader",
        }
    }
}

/// Refusal of a request that only a leader may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotLeader {
    /// The leader this node knows of, if any.
    pub leader: Option<NodeId>,
}

/// A read whose index the leader has confirmed it may serve at: once the state machine
/// has applied `index`, reading it is linearizable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadState {
    /// The caller's tag of the read.
    pub ctx: u64,
    /// The commit index to wait for.
    pub index: u64,
}

/// Everything the core asks its driver to do, in this order: make `hard_state` and the
/// log change durable, then send `messages`, then apply `committed`, then serve `reads`.
#[derive(Debug, Default)]
pub struct Ready {
    /// New term/vote to persist.
    pub hard_state: Option<HardState>,
    /// When set, the durable log from this index on must be replaced by `entries`.
    pub log_from: Option<u64>,
    /// Entries to write at `log_from`, `log_from + 1`, ...
    pub entries: Vec<Entry>,
    /// Messages to send after the above is durable.
    pub messages: Vec<Message>,
    /// Newly committed entries, in order, to apply.
    pub committed: Vec<Entry>,
    /// Reads confirmed by a majority.
    pub reads: Vec<ReadState>,
    /// Reads that can no longer be confirmed (leadership lost).
    pub failed_reads: Vec<u64>,
}

impl Ready {
    /// True when there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.hard_state.is_none()
            && self.log_from.is_none()
            && self.messages.is_empty()
            && self.committed.is_empty()
            && self.reads.is_empty()
            && self.failed_reads.is_empty()
    }
}

/// What `/status` and the tests see of a core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreStatus {
    /// Role.
    pub role: Role,
    /// Current term.
    pub term: u64,
    /// Known leader.
    pub leader: Option<NodeId>,
    /// Commit index.
    pub commit_index: u64,
    /// Index of the last log entry.
    pub last_log_index: u64,
}

#[derive(Debug, Clone)]
struct Progress {
    next: u64,
    matched: u64,
    acked_round: u64,
    active: bool,
}

#[derive(Debug, Clone)]
struct PendingRead {
    ctx: u64,
    round: u64,
}

/// One Raft node's consensus state.
#[derive(Debug)]
pub struct RaftCore {
    cfg: CoreConfig,
    rng: ChaCha8Rng,
    term: u64,
    vote: Option<NodeId>,
    log: Vec<Entry>,
    commit: u64,
    applied: u64,
    role: Role,
    leader: Option<NodeId>,
    election_elapsed: u32,
    election_timeout: u32,
    heartbeat_elapsed: u32,
    votes: BTreeSet<NodeId>,
    /// PreVote grants (itself included) while a PreVote round for `term + 1` is open.
    pre_votes: Option<BTreeSet<NodeId>>,
    progress: BTreeMap<NodeId, Progress>,
    round: u64,
    pending_reads: Vec<PendingRead>,
    broadcast_wanted: bool,
    new_round_wanted: bool,
    /// Set at start until the first election timeout: a node that just restarted may
    /// have acknowledged a leader's lease before it crashed, so it must not vote yet.
    boot_guard: bool,
    hard_state_dirty: bool,
    unstable_from: Option<u64>,
    out: Ready,
}

impl RaftCore {
    /// A core restored from what was durable: its hard state and log (indices 1..=n).
    pub fn new(cfg: CoreConfig, hard: HardState, log: Vec<Entry>) -> RaftCore {
        debug_assert!(log.iter().enumerate().all(|(i, e)| e.index == i as u64 + 1));
        let rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let mut core = RaftCore {
            cfg,
            rng,
            term: hard.term,
            vote: hard.vote,
            log,
            commit: 0,
            applied: 0,
            role: Role::Follower,
            leader: None,
            election_elapsed: 0,
            election_timeout: 0,
            heartbeat_elapsed: 0,
            votes: BTreeSet::new(),
            pre_votes: None,
            progress: BTreeMap::new(),
            round: 0,
            pending_reads: Vec::new(),
            broadcast_wanted: false,
            new_round_wanted: false,
            boot_guard: true,
            hard_state_dirty: false,
            unstable_from: None,
            out: Ready::default(),
        };
        core.reset_election_timer();
        core
    }

    /// This node's id.
    pub fn id(&self) -> &str {
        &self.cfg.id
    }

    /// Role, term, leader, commit index and last log index.
    pub fn status(&self) -> CoreStatus {
        CoreStatus {
            role: self.role,
            term: self.term,
            leader: self.leader.clone(),
            commit_index: self.commit,
            last_log_index: self.last_index(),
        }
    }

    /// The in-memory log (entries 1..=last).
    pub fn log(&self) -> &[Entry] {
        &self.log
    }

    fn quorum(&self) -> usize {
        let members = self.cfg.peers.len() + 1;
        members / 2 + 1
    }

    fn last_index(&self) -> u64 {
        self.log.len() as u64
    }

    fn last_term(&self) -> u64 {
        self.log.last().map_or(0, |e| e.term)
    }

    fn term_at(&self, index: u64) -> Option<u64> {
        if index == 0 { Some(0) } else { self.log.get(index as usize - 1).map(|e| e.term) }
    }

    fn reset_election_timer(&mut self) {
        self.election_elapsed = 0;
        let e = self.cfg.election_ticks.max(1);
        self.election_timeout = self.rng.random_range(e..2 * e);
    }

    fn send(&mut self, to: NodeId, body: Body) {
        let msg = Message { from: self.cfg.id.clone(), to, term: self.term, body };
        self.out.messages.push(msg);
    }

    fn set_term(&mut self, term: u64) {
        if term != self.term {
            self.term = term;
            self.vote = None;
            self.hard_state_dirty = true;
        }
    }

    fn mark_unstable(&mut self, index: u64) {
        self.unstable_from = Some(self.unstable_from.map_or(index, |u| u.min(index)));
    }

    fn append_local(&mut self, term: u64, payload: Payload) -> u64 {
        let index = self.last_index() + 1;
        self.log.push(Entry { index, term, payload });
        self.mark_unstable(index);
        index
    }

    /// Advances time by one tick: followers and candidates may start an election,
    /// leaders send heartbeats and check that a majority still answers.
    pub fn tick(&mut self) {
        self.election_elapsed += 1;
        match self.role {
            Role::Leader => {
                self.heartbeat_elapsed += 1;
                if self.heartbeat_elapsed >= self.cfg.heartbeat_ticks {
                    self.heartbeat_elapsed = 0;
                    self.new_round_wanted = true;
                }
                if self.election_elapsed >= self.cfg.election_ticks {
                    self.election_elapsed = 0;
                    if self.cfg.check_quorum {
                        let active = 1 + self.progress.values().filter(|p| p.active).count();
                        if active < self.quorum() {
                            let term = self.term;
                            self.become_follower(term, None);
                            return;
                        }
                        for p in self.progress.values_mut() {
                            p.active = false;
                        }
                    }
                }
            }
            Role::Follower | Role::Candidate => {
                if self.election_elapsed >= self.election_timeout {
                    if self.cfg.pre_vote {
                        self.pre_campaign();
                    } else {
                        self.campaign();
                    }
                }
            }
        }
    }

    /// Opens a PreVote round for `term + 1` (thesis section 9.6) without touching the
    /// durable term or vote; [`RaftCore::campaign`] follows once a majority grants.
    fn pre_campaign(&mut self) {
        self.boot_guard = false;
        self.role = Role::Follower;
        self.leader = None;
        self.votes.clear();
        self.reset_election_timer();
        self.pre_votes = Some(BTreeSet::from([self.cfg.id.clone()]));
        if 1 >= self.quorum() {
            self.campaign();
            return;
        }
        let (last_log_index, last_log_term) = (self.last_index(), self.last_term());
        for peer in self.cfg.peers.clone() {
            let body = Body::PreVoteRequest { last_log_index, last_log_term };
            let msg = Message { from: self.cfg.id.clone(), to: peer, term: self.term + 1, body };
            self.out.messages.push(msg);
        }
    }

    /// Starts an election now (section 5.2), skipping PreVote: the tests use it to force
    /// an election at a chosen moment.
    pub fn campaign(&mut self) {
        self.boot_guard = false;
        self.pre_votes = None;
        let term = self.term + 1;
        self.set_term(term);
        self.vote = Some(self.cfg.id.clone());
        self.hard_state_dirty = true;
        self.role = Role::Candidate;
        self.leader = None;
        self.votes = BTreeSet::from([self.cfg.id.clone()]);
        self.reset_election_timer();
        self.fail_pending_reads();
        if self.votes.len() >= self.quorum() {
            self.become_leader();
            return;
        }
        let (last_log_index, last_log_term) = (self.last_index(), self.last_term());
        for peer in self.cfg.peers.clone() {
            self.send(peer, Body::VoteRequest { last_log_index, last_log_term });
        }
    }

    fn become_follower(&mut self, term: u64, leader: Option<NodeId>) {
        self.set_term(term);
        self.role = Role::Follower;
        self.leader = leader;
        self.votes.clear();
        self.pre_votes = None;
        self.progress.clear();
        self.reset_election_timer();
        self.fail_pending_reads();
    }

    fn become_leader(&mut self) {
        self.role = Role::Leader;
        self.leader = Some(self.cfg.id.clone());
        self.election_elapsed = 0;
        self.heartbeat_elapsed = 0;
        let next = self.last_index() + 1;
        self.progress = self
            .cfg
            .peers
            .iter()
            .map(|p| (p.clone(), Progress { next, matched: 0, acked_round: 0, active: true }))
            .collect();
        if self.cfg.noop_on_election {
            self.append_local(self.term, Payload::Noop);
        }
        self.new_round_wanted = true;
        self.maybe_commit();
    }

    fn fail_pending_reads(&mut self) {
        let failed = self.pending_reads.drain(..).map(|r| r.ctx);
        self.out.failed_reads.extend(failed);
    }

    /// Appends a client command; only a leader may. Returns the entry's (index, term):
    /// the command took effect exactly when that entry is applied with that term.
    pub fn propose(&mut self, command: Command) -> Result<(u64, u64), NotLeader> {
        if self.role != Role::Leader {
            return Err(NotLeader { leader: self.leader.clone() });
        }
        let index = self.append_local(self.term, Payload::Command { command });
        self.broadcast_wanted = true;
        self.maybe_commit();
        Ok((index, self.term))
    }

    /// Asks for a linearizable read index (section 8): the leader confirms with a
    /// heartbeat round that it is still leader, then reports a [`ReadState`] with `ctx`.
    pub fn read_index(&mut self, ctx: u64) -> Result<(), NotLeader> {
        if self.role != Role::Leader {
            return Err(NotLeader { leader: self.leader.clone() });
        }
        self.pending_reads.push(PendingRead { ctx, round: self.round + 1 });
        self.new_round_wanted = true;
        Ok(())
    }

    /// The latest heartbeat round that a majority (this leader included) has answered in
    /// the current term; `None` when not leader. The driver turns it into a lease.
    pub fn quorum_round(&self) -> Option<u64> {
        if self.role != Role::Leader {
            return None;
        }
        let mut rounds: Vec<u64> = self.progress.values().map(|p| p.acked_round).collect();
        rounds.push(self.round);
        rounds.sort_unstable_by(|a, b| b.cmp(a));
        Some(rounds[self.quorum() - 1])
    }

    /// The current heartbeat round.
    pub fn round(&self) -> u64 {
        self.round
    }

    /// True when this leader has committed an entry of its own term, so its commit
    /// index covers everything committed before it was elected.
    pub fn committed_in_term(&self) -> bool {
        self.role == Role::Leader && self.term_at(self.commit) == Some(self.term)
    }

    /// Handles one message from a peer.
    pub fn step(&mut self, msg: Message) {
        if msg.to != self.cfg.id {
            return;
        }
        if msg.term > self.term {
            // PreVote requests and grants speak of a term nobody has entered yet, so they
            // leave this node's term alone; a refusal carries the refuser's real term and
            // is stepped down for like any other message (otherwise a pre-candidate with a
            // stale term could be refused forever by nodes of a higher term).
            let pre_vote =
                matches!(msg.body, Body::PreVoteRequest { .. } | Body::PreVoteReply { granted: true });
            if pre_vote {
                match msg.body {
                    Body::PreVoteRequest { last_log_index, last_log_term } => {
                        self.on_pre_vote_request(msg.from, msg.term, last_log_index, last_log_term)
                    }
                    _ => self.on_pre_vote_grant(msg.from, msg.term),
                }
                return;
            }
            if matches!(msg.body, Body::VoteRequest { .. }) && self.cfg.check_quorum && self.leader_is_live()
            {
                // A live leader is known: a disruptive candidate must not depose it, and
                // leases rely on no vote being granted within the election timeout.
                return;
            }
            let leader = matches!(msg.body, Body::Append { .. }).then(|| msg.from.clone());
            self.become_follower(msg.term, leader);
        } else if msg.term < self.term {
            // Tell a stale leader or candidate about the newer term so it steps down.
            match msg.body {
                Body::Append { round, .. } => self.send(
                    msg.from,
                    Body::AppendReply {
                        success: false,
                        match_index: 0,
                        hint_index: 0,
                        conflict_term: None,
                        round,
                    },
                ),
                Body::VoteRequest { .. } => self.send(msg.from, Body::VoteReply { granted: false }),
                Body::PreVoteRequest { .. } => self.send(msg.from, Body::PreVoteReply { granted: false }),
                _ => {}
            }
            return;
        }
        match msg.body {
            Body::PreVoteRequest { .. } => {
                // Asked about this very term, so the sender's term is behind ours.
                self.send(msg.from, Body::PreVoteReply { granted: false })
            }
            // Grants are handled above (they carry `term + 1`); a refusal in this term
            // only says that this round will not succeed, which the timer handles.
            Body::PreVoteReply { .. } => {}
            Body::VoteRequest { last_log_index, last_log_term } => {
                self.on_vote_request(msg.from, last_log_index, last_log_term)
            }
            Body::VoteReply { granted } => self.on_vote_reply(msg.from, granted),
            Body::Append { prev_index, prev_term, entries, commit, round } => {
                self.on_append(msg.from, prev_index, prev_term, entries, commit, round)
            }
            Body::AppendReply { success, match_index, hint_index, conflict_term, round } => {
                self.on_append_reply(msg.from, success, match_index, hint_index, conflict_term, round)
            }
        }
    }

    /// True while this node has heard from a live leader (or just booted and may have
    /// acknowledged one) within the minimum election timeout: it must then help no one
    /// start an election, which is what keeps a healthy leader and its lease in place.
    fn leader_is_live(&self) -> bool {
        (self.leader.is_some() || self.boot_guard) && self.election_elapsed < self.cfg.election_ticks
    }

    fn on_pre_vote_request(&mut self, from: NodeId, term: u64, last_log_index: u64, last_log_term: u64) {
        // Same up-to-date rule as a real vote (section 5.4.1), but no vote is cast, so
        // neither the vote nor the election timer changes.
        let up_to_date = (last_log_term, last_log_index) >= (self.last_term(), self.last_index());
        let granted = up_to_date && !self.leader_is_live();
        let reply_term = if granted { term } else { self.term };
        let msg = Message {
            from: self.cfg.id.clone(),
            to: from,
            term: reply_term,
            body: Body::PreVoteReply { granted },
        };
        self.out.messages.push(msg);
    }

    fn on_pre_vote_grant(&mut self, from: NodeId, term: u64) {
        if term != self.term + 1 || self.role == Role::Leader {
            return;
        }
        let Some(grants) = self.pre_votes.as_mut() else { return };
        grants.insert(from);
        if grants.len() >= self.quorum() {
            self.campaign();
        }
    }

    fn on_vote_request(&mut self, from: NodeId, last_log_index: u64, last_log_term: u64) {
        let free = self.vote.is_none() || self.vote.as_deref() == Some(from.as_str());
        // Section 5.4.1: vote only for a candidate whose log is at least as up to date.
        let up_to_date = (last_log_term, last_log_index) >= (self.last_term(), self.last_index());
        let granted = free && up_to_date && self.role == Role::Follower;
        if granted {
            self.vote = Some(from.clone());
            self.hard_state_dirty = true;
            self.reset_election_timer();
        }
        self.send(from, Body::VoteReply { granted });
    }

    fn on_vote_reply(&mut self, from: NodeId, granted: bool) {
        if self.role != Role::Candidate || !granted {
            return;
        }
        self.votes.insert(from);
        if self.votes.len() >= self.quorum() {
            self.become_leader();
        }
    }

    fn on_append(
        &mut self,
        from: NodeId,
        prev_index: u64,
        prev_term: u64,
        entries: Vec<Entry>,
        commit: u64,
        round: u64,
    ) {
        if self.role == Role::Leader {
            // Two leaders in one term would break election safety; it cannot happen, so a
            // message claiming it is dropped rather than trusted.
            return;
        }
        if self.role == Role::Candidate || self.leader.as_deref() != Some(from.as_str()) {
            let term = self.term;
            self.become_follower(term, Some(from.clone()));
        }
        self.election_elapsed = 0;
        let reject = |hint_index, conflict_term| Body::AppendReply {
            success: false,
            match_index: 0,
            hint_index,
            conflict_term,
            round,
        };
        if prev_index > self.last_index() {
            let body = reject(self.last_index() + 1, None);
            self.send(from, body);
            return;
        }
        let local = self.term_at(prev_index).expect("prev_index within log");
        if local != prev_term {
            let mut first = prev_index;
            while first > 1 && self.term_at(first - 1) == Some(local) {
                first -= 1;
            }
            let body = reject(first, Some(local));
            self.send(from, body);
            return;
        }
        let match_index = prev_index + entries.len() as u64;
        for entry in entries {
            match self.term_at(entry.index) {
                Some(t) if t == entry.term => continue,
                Some(_) => {
                    if entry.index <= self.commit {
                        // Only a planted bug (unsafe-commit-old-term) gets here: an entry
                        // this node saw committed is being replaced. Keep running so the
                        // divergence shows in the history instead of crashing the node.
                        self.commit = entry.index - 1;
                        self.applied = self.applied.min(self.commit);
                    }
                    self.log.truncate(entry.index as usize - 1);
                    self.mark_unstable(entry.index);
                    self.log.push(entry);
                }
                None => {
                    self.mark_unstable(entry.index);
                    self.log.push(entry);
                }
            }
        }
        let new_commit = commit.min(match_index);
        if new_commit > self.commit {
            self.commit = new_commit;
        }
        let body =
            Body::AppendReply { success: true, match_index, hint_index: 0, conflict_term: None, round };
        self.send(from, body);
    }

    fn on_append_reply(
        &mut self,
        from: NodeId,
        success: bool,
        match_index: u64,
        hint_index: u64,
        conflict_term: Option<u64>,
        round: u64,
    ) {
        if self.role != Role::Leader {
            return;
        }
        let last = self.last_index();
        let Some(p) = self.progress.get_mut(&from) else { return };
        p.active = true;
        p.acked_round = p.acked_round.max(round);
        if success {
            if match_index > p.matched {
                p.matched = match_index;
            }
            p.next = p.next.max(p.matched + 1);
            let behind = p.next <= last;
            self.maybe_commit();
            if behind {
                self.send_append(&from);
            }
        } else {
            if hint_index <= p.matched {
                // A reply to a message older than what this peer has since confirmed.
                self.check_reads();
                return;
            }
            let mut next = hint_index;
            if let Some(term) = conflict_term {
                // Skip the follower's whole conflicting term at once; if this leader has
                // entries of that term, resume after its last one.
                if let Some(e) = self.log.iter().rev().find(|e| e.term == term) {
                    next = e.index + 1;
                }
            }
            p.next = next.clamp(p.matched + 1, last + 1);
            self.send_append(&from);
        }
        self.check_reads();
    }

    fn send_append(&mut self, peer: &str) {
        let Some(p) = self.progress.get(peer) else { return };
        let prev_index = p.next - 1;
        let prev_term = self.term_at(prev_index).expect("next within log");
        let end = (prev_index as usize + self.cfg.max_append_entries).min(self.log.len());
        let entries = self.log[prev_index as usize..end].to_vec();
        let p = self.progress.get_mut(peer).expect("peer progress");
        // Optimistic pipelining: assume delivery; a rejection resets `next`.
        p.next = end as u64 + 1;
        let body = Body::Append { prev_index, prev_term, entries, commit: self.commit, round: self.round };
        self.send(peer.to_string(), body);
    }

    fn maybe_commit(&mut self) {
        if self.role != Role::Leader {
            return;
        }
        let mut matched: Vec<u64> = self.progress.values().map(|p| p.matched).collect();
        matched.push(self.last_index());
        matched.sort_unstable_by(|a, b| b.cmp(a));
        let n = matched[self.quorum() - 1];
        // Section 5.4.2: only entries of the current term are committed by counting.
        if n > self.commit && (self.cfg.unsafe_commit_old_term || self.term_at(n) == Some(self.term)) {
            self.commit = n;
            self.check_reads();
        }
    }

    fn check_reads(&mut self) {
        if self.pending_reads.is_empty() || !self.committed_in_term() {
            return;
        }
        let Some(confirmed) = self.quorum_round() else { return };
        let commit = self.commit;
        let (ready, waiting): (Vec<_>, Vec<_>) =
            self.pending_reads.drain(..).partition(|r| r.round <= confirmed);
        self.pending_reads = waiting;
        self.out.reads.extend(ready.into_iter().map(|r| ReadState { ctx: r.ctx, index: commit }));
    }

    /// Collects what the driver must do now (see [`Ready`] for the order).
    pub fn ready(&mut self) -> Ready {
        if self.role == Role::Leader {
            if self.new_round_wanted {
                self.round += 1;
                for peer in self.cfg.peers.clone() {
                    self.send_append(&peer);
                }
                if self.cfg.peers.is_empty() {
                    self.check_reads();
                }
            } else if self.broadcast_wanted {
                for peer in self.cfg.peers.clone() {
                    let behind = self.progress.get(&peer).is_some_and(|p| p.next <= self.last_index());
                    if behind {
                        self.send_append(&peer);
                    }
                }
            }
        }
        self.new_round_wanted = false;
        self.broadcast_wanted = false;
        let mut ready = std::mem::take(&mut self.out);
        if self.hard_state_dirty {
            self.hard_state_dirty = false;
            ready.hard_state = Some(HardState { term: self.term, vote: self.vote.clone() });
        }
        if let Some(from) = self.unstable_from.take() {
            ready.log_from = Some(from);
            ready.entries = self.log[from as usize - 1..].to_vec();
        }
        if self.commit > self.applied {
            ready.committed = self.log[self.applied as usize..self.commit as usize].to_vec();
            self.applied = self.commit;
        }
        ready
    }
}
