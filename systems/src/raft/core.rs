//! The pure Raft state machine: Figure 2 and sections 5, 7 and 8 of the paper, plus the
//! PreVote round of the thesis (section 9.6), with no I/O and no clock. Section 7's log
//! compaction splits the work: the core decides when a snapshot is due and at which
//! index, the driver serializes its state machine and hands the bytes back, and the core
//! then drops the log before it and streams the snapshot in chunks to any follower whose
//! next entry is gone. Time passes only
//! through [`RaftCore::tick`], messages arrive only through [`RaftCore::step`], and
//! everything the core wants done comes back out of
//! [`RaftCore::ready`]: state to make durable, messages to send once it is durable,
//! committed entries to apply, and confirmed read indices. The node program drives it
//! with real files, HTTP and a timer; the deterministic tests drive it with an in-memory
//! network and a seeded RNG, so both exercise the very same code.

use crate::kv::Command;
use crate::raft::message::{Body, Entry, HardState, Message, NodeId, Payload, Snapshot};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

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
    /// Applied entries past the last snapshot that make a new one due (0: never).
    pub snapshot_every: u64,
    /// Bytes per InstallSnapshot chunk.
    pub snapshot_chunk_bytes: usize,
    /// Planted bug: label a snapshot with the last log index instead of the last applied
    /// one, so entries appended but not yet applied are dropped with the log and never
    /// reach this node's state machine (nor that of a follower installing the snapshot).
    pub unsafe_snapshot_past_commit: bool,
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
            snapshot_every: 0,
            snapshot_chunk_bytes: 64 << 10,
            unsafe_snapshot_past_commit: false,
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
    /// A snapshot received from the leader, to make durable before anything below it: it
    /// replaces the state machine, and the durable log must become exactly
    /// `install_log` (the entries after the snapshot this node kept).
    pub install: Option<Snapshot>,
    /// With `install`, the whole log that follows the snapshot.
    pub install_log: Vec<Entry>,
    /// After applying `committed`, snapshot the state machine as of this index and hand
    /// the bytes to [`RaftCore::snapshot_taken`].
    pub snapshot_due: Option<u64>,
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
            && self.install.is_none()
            && self.snapshot_due.is_none()
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
    /// Last index covered by this node's latest snapshot (0: none).
    pub snapshot_index: u64,
    /// Snapshots this node installed from a leader since it started.
    pub snapshots_installed: u64,
}

#[derive(Debug, Clone)]
struct Progress {
    next: u64,
    matched: u64,
    acked_round: u64,
    active: bool,
    /// While this peer is sent a snapshot: its index and the next byte offset to send.
    sending: Option<(u64, u64)>,
}

/// A snapshot arriving chunk by chunk.
#[derive(Debug, Clone)]
struct Incoming {
    index: u64,
    term: u64,
    data: Vec<u8>,
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
    /// Entries after the snapshot: `log[i]` has index `snapshot.index + 1 + i`.
    log: Vec<Entry>,
    snapshot: Snapshot,
    snapshot_requested: bool,
    snapshot_wanted: bool,
    incoming: Option<Incoming>,
    snapshots_installed: u64,
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
        RaftCore::restore(cfg, hard, None, log)
    }

    /// A core restored from a snapshot and the log after it (indices `snapshot.index +
    /// 1..`). Everything a snapshot covers was committed, so the commit index starts there
    /// and the driver's state machine must start as the snapshot's.
    pub fn restore(
        cfg: CoreConfig,
        hard: HardState,
        snapshot: Option<Snapshot>,
        log: Vec<Entry>,
    ) -> RaftCore {
        let snapshot = snapshot.unwrap_or(Snapshot { index: 0, term: 0, data: Arc::new(Vec::new()) });
        debug_assert!(log.iter().enumerate().all(|(i, e)| e.index == snapshot.index + i as u64 + 1));
        let rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let base = snapshot.index;
        let mut core = RaftCore {
            cfg,
            rng,
            term: hard.term,
            vote: hard.vote,
            log,
            snapshot,
            snapshot_requested: false,
            snapshot_wanted: false,
            incoming: None,
            snapshots_installed: 0,
            commit: base,
            applied: base,
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
            snapshot_index: self.snapshot.index,
            snapshots_installed: self.snapshots_installed,
        }
    }

    /// The in-memory log: the entries after the snapshot, from [`RaftCore::first_index`].
    pub fn log(&self) -> &[Entry] {
        &self.log
    }

    /// Index of the first entry [`RaftCore::log`] holds (1 until a snapshot).
    pub fn first_index(&self) -> u64 {
        self.snapshot.index + 1
    }

    /// The entry at `index`, unless it is past the end or compacted away.
    pub fn entry(&self, index: u64) -> Option<&Entry> {
        index.checked_sub(self.first_index()).and_then(|i| self.log.get(i as usize))
    }

    /// The latest snapshot (index 0 and no data before the first).
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// The driver took the snapshot that [`Ready::snapshot_due`] asked for: `data` is its
    /// state machine as of `index`. The log up to `index` is dropped and `data` is what a
    /// lagging follower will be sent.
    pub fn snapshot_taken(&mut self, index: u64, data: Vec<u8>) {
        self.snapshot_requested = false;
        if index <= self.snapshot.index || index > self.last_index() {
            return;
        }
        let term = self.term_at(index).expect("index within log");
        self.log.drain(..(index - self.snapshot.index) as usize);
        self.snapshot = Snapshot { index, term, data: Arc::new(data) };
        // Only the planted bug gets past `applied`: the state machine is then believed to
        // hold entries it never saw.
        self.applied = self.applied.max(index);
        if let Some(u) = self.unstable_from {
            self.unstable_from = Some(u.max(index + 1));
        }
    }

    fn quorum(&self) -> usize {
        let members = self.cfg.peers.len() + 1;
        members / 2 + 1
    }

    fn last_index(&self) -> u64 {
        self.snapshot.index + self.log.len() as u64
    }

    fn last_term(&self) -> u64 {
        self.log.last().map_or(self.snapshot.term, |e| e.term)
    }

    /// Term of the entry at `index`; `None` past the end or before the snapshot.
    fn term_at(&self, index: u64) -> Option<u64> {
        if index == self.snapshot.index {
            Some(self.snapshot.term)
        } else {
            self.entry(index).map(|e| e.term)
        }
    }

    /// Position in `self.log` of `index` (which must be past the snapshot).
    fn pos(&self, index: u64) -> usize {
        (index - self.snapshot.index - 1) as usize
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
        // Snapshots are decided on the timer, as a background compactor would: entries
        // may have been appended since the last apply.
        if self.cfg.snapshot_every > 0
            && !self.snapshot_requested
            && self.applied >= self.snapshot.index + self.cfg.snapshot_every
        {
            self.snapshot_wanted = true;
        }
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
            .map(|p| (p.clone(), Progress { next, matched: 0, acked_round: 0, active: true, sending: None }))
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
            let leader =
                matches!(msg.body, Body::Append { .. } | Body::Snapshot { .. }).then(|| msg.from.clone());
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
                Body::Snapshot { index, round, .. } => {
                    self.send(msg.from, Body::SnapshotReply { index, next_offset: 0, done: false, round })
                }
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
            Body::Snapshot { index, term, offset, data, done, round } => {
                self.on_snapshot(msg.from, Incoming { index, term, data }, offset, done, round)
            }
            Body::SnapshotReply { index, next_offset, done, round } => {
                self.on_snapshot_reply(msg.from, index, next_offset, done, round)
            }
        }
    }

    /// Takes one InstallSnapshot chunk (section 7). Chunks are accepted only in order;
    /// any other offset is answered with the one wanted, which is how the leader resumes
    /// after a lost or duplicated chunk.
    fn on_snapshot(&mut self, from: NodeId, chunk: Incoming, offset: u64, done: bool, round: u64) {
        if self.role == Role::Leader {
            return;
        }
        if self.role == Role::Candidate || self.leader.as_deref() != Some(from.as_str()) {
            let term = self.term;
            self.become_follower(term, Some(from.clone()));
        }
        self.election_elapsed = 0;
        let index = chunk.index;
        if index <= self.commit {
            // Everything the snapshot covers is already committed here, hence matches.
            self.incoming = None;
            self.send(from, Body::SnapshotReply { index, next_offset: 0, done: true, round });
            return;
        }
        let fresh = self.incoming.as_ref().is_none_or(|i| (i.index, i.term) != (index, chunk.term));
        if fresh && offset == 0 {
            self.incoming = Some(Incoming { index, term: chunk.term, data: Vec::new() });
        }
        let Some(buf) = self.incoming.as_mut().filter(|i| (i.index, i.term) == (index, chunk.term)) else {
            self.send(from, Body::SnapshotReply { index, next_offset: 0, done: false, round });
            return;
        };
        if offset == buf.data.len() as u64 {
            buf.data.extend_from_slice(&chunk.data);
        } else {
            let next_offset = buf.data.len() as u64;
            self.send(from, Body::SnapshotReply { index, next_offset, done: false, round });
            return;
        }
        if !done {
            let next_offset = buf.data.len() as u64;
            self.send(from, Body::SnapshotReply { index, next_offset, done: false, round });
            return;
        }
        let got = self.incoming.take().expect("snapshot buffer");
        self.install_snapshot(got);
        self.send(from, Body::SnapshotReply { index, next_offset: 0, done: true, round });
    }

    /// Section 7: a log entry matching the snapshot's last one keeps the entries after
    /// it; otherwise the whole log is discarded. The state machine becomes the snapshot.
    fn install_snapshot(&mut self, got: Incoming) {
        let keep = if self.term_at(got.index) == Some(got.term) && got.index > self.snapshot.index {
            self.log.split_off(self.pos(got.index) + 1)
        } else {
            Vec::new()
        };
        self.log = keep;
        self.snapshot = Snapshot { index: got.index, term: got.term, data: Arc::new(got.data) };
        self.commit = self.commit.max(got.index);
        self.applied = got.index;
        self.snapshots_installed += 1;
        self.snapshot_requested = false;
        self.snapshot_wanted = false;
        self.unstable_from = None;
        self.out.install = Some(self.snapshot.clone());
        // Anything committed but not applied before is either inside the snapshot or
        // after it and still in the kept log.
        self.out.committed.retain(|e| e.index > got.index);
    }

    fn on_snapshot_reply(&mut self, from: NodeId, index: u64, next_offset: u64, done: bool, round: u64) {
        if self.role != Role::Leader {
            return;
        }
        let Some(p) = self.progress.get_mut(&from) else { return };
        p.active = true;
        p.acked_round = p.acked_round.max(round);
        if done {
            p.sending = None;
            p.matched = p.matched.max(index);
            p.next = p.next.max(index + 1);
            self.maybe_commit();
            if self.progress.get(&from).is_some_and(|p| p.next <= self.last_index()) {
                self.send_append(&from);
            }
        } else if let Some((sending, _)) = p.sending
            && sending == index
        {
            p.sending = Some((index, next_offset));
            self.send_append(&from);
        }
        self.check_reads();
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
        let (mut prev_index, mut prev_term, mut entries) = (prev_index, prev_term, entries);
        if prev_index < self.snapshot.index {
            // The snapshot holds committed entries, which match the leader's: skip them.
            let match_index = prev_index + entries.len() as u64;
            entries.retain(|e| e.index > self.snapshot.index);
            if entries.is_empty() {
                let body = Body::AppendReply {
                    success: true,
                    match_index: match_index.min(self.snapshot.index),
                    hint_index: 0,
                    conflict_term: None,
                    round,
                };
                self.send(from, body);
                return;
            }
            prev_index = self.snapshot.index;
            prev_term = self.snapshot.term;
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
                    let cut = self.pos(entry.index);
                    self.log.truncate(cut);
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
            if p.sending.is_none() {
                self.send_append(&from);
            }
        }
        self.check_reads();
    }

    fn send_append(&mut self, peer: &str) {
        let Some(p) = self.progress.get(peer) else { return };
        if p.next <= self.snapshot.index {
            self.send_snapshot_chunk(peer);
            return;
        }
        let prev_index = p.next - 1;
        let prev_term = self.term_at(prev_index).expect("next within log");
        let start = self.pos(prev_index + 1);
        let end = (start + self.cfg.max_append_entries).min(self.log.len());
        let entries = self.log[start..end].to_vec();
        let p = self.progress.get_mut(peer).expect("peer progress");
        // The peer no longer needs a snapshot (its next entry is still in the log).
        p.sending = None;
        // Optimistic pipelining: assume delivery; a rejection resets `next`.
        p.next = self.snapshot.index + end as u64 + 1;
        let body = Body::Append { prev_index, prev_term, entries, commit: self.commit, round: self.round };
        self.send(peer.to_string(), body);
    }

    /// Sends the chunk a peer whose next entry was compacted away is due: the one after
    /// the last it confirmed, or the first of the current snapshot when that changed.
    fn send_snapshot_chunk(&mut self, peer: &str) {
        let snap = self.snapshot.clone();
        let Some(p) = self.progress.get_mut(peer) else { return };
        let offset = match p.sending {
            Some((index, offset)) if index == snap.index => offset.min(snap.data.len() as u64),
            _ => 0,
        };
        p.sending = Some((snap.index, offset));
        let start = offset as usize;
        let end = (start + self.cfg.snapshot_chunk_bytes.max(1)).min(snap.data.len());
        let body = Body::Snapshot {
            index: snap.index,
            term: snap.term,
            offset,
            data: snap.data[start..end].to_vec(),
            done: end == snap.data.len(),
            round: self.round,
        };
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
                    // A peer being sent a snapshot gets its next chunk when it answers the
                    // last one, not once per proposal.
                    let behind = self
                        .progress
                        .get(&peer)
                        .is_some_and(|p| p.next <= self.last_index() && p.sending.is_none());
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
        if ready.install.is_some() {
            ready.install_log = self.log.clone();
            self.unstable_from = None;
        }
        if let Some(from) = self.unstable_from.take() {
            ready.log_from = Some(from);
            ready.entries = self.log[self.pos(from)..].to_vec();
        }
        if self.commit > self.applied {
            let (from, to) = (self.pos(self.applied + 1), self.pos(self.commit) + 1);
            ready.committed.extend_from_slice(&self.log[from..to]);
            self.applied = self.commit;
        }
        if self.snapshot_wanted && !self.snapshot_requested {
            self.snapshot_wanted = false;
            let index = if self.cfg.unsafe_snapshot_past_commit { self.last_index() } else { self.applied };
            if index > self.snapshot.index {
                self.snapshot_requested = true;
                ready.snapshot_due = Some(index);
            }
        }
        ready
    }
}
