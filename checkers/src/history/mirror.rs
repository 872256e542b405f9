//! The binary mirror of `history.jsonl`: the same ops in a compact form
//! (`history.mirror`, about a fifth of the JSONL's bytes), written beside it by
//! [`super::HistoryWriter`] and read instead of it when it provably mirrors the file as it
//! is now. The JSONL stays the truth: the mirror is used only when the JSONL's size and
//! modification time are the ones the writer recorded when it finished both files, and any
//! doubt (no mirror, an unfinished one, a stale or damaged one) reads the JSONL.
//!
//! Parsing JSON is most of what reading a long history costs; decoding the mirror is a
//! few byte loads an op, so a checker reads a run's history at about the speed the page
//! cache hands out the JSONL's bytes, or faster (docs/benchmarks.md).
//!
//! # Format (version 1; all integers little-endian or LEB128 varints)
//! ```text
//! file    := "SUNDMIR1" block* trailer
//! block   := u32 payload-bytes | u32 ops | u64 checksum of the payload | payload
//! payload := varint first-index | varint first-time
//!            | varint names | (varint bytes, utf-8)* | op*
//! op      := u8 flags (kind: bits 0-1; nemesis: 2; key: 3; node: 4; error: 5; siblings: 6)
//!            | zigzag index - (previous index + 1) | zigzag time - previous time
//!            | varint process (clients only) | varint f | varint key? | varint node?
//!            | value | string error? | varint count, value* siblings?
//! value   := 0 null | 1 false | 2 true | 3 varint u64 | 4 varint !i64 | 5 f64
//!            | 6 string | 7 varint count, value* | 8 varint count, (string, value)*
//! trailer := u32 0xFFFFFFFF | u64 ops | u64 JSONL bytes | i64 mtime s | u32 mtime ns | "END!"
//! ```
//! Names (`f`, `key`, `node`) are numbers into the block's own table, so every block
//! decodes alone, and blocks are decoded on every core at once.

use super::pieces::{check_order, on_threads};
use super::{History, Name, Op, OpType, Pairing, Process, Strictness};
use crate::error::InputError;
use rustc_hash::FxHashMap;
use serde_json::{Map, Number, Value};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::mem::MaybeUninit;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

const MAGIC: &[u8; 8] = b"SUNDMIR1";
const TRAILER_MARK: u32 = u32::MAX;
const TRAILER_END: &[u8; 4] = b"END!";
/// The trailer's bytes: mark, ops, JSONL bytes, seconds, nanoseconds, end.
const TRAILER_BYTES: usize = 4 + 8 + 8 + 8 + 4 + 4;
/// Bytes of a block's head: payload bytes, ops, checksum.
const BLOCK_HEAD: usize = 16;
/// Ops a block holds at most: small enough that a run's blocks spread over the cores,
/// large enough that the name table and header cost little.
const BLOCK_OPS: usize = 4096;
/// Ops [`Mirror::read_history`] decodes at a time, while the ops before are paired.
const READ_GROUP_OPS: usize = 1 << 18;
/// Nesting a decoded value may have. JSON deeper than serde's limit (128) is refused by
/// the JSONL reader; the mirror gives such values up to it rather than read them its way.
const MAX_DEPTH: usize = 100;

/// Where the mirror of the JSONL history at `jsonl` lives: `history.jsonl` has
/// `history.mirror` beside it. `None` for a file not named `*.jsonl` (or standard input).
pub fn mirror_path(jsonl: &Path) -> Option<PathBuf> {
    let name = jsonl.file_name()?.to_str()?;
    let stem = name.strip_suffix(".jsonl")?;
    Some(jsonl.with_file_name(format!("{stem}.mirror")))
}

/// Turns ops into mirror blocks, as the history writer appends them to the JSONL.
#[derive(Default)]
pub(crate) struct Encoder {
    names: FxHashMap<Name, u32>,
    table: Vec<u8>,
    body: Vec<u8>,
}

impl Encoder {
    /// Appends the blocks of `ops` (the next ops of the history) to `out`; false when a
    /// block would outgrow its 4 GiB length field (ops of enormous values), which no
    /// mirror can hold.
    pub(crate) fn encode(&mut self, ops: &[Op], out: &mut Vec<u8>) -> bool {
        ops.chunks(BLOCK_OPS).all(|block| self.encode_block(block, out))
    }

    fn encode_block(&mut self, ops: &[Op], out: &mut Vec<u8>) -> bool {
        self.names.clear();
        self.table.clear();
        self.body.clear();
        let (mut index, mut time) = (ops[0].index.wrapping_sub(1), ops[0].time);
        for op in ops {
            let mut flags = match op.kind {
                OpType::Invoke => 0u8,
                OpType::Ok => 1,
                OpType::Fail => 2,
                OpType::Info => 3,
            };
            let client = op.process.client();
            flags |= u8::from(client.is_none()) << 2;
            flags |= u8::from(op.key.is_some()) << 3;
            flags |= u8::from(op.node.is_some()) << 4;
            flags |= u8::from(op.error.is_some()) << 5;
            flags |= u8::from(op.siblings.is_some()) << 6;
            self.body.push(flags);
            put_zigzag(&mut self.body, op.index.wrapping_sub(index.wrapping_add(1)));
            put_zigzag(&mut self.body, op.time.wrapping_sub(time));
            (index, time) = (op.index, op.time);
            if let Some(p) = client {
                put_varint(&mut self.body, p);
            }
            for name in [Some(&op.f), op.key.as_ref(), op.node.as_ref()].into_iter().flatten() {
                let id = match self.names.get(name) {
                    Some(&id) => id,
                    None => {
                        let id = self.names.len() as u32;
                        put_str(&mut self.table, name);
                        self.names.insert(name.clone(), id);
                        id
                    }
                };
                put_varint(&mut self.body, u64::from(id));
            }
            put_value(&mut self.body, &op.value);
            if let Some(e) = &op.error {
                put_str(&mut self.body, e);
            }
            if let Some(s) = &op.siblings {
                put_varint(&mut self.body, s.len() as u64);
                for v in s.iter() {
                    put_value(&mut self.body, v);
                }
            }
        }
        let mut head = Vec::with_capacity(24);
        put_varint(&mut head, ops[0].index);
        put_varint(&mut head, ops[0].time);
        put_varint(&mut head, self.names.len() as u64);
        let payload = head.len() + self.table.len() + self.body.len();
        let Ok(payload) = u32::try_from(payload) else { return false };
        out.extend_from_slice(&payload.to_le_bytes());
        out.extend_from_slice(&(ops.len() as u32).to_le_bytes());
        let sum_at = out.len();
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&head);
        out.extend_from_slice(&self.table);
        out.extend_from_slice(&self.body);
        let sum = checksum(&out[sum_at + 8..]);
        out[sum_at..sum_at + 8].copy_from_slice(&sum.to_le_bytes());
        true
    }
}

/// The mirror file as the history writer keeps it: created with the JSONL, appended to
/// with each batch, and sealed with a trailer once the JSONL is complete and synced.
pub(crate) struct MirrorWriter {
    file: File,
    path: PathBuf,
    encoder: Encoder,
    buf: Vec<u8>,
    ops: u64,
}

impl MirrorWriter {
    /// Creates (or truncates) the mirror of `jsonl`, if it has a mirror path.
    pub(crate) fn create(jsonl: &Path) -> Option<MirrorWriter> {
        let path = mirror_path(jsonl)?;
        let mut file = File::create(&path).ok()?;
        file.write_all(MAGIC).ok()?;
        Some(MirrorWriter { file, path, encoder: Encoder::default(), buf: Vec::new(), ops: 0 })
    }

    /// Appends `ops`; on an error the mirror is given up (and removed), not the run.
    pub(crate) fn append(this: &mut Option<MirrorWriter>, ops: &[Op]) {
        let Some(w) = this.as_mut() else { return };
        if ops.is_empty() {
            return;
        }
        w.buf.clear();
        let encoded = w.encoder.encode(ops, &mut w.buf);
        w.ops += ops.len() as u64;
        if !encoded || w.file.write_all(&w.buf).is_err() {
            MirrorWriter::give_up(this);
        }
    }

    /// Seals the mirror once `jsonl` (the open, complete and synced JSONL) is final: its
    /// size and modification time go into the trailer. The trailer is written only once
    /// the clock has moved on past that time, so the mirror's own modification time is
    /// later than the JSONL's: a change to the JSONL after it would then show (file times
    /// are coarse, a few milliseconds; see [`Mirror::open`]).
    pub(crate) fn seal(this: &mut Option<MirrorWriter>, jsonl: &File) {
        let Some(w) = this.as_mut() else { return };
        let sealed = (|| -> io::Result<()> {
            let meta = jsonl.metadata()?;
            let modified = meta.modified()?;
            let settled = modified + Duration::from_millis(25);
            while let Ok(wait) = settled.duration_since(SystemTime::now()) {
                // A file time far ahead of the clock (the clock was set back): no seal.
                if wait > Duration::from_secs(1) {
                    return Err(io::Error::other("the JSONL's time is ahead of the clock"));
                }
                std::thread::sleep(wait);
            }
            let (secs, nanos) = since_epoch(modified);
            let mut trailer = Vec::with_capacity(TRAILER_BYTES);
            trailer.extend_from_slice(&TRAILER_MARK.to_le_bytes());
            trailer.extend_from_slice(&w.ops.to_le_bytes());
            trailer.extend_from_slice(&meta.len().to_le_bytes());
            trailer.extend_from_slice(&secs.to_le_bytes());
            trailer.extend_from_slice(&nanos.to_le_bytes());
            trailer.extend_from_slice(TRAILER_END);
            w.file.write_all(&trailer)?;
            w.file.sync_all()
        })();
        if sealed.is_err() {
            MirrorWriter::give_up(this);
        }
    }

    fn give_up(this: &mut Option<MirrorWriter>) {
        if let Some(w) = this.take() {
            drop(w.file);
            let _ = std::fs::remove_file(&w.path);
        }
    }
}

/// The mirror of a JSONL history that has none current (copied without its file times,
/// written by a Sunder before mirrors, edited by hand): fed the file's ops in order as a
/// reader hands them out, and sealed only when the JSONL still has the size and
/// modification time it had before they were read, so the mirror holds what the file does.
/// One that is dropped unsealed is removed.
pub struct MirrorBuilder {
    writer: Option<MirrorWriter>,
    jsonl: PathBuf,
    /// The JSONL's size and modification time when the builder was made.
    before: (u64, SystemTime),
}

impl MirrorBuilder {
    /// A builder for the mirror of `jsonl` when the file has a mirror path and no current
    /// mirror, and mirrors are not turned off (`SUNDER_NO_MIRROR`); `None` otherwise, and
    /// when the mirror cannot be created (a read-only folder).
    pub fn for_stale(jsonl: &Path) -> Option<MirrorBuilder> {
        if std::env::var_os("SUNDER_NO_MIRROR").is_some() || Mirror::open(jsonl).is_some() {
            return None;
        }
        let meta = std::fs::metadata(jsonl).ok().filter(|m| m.is_file())?;
        let before = (meta.len(), meta.modified().ok()?);
        let writer = Some(MirrorWriter::create(jsonl)?);
        Some(MirrorBuilder { writer, jsonl: jsonl.to_path_buf(), before })
    }

    /// Appends the next `ops` of the file.
    pub fn append(&mut self, ops: &[Op]) {
        MirrorWriter::append(&mut self.writer, ops);
    }

    /// Seals the mirror after the last op; true when it is sealed, false when the JSONL
    /// changed while it was read (or a write failed), and the mirror is removed.
    pub fn seal(mut self) -> bool {
        let unchanged = File::open(&self.jsonl).ok().and_then(|f| {
            let meta = f.metadata().ok()?;
            ((meta.len(), meta.modified().ok()?) == self.before).then_some(f)
        });
        match unchanged {
            Some(file) => MirrorWriter::seal(&mut self.writer, &file),
            None => MirrorWriter::give_up(&mut self.writer),
        }
        // Sealed or given up, nothing is left for drop to remove.
        self.writer.take().is_some()
    }
}

impl Drop for MirrorBuilder {
    fn drop(&mut self) {
        MirrorWriter::give_up(&mut self.writer);
    }
}

fn since_epoch(t: SystemTime) -> (i64, u32) {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, d.subsec_nanos()),
        Err(e) => {
            let d = e.duration();
            // Before 1970: seconds rounded down, nanoseconds counted up from them.
            let (s, n) = (d.as_secs() as i64, d.subsec_nanos());
            if n == 0 { (-s, 0) } else { (-s - 1, 1_000_000_000 - n) }
        }
    }
}

/// A sealed mirror found current for its JSONL, open at its first block.
pub(crate) struct Mirror {
    file: io::BufReader<File>,
    /// Ops the trailer promises.
    ops: u64,
    /// Bytes of blocks left before the trailer.
    left: u64,
}

impl Mirror {
    /// The mirror of `jsonl` when there is one and it mirrors the JSONL as it is now: the
    /// mirror is sealed, the JSONL has the size and modification time the trailer recorded,
    /// and the mirror was sealed after that time (so a write to the JSONL since then would
    /// have moved its time on). Anything else, the JSONL is read.
    pub(crate) fn open(jsonl: &Path) -> Option<Mirror> {
        if std::env::var_os("SUNDER_NO_MIRROR").is_some() {
            return None;
        }
        let path = mirror_path(jsonl)?;
        let text = std::fs::metadata(jsonl).ok()?;
        let mut file = File::open(&path).ok()?;
        let meta = file.metadata().ok()?;
        let size = meta.len();
        // The JSONL reader's limits hold for the mirror's reader too.
        let too_long = text.len() > crate::import::source::MAX_INPUT_BYTES;
        if !text.is_file() || too_long || size < (MAGIC.len() + TRAILER_BYTES) as u64 {
            return None;
        }
        let mut magic = [0; 8];
        file.read_exact(&mut magic).ok()?;
        file.seek(SeekFrom::End(-(TRAILER_BYTES as i64))).ok()?;
        let mut t = [0u8; TRAILER_BYTES];
        file.read_exact(&mut t).ok()?;
        let word = |at: usize| u64::from_le_bytes(t[at..at + 8].try_into().expect("8 bytes"));
        let mark = u32::from_le_bytes(t[..4].try_into().expect("4 bytes"));
        let (ops, bytes, secs) = (word(4), word(12), word(20) as i64);
        let nanos = u32::from_le_bytes(t[28..32].try_into().expect("4 bytes"));
        if &magic != MAGIC || mark != TRAILER_MARK || &t[32..] != TRAILER_END {
            return None;
        }
        let recorded = (secs, nanos);
        let now = since_epoch(text.modified().ok()?);
        let sealed = since_epoch(meta.modified().ok()?);
        if text.len() != bytes || now != recorded || sealed <= recorded {
            return None;
        }
        file.seek(SeekFrom::Start(MAGIC.len() as u64)).ok()?;
        let left = size - (MAGIC.len() + TRAILER_BYTES) as u64;
        Some(Mirror { file: io::BufReader::with_capacity(1 << 20, file), ops, left })
    }

    /// Reads the whole history from the mirror; `None` when the mirror turns out damaged or
    /// its ops break a rule of the history file, for the caller to read the JSONL (which
    /// then names the problem by its line).
    ///
    /// The mirror is decoded a group of blocks at a time, each group on every core straight
    /// into its slots of the history's vector, and the ops of the groups before are paired
    /// on a thread of their own meanwhile, as the JSONL reader pairs beside its parse.
    pub(crate) fn read_history(mut self, jsonl: &Path) -> Option<History> {
        let total = usize::try_from(self.ops).ok()?;
        let mut ops: Vec<Op> = Vec::new();
        ops.try_reserve_exact(total).ok()?;
        let mut pairing = Pairing::new(Strictness::Strict, total);
        while let Some(group) = self.next_group(READ_GROUP_OPS).ok()? {
            let base = ops.len();
            if group.ops > total - base {
                return None;
            }
            let decoded = {
                // SAFETY: the vector holds `base` ops and room for `total`; the two slices
                // do not overlap, and the vector is neither grown nor read through while
                // they live.
                let (done, spare) = unsafe {
                    let start = ops.as_mut_ptr();
                    (
                        std::slice::from_raw_parts(start.cast_const(), base),
                        std::slice::from_raw_parts_mut(
                            start.add(base).cast::<MaybeUninit<Op>>(),
                            total - base,
                        ),
                    )
                };
                let pairing = &mut pairing;
                std::thread::scope(|scope| {
                    let pairer = scope.spawn(move || pairing.pair(done).is_ok());
                    let decoded = decode_group(jsonl, &group, base, spare).is_ok();
                    decoded & pairer.join().expect("the pairing thread panicked")
                })
            };
            // A pairing fault is the JSONL reader's to name, as a damaged block is.
            if !decoded {
                return None;
            }
            // SAFETY: `decode_group` initialized the group's slots after the `base` ops.
            unsafe { ops.set_len(base + group.ops) };
            if base > 0 && check_order(jsonl, base + 1, &ops[base], Some((&ops[base - 1], base))).is_err() {
                return None;
            }
        }
        if ops.len() != total || self.left != 0 {
            return None;
        }
        pairing.pair(&ops).ok()?;
        Some(pairing.into_history(ops))
    }

    /// Hands the mirror's ops to `sink` a group of blocks at a time, as
    /// [`super::stream_jsonl`] hands the JSONL's. A mirror found damaged (its blocks are
    /// checked as they are read) ends the stream early with the number of ops handed out,
    /// for the caller to go on from that op in the JSONL; an op that breaks the index or
    /// time rule is the error the JSONL's reader gives for its line.
    pub(crate) fn stream(
        mut self,
        jsonl: &Path,
        group_ops: usize,
        mut sink: impl FnMut(Vec<Op>) -> ControlFlow<()>,
    ) -> Result<Streamed, InputError> {
        let mut handed = 0u64;
        let mut last: Option<Op> = None;
        loop {
            let group = match self.next_group(group_ops) {
                Ok(Some(g)) => g,
                Ok(None) if handed == self.ops => return Ok(Streamed::Done(handed)),
                Ok(None) | Err(_) => return Ok(Streamed::Damaged(handed)),
            };
            let mut ops: Vec<Op> = Vec::with_capacity(group.ops);
            let first = handed as usize;
            match decode_group(jsonl, &group, first, ops.spare_capacity_mut()) {
                // SAFETY: every slot of the group was initialized.
                Ok(()) => unsafe { ops.set_len(group.ops) },
                Err(Damage::Order(e)) => return Err(e),
                Err(Damage::Corrupt) => return Ok(Streamed::Damaged(handed)),
            }
            if let (Some(previous), Some(op)) = (&last, ops.first()) {
                check_order(jsonl, first + 1, op, Some((previous, first)))?;
            }
            last = ops.last().cloned();
            handed += ops.len() as u64;
            if sink(ops).is_break() {
                return Ok(Streamed::Done(handed));
            }
        }
    }

    /// Reads blocks until they hold at least `want` ops (or the blocks end); `Ok(None)` at
    /// the trailer.
    fn next_group(&mut self, want: usize) -> Result<Option<Group>, String> {
        let mut group = Group { bytes: Vec::new(), blocks: Vec::new(), ops: 0 };
        while self.left > 0 && group.ops < want {
            let mut head = [0u8; BLOCK_HEAD];
            self.file.read_exact(&mut head).map_err(|e| format!("cannot read: {e}"))?;
            let payload = u32::from_le_bytes(head[..4].try_into().expect("4 bytes")) as usize;
            let ops = u32::from_le_bytes(head[4..8].try_into().expect("4 bytes")) as usize;
            let sum = u64::from_le_bytes(head[8..].try_into().expect("8 bytes"));
            if (payload + BLOCK_HEAD) as u64 > self.left || ops == 0 || ops > BLOCK_OPS {
                return Err("damaged mirror: a block runs past the trailer or has no ops".into());
            }
            self.left -= (payload + BLOCK_HEAD) as u64;
            let start = group.bytes.len();
            group.bytes.resize(start + payload, 0);
            self.file.read_exact(&mut group.bytes[start..]).map_err(|e| format!("cannot read: {e}"))?;
            group.blocks.push(Block { start, end: start + payload, ops, first: group.ops, sum });
            group.ops += ops;
        }
        Ok((!group.blocks.is_empty()).then_some(group))
    }
}

/// How streaming a mirror ended.
pub(crate) enum Streamed {
    /// Every op was handed out (or the sink stopped the stream): this many.
    Done(u64),
    /// The mirror turned out damaged after this many ops were handed out.
    Damaged(u64),
}

/// Consecutive blocks read into one buffer.
struct Group {
    bytes: Vec<u8>,
    blocks: Vec<Block>,
    ops: usize,
}

/// Where a block's payload is in its group, and which of the group's ops it holds.
#[derive(Clone, Copy)]
struct Block {
    start: usize,
    end: usize,
    ops: usize,
    /// Position of its first op among the group's.
    first: usize,
    /// The payload's [`checksum`], as written.
    sum: u64,
}

/// Why decoding stopped.
enum Damage {
    /// The bytes are not a mirror's: the mirror is passed over, whatever the reason.
    Corrupt,
    /// The ops break the index or time rule of the history file, at this line.
    Order(InputError),
}

/// Decodes every block of `group` into `slots` (at least `group.ops` of them), a run of
/// blocks per core; `first` is the position of the group's first op in the history. On an
/// error no slot is left initialized.
fn decode_group(
    jsonl: &Path,
    group: &Group,
    first: usize,
    slots: &mut [MaybeUninit<Op>],
) -> Result<(), Damage> {
    let slots = &mut slots[..group.ops];
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
    let threads = cores.min(group.ops / 16_384).max(1);
    // Runs of whole blocks of about equal ops, each with its own slots.
    let mut runs = Vec::with_capacity(threads);
    {
        let mut rest = &mut *slots;
        let mut blocks = &group.blocks[..];
        for k in (1..=threads).rev() {
            let target = rest.len().div_ceil(k);
            let (mut take, mut ops) = (0, 0);
            while take < blocks.len() && (ops < target || k == 1) {
                ops += blocks[take].ops;
                take += 1;
            }
            let (run_blocks, more) = blocks.split_at(take);
            let (run_slots, tail) = std::mem::take(&mut rest).split_at_mut(ops);
            runs.push((run_blocks, run_slots));
            blocks = more;
            rest = tail;
        }
    }
    let starts: Vec<usize> =
        runs.iter().scan(0, |at, (_, s)| Some(std::mem::replace(at, *at + s.len()))).collect();
    let results = on_threads(runs, |(blocks, slots)| {
        let mut written = 0;
        for block in blocks {
            let (done, rest) = slots.split_at_mut(written);
            // SAFETY: the run's first `written` slots hold its ops.
            let previous = done.last().map(|p| unsafe { p.assume_init_ref() });
            let bytes = &group.bytes[block.start..block.end];
            if checksum(bytes) != block.sum {
                return (written, Err(corrupt("a block's checksum does not match its bytes")));
            }
            match decode_block(jsonl, bytes, first + block.first, previous, &mut rest[..block.ops]) {
                Ok(()) => written += block.ops,
                Err(e) => return (written, Err(e)),
            }
        }
        (written, Ok(()))
    });
    // The seams between runs, and the first problem in history order.
    let written: Vec<usize> = results.iter().map(|&(n, _)| n).collect();
    let mut outcome = Ok(());
    let mut complete_before = true;
    for (k, (n, result)) in results.into_iter().enumerate() {
        let start = starts[k];
        if outcome.is_ok() && k > 0 && complete_before && n > 0 {
            // SAFETY: the last slot of the run before and the first of this one were written.
            let (previous, op) =
                unsafe { (slots[start - 1].assume_init_ref(), slots[start].assume_init_ref()) };
            let (at, line) = (first + start, first + start + 1);
            if let Err(e) = check_order(jsonl, line, op, Some((previous, at))) {
                outcome = Err(Damage::Order(e));
            }
        }
        complete_before = result.is_ok();
        if outcome.is_ok() {
            outcome = result;
        }
    }
    if outcome.is_err() {
        for (&start, &n) in starts.iter().zip(&written) {
            // SAFETY: each run's first `n` slots hold ops nothing else owns.
            unsafe {
                let first = slots.as_mut_ptr().add(start).cast::<Op>();
                std::ptr::drop_in_place(std::ptr::slice_from_raw_parts_mut(first, n));
            }
        }
    }
    outcome
}

/// A cursor over one block's payload.
struct Bytes<'b> {
    bytes: &'b [u8],
    at: usize,
}

impl<'b> Bytes<'b> {
    #[inline]
    fn byte(&mut self) -> Result<u8, Damage> {
        let b = *self.bytes.get(self.at).ok_or_else(|| corrupt("a block ends inside an op"))?;
        self.at += 1;
        Ok(b)
    }

    #[inline]
    fn varint(&mut self) -> Result<u64, Damage> {
        // Most numbers (deltas, processes, name numbers, small values) take one byte.
        if let Some(&b) = self.bytes.get(self.at)
            && b < 0x80
        {
            self.at += 1;
            return Ok(u64::from(b));
        }
        self.long_varint()
    }

    fn long_varint(&mut self) -> Result<u64, Damage> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(corrupt("a number runs past 64 bits"))
    }

    fn zigzag(&mut self) -> Result<u64, Damage> {
        let z = self.varint()?;
        Ok((z >> 1) ^ (z & 1).wrapping_neg())
    }

    fn take(&mut self, n: usize) -> Result<&'b [u8], Damage> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| corrupt("a string runs past its block"))?;
        let taken = &self.bytes[self.at..end];
        self.at = end;
        Ok(taken)
    }

    fn str(&mut self) -> Result<&'b str, Damage> {
        let n = usize::try_from(self.varint()?).map_err(|_| corrupt("a string longer than memory"))?;
        std::str::from_utf8(self.take(n)?).map_err(|_| corrupt("a string is not UTF-8"))
    }

    fn count(&mut self) -> Result<usize, Damage> {
        let n = self.varint()?;
        // Every element takes a byte at least, so no count exceeds the bytes left.
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.bytes.len() - self.at)
            .ok_or_else(|| corrupt("a count exceeds its block"))
    }

    fn value(&mut self, depth: usize) -> Result<Value, Damage> {
        if depth > MAX_DEPTH {
            return Err(corrupt("a value nests too deep"));
        }
        Ok(match self.byte()? {
            0 => Value::Null,
            1 => Value::Bool(false),
            2 => Value::Bool(true),
            3 => Value::Number(self.varint()?.into()),
            4 => Value::Number((!(self.varint()? as i64)).into()),
            5 => {
                let f = f64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes"));
                Value::Number(Number::from_f64(f).ok_or_else(|| corrupt("a number is not finite"))?)
            }
            6 => Value::String(self.str()?.to_owned()),
            7 => {
                let n = self.count()?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.value(depth + 1)?);
                }
                Value::Array(items)
            }
            8 => {
                let n = self.count()?;
                let mut map = Map::new();
                for _ in 0..n {
                    let key = self.str()?.to_owned();
                    map.insert(key, self.value(depth + 1)?);
                }
                Value::Object(map)
            }
            _ => return Err(corrupt("a value of unknown kind")),
        })
    }
}

/// Damage, with its reason spelled out for the reader of the code only: a damaged mirror is
/// passed over for the JSONL whatever the reason, so no message is made.
fn corrupt(_why: &str) -> Damage {
    Damage::Corrupt
}

/// Decodes one block into `slots` (its op count of them); the op at `at` is the block's
/// first, `previous` the op before it when the caller holds it. Checks the index and time
/// rules between the ops. On an error no slot is left initialized.
fn decode_block(
    jsonl: &Path,
    bytes: &[u8],
    at: usize,
    previous: Option<&Op>,
    slots: &mut [MaybeUninit<Op>],
) -> Result<(), Damage> {
    let mut b = Bytes { bytes, at: 0 };
    let (mut index, mut time) = (b.varint()?.wrapping_sub(1), b.varint()?);
    let names = b.count()?;
    let mut table = Vec::with_capacity(names);
    for _ in 0..names {
        table.push(Name::new(b.str()?));
    }
    for n in 0..slots.len() {
        let decoded = decode_op(&mut b, &table, &mut index, &mut time).and_then(|op| {
            // SAFETY: the slots before `n` were written in this loop.
            let before = if n > 0 { Some(unsafe { slots[n - 1].assume_init_ref() }) } else { previous };
            // The rules hold for nearly every op: only a break is worth a call.
            let in_order = before.is_some_and(|p| op.index == p.index.wrapping_add(1) && op.time >= p.time);
            if !in_order && (before.is_some() || at + n == 0) {
                let line = at + n + 1;
                check_order(jsonl, line, &op, before.map(|p| (p, line - 1))).map_err(Damage::Order)?;
            }
            Ok(op)
        });
        match decoded {
            Ok(op) => {
                slots[n].write(op);
            }
            Err(e) => {
                // SAFETY: the first `n` slots were written in this loop and nothing else owns them.
                unsafe {
                    let first = slots.as_mut_ptr().cast::<Op>();
                    std::ptr::drop_in_place(std::ptr::slice_from_raw_parts_mut(first, n));
                }
                return Err(e);
            }
        }
    }
    if b.at != bytes.len() {
        // SAFETY: every slot was written above.
        unsafe {
            let first = slots.as_mut_ptr().cast::<Op>();
            std::ptr::drop_in_place(std::ptr::slice_from_raw_parts_mut(first, slots.len()));
        }
        return Err(corrupt("a block has bytes after its last op"));
    }
    Ok(())
}

fn decode_op(b: &mut Bytes<'_>, table: &[Name], index: &mut u64, time: &mut u64) -> Result<Op, Damage> {
    let flags = b.byte()?;
    if flags & 0x80 != 0 {
        return Err(corrupt("an op with unknown flags"));
    }
    *index = index.wrapping_add(1).wrapping_add(b.zigzag()?);
    *time = time.wrapping_add(b.zigzag()?);
    let kind = [OpType::Invoke, OpType::Ok, OpType::Fail, OpType::Info][usize::from(flags & 3)];
    let process = if flags & 4 != 0 { Process::Nemesis } else { Process::Client(b.varint()?) };
    let mut name = || -> Result<Name, Damage> {
        let id = b.varint()?;
        usize::try_from(id)
            .ok()
            .and_then(|i| table.get(i))
            .cloned()
            .ok_or_else(|| corrupt("a name not in its block's table"))
    };
    let f = name()?;
    let key = if flags & 8 != 0 { Some(name()?) } else { None };
    let node = if flags & 16 != 0 { Some(name()?) } else { None };
    let value = b.value(0)?;
    let error = if flags & 32 != 0 { Some(b.str()?.into()) } else { None };
    let siblings = if flags & 64 != 0 {
        let n = b.count()?;
        let mut s = Vec::with_capacity(n);
        for _ in 0..n {
            s.push(b.value(1)?);
        }
        Some(s.into_boxed_slice())
    } else {
        None
    };
    Ok(Op { index: *index, time: *time, process, kind, f, key, value, node, error, siblings })
}

/// A 64-bit checksum of a block's payload, so that bytes damaged on disk are not decoded
/// into other ops: each step is a bijection of the state for a given word, so one changed
/// word always changes the sum, and several change it but for a chance of about 2^-64.
fn checksum(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h = bytes.len() as u64;
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        h = (h ^ u64::from_le_bytes(w.try_into().expect("8 bytes"))).wrapping_mul(K).rotate_left(29);
    }
    let mut tail = [0u8; 8];
    tail[..words.remainder().len()].copy_from_slice(words.remainder());
    h = (h ^ u64::from_le_bytes(tail)).wrapping_mul(K).rotate_left(29);
    h ^ (h >> 32)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_zigzag(out: &mut Vec<u8>, delta: u64) {
    let d = delta as i64;
    put_varint(out, ((d << 1) ^ (d >> 63)) as u64);
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn put_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.push(0),
        Value::Bool(false) => out.push(1),
        Value::Bool(true) => out.push(2),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                out.push(3);
                put_varint(out, u);
            } else if let Some(i) = n.as_i64() {
                out.push(4);
                put_varint(out, !i as u64);
            } else {
                // What the JSONL reader will make of this float's text, which is not always
                // the float itself: serde_json parses floats fast, not exactly.
                let read =
                    serde_json::to_string(n).ok().and_then(|t| serde_json::from_str::<Number>(&t).ok());
                out.push(5);
                out.extend_from_slice(&read.and_then(|r| r.as_f64()).unwrap_or(f64::NAN).to_le_bytes());
            }
        }
        Value::String(s) => {
            out.push(6);
            put_str(out, s);
        }
        Value::Array(items) => {
            out.push(7);
            put_varint(out, items.len() as u64);
            for item in items {
                put_value(out, item);
            }
        }
        Value::Object(map) => {
            out.push(8);
            put_varint(out, map.len() as u64);
            for (k, item) in map {
                put_str(out, k);
                put_value(out, item);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::HistoryWriter;
    use crate::history::{read_jsonl, read_jsonl_text, stream_jsonl, stream_jsonl_text};
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use serde_json::json;

    /// A scratch folder for one test, removed when the test ends, also when it fails.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(tag: &str) -> Scratch {
            let dir = std::env::temp_dir().join(format!("sunder-mirror-{tag}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }
        fn history(&self) -> PathBuf {
            self.0.join("history.jsonl")
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn random_value(rng: &mut ChaCha8Rng, depth: usize) -> Value {
        match rng.random_range(0..if depth > 3 { 7 } else { 10 }) {
            0 => Value::Null,
            1 => Value::Bool(rng.random()),
            2 => json!(rng.random::<u64>()),
            3 => json!(-(rng.random_range(1..i64::MAX))),
            4 => json!(rng.random::<f64>() * 1e6 - 5e5),
            5 => json!(format!("s{}é\"\n", rng.random_range(0..1000))),
            6 => json!(rng.random_range(0..100)),
            7 => Value::Array((0..rng.random_range(0..4)).map(|_| random_value(rng, depth + 1)).collect()),
            8 => json!([rng.random_range(0..9), rng.random_range(0..9)]),
            _ => {
                let mut m = Map::new();
                for k in 0..rng.random_range(0..3) {
                    m.insert(format!("k{k}"), random_value(rng, depth + 1));
                }
                Value::Object(m)
            }
        }
    }

    /// A valid history of `n` ops, every field and value kind among them: clients that
    /// invoke and complete, crash with `info` and come back as new processes, a nemesis.
    fn random_ops(seed: u64, n: usize) -> Vec<Op> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut ops = Vec::with_capacity(n);
        let mut open: Vec<Option<Op>> = vec![None; 6];
        let mut next_process = open.len() as u64;
        let mut process: Vec<u64> = (0..open.len() as u64).collect();
        let mut time = 0u64;
        while ops.len() < n {
            let index = ops.len() as u64;
            time += rng.random_range(0..3_000);
            if rng.random_range(0..50) == 0 {
                ops.push(Op::nemesis(index, time, "partition", random_value(&mut rng, 0)));
                continue;
            }
            let c = rng.random_range(0..open.len());
            let op = match open[c].take() {
                None => {
                    let f = ["read", "write", "cas", "a-function-name-longer-than-fifteen"]
                        [rng.random_range(0..4)];
                    let mut op =
                        Op::client(index, time, process[c], OpType::Invoke, f, random_value(&mut rng, 0));
                    if rng.random() {
                        op = op.with_key(format!("key-{}", rng.random_range(0..40)));
                    }
                    open[c] = Some(op.clone());
                    op
                }
                Some(invoke) => {
                    let kind = [OpType::Ok, OpType::Ok, OpType::Fail, OpType::Info][rng.random_range(0..4)];
                    let mut op = Op { index, time, kind, value: random_value(&mut rng, 0), ..invoke };
                    if rng.random() {
                        op = op.with_node(format!("n{}", rng.random_range(0..5)));
                    }
                    if kind != OpType::Ok {
                        op.error = Some(format!("timeout after {} ms", rng.random_range(0..900)).into());
                    }
                    if kind == OpType::Ok && rng.random_range(0..8) == 0 {
                        op = op.with_siblings(
                            (0..rng.random_range(0..3)).map(|_| random_value(&mut rng, 1)).collect(),
                        );
                    }
                    if kind == OpType::Info {
                        process[c] = next_process;
                        next_process += 1;
                    }
                    op
                }
            };
            ops.push(op);
        }
        ops
    }

    fn write(path: &Path, ops: &[Op]) {
        let w = HistoryWriter::create(path).unwrap();
        for chunk in ops.chunks(10_007) {
            for op in chunk {
                w.append(op.clone());
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        w.finish().unwrap();
    }

    fn streamed(
        read: impl FnOnce(&mut dyn FnMut(Vec<Op>) -> ControlFlow<()>) -> Result<u64, InputError>,
    ) -> (Vec<Op>, Result<u64, String>) {
        let mut seen = Vec::new();
        let handed = read(&mut |ops: Vec<Op>| {
            seen.extend(ops);
            ControlFlow::Continue(())
        });
        (seen, handed.map_err(|e| e.to_string()))
    }

    fn assert_same_as_the_jsonl(path: &Path) {
        let (mirrored, text) = (read_jsonl(path), read_jsonl_text(path));
        match (&mirrored, &text) {
            (Ok(m), Ok(t)) => assert!(m.ops() == t.ops(), "whole reads differ"),
            (m, t) => {
                assert_eq!(m.as_ref().err().map(|e| e.to_string()), t.as_ref().err().map(|e| e.to_string()))
            }
        }
        let (m_ops, m_handed) = streamed(|s| stream_jsonl(path, s));
        let (t_ops, t_handed) = streamed(|s| stream_jsonl_text(path, s));
        assert_eq!(m_handed, t_handed);
        if m_handed.is_ok() {
            assert!(m_ops == t_ops, "streams differ");
        } else {
            // Before an error each hands out the ops of its chunks before it; its chunks
            // differ in size, so one hands out a longer run of the same ops.
            let n = m_ops.len().min(t_ops.len());
            assert!(m_ops[..n] == t_ops[..n], "streams differ before their error");
        }
    }

    #[test]
    fn a_sealed_mirror_reads_back_every_op_the_jsonl_holds() {
        for (seed, n) in [(1, 0), (2, 1), (3, 700), (4, 70_000), (5, 300_000)] {
            let dir = Scratch::new(&format!("same-{seed}"));
            let ops = random_ops(seed, n);
            write(&dir.history(), &ops);
            let mirror = Mirror::open(&dir.history()).expect("a sealed, current mirror");
            if n > 0 {
                let h = mirror.read_history(&dir.history()).expect("the mirror read");
                let text = read_jsonl_text(&dir.history()).unwrap();
                assert!(h.ops() == text.ops(), "seed {seed}: the mirror's ops are not the JSONL's");
                assert_eq!(h.len(), ops.len());
            }
            assert_same_as_the_jsonl(&dir.history());
        }
    }

    #[test]
    fn a_jsonl_without_a_current_mirror_gets_one_from_a_read() {
        let dir = Scratch::new("rebuilt");
        write(&dir.history(), &random_ops(11, 40_000));
        // As a copy without its file times leaves it: the old mirror no longer vouched for.
        let text = std::fs::read(dir.history()).unwrap();
        std::fs::remove_file(dir.history()).unwrap();
        std::fs::write(dir.history(), &text).unwrap();
        assert!(Mirror::open(&dir.history()).is_none());
        let mut builder = MirrorBuilder::for_stale(&dir.history()).expect("a stale mirror is rebuilt");
        stream_jsonl_text(&dir.history(), |ops| {
            builder.append(&ops);
            ControlFlow::Continue(())
        })
        .unwrap();
        assert!(builder.seal());
        assert!(Mirror::open(&dir.history()).is_some(), "the rebuilt mirror is not trusted");
        assert!(MirrorBuilder::for_stale(&dir.history()).is_none(), "a current mirror is rebuilt again");
        let mirrored = crate::history::read_mirrored(&dir.history()).expect("read from the mirror");
        assert!(mirrored.ops() == read_jsonl_text(&dir.history()).unwrap().ops());
        assert_same_as_the_jsonl(&dir.history());
    }

    #[test]
    fn a_mirror_built_while_its_jsonl_changed_is_not_kept() {
        let dir = Scratch::new("raced");
        let ops = random_ops(12, 3_000);
        write(&dir.history(), &ops);
        let text = std::fs::read_to_string(dir.history()).unwrap();
        std::fs::write(dir.history(), &text).unwrap();
        let mut builder = MirrorBuilder::for_stale(&dir.history()).unwrap();
        stream_jsonl_text(&dir.history(), |ops| {
            builder.append(&ops);
            ControlFlow::Continue(())
        })
        .unwrap();
        // The file grows by a line between the read and the seal.
        let mut more = std::fs::OpenOptions::new().append(true).open(dir.history()).unwrap();
        more.write_all(b"{}\n").unwrap();
        drop(more);
        assert!(!builder.seal());
        assert!(!mirror_path(&dir.history()).unwrap().exists(), "a mirror of another text was left");
        // Dropped unsealed (a read stopped short), a builder leaves no mirror either.
        drop(MirrorBuilder::for_stale(&dir.history()).unwrap());
        assert!(!mirror_path(&dir.history()).unwrap().exists());
    }

    #[test]
    fn a_jsonl_changed_after_its_mirror_is_read_as_it_is_now() {
        let dir = Scratch::new("stale");
        let mut ops = random_ops(7, 5_000);
        ops[100].time = ops[99].time;
        ops[101].time = ops[100].time;
        write(&dir.history(), &ops);
        // Same size, one digit changed: only the file's time tells.
        let text = std::fs::read_to_string(dir.history()).unwrap();
        let line = text.lines().nth(100).unwrap();
        let changed = line.replacen("\"index\":100", "\"index\":109", 1);
        assert_ne!(line, changed);
        std::fs::write(dir.history(), text.replacen(line, &changed, 1)).unwrap();
        assert!(Mirror::open(&dir.history()).is_none(), "a mirror of another text was trusted");
        let e = read_jsonl(&dir.history()).unwrap_err();
        assert_eq!(e.line, Some(101), "{e}");
        assert_same_as_the_jsonl(&dir.history());
    }

    #[test]
    fn a_damaged_or_unsealed_mirror_is_passed_over_for_the_jsonl() {
        let dir = Scratch::new("damaged");
        write(&dir.history(), &random_ops(8, 200_000));
        let mirror = mirror_path(&dir.history()).unwrap();
        let good = std::fs::read(&mirror).unwrap();
        let modified = std::fs::metadata(&mirror).unwrap().modified().unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let mut damaged_mid_stream = 0;
        for round in 0..40 {
            let mut bad = good.clone();
            match round % 4 {
                // Bytes flipped inside the blocks.
                0 | 1 => {
                    for _ in 0..=round {
                        let at = rng.random_range(8..bad.len() - TRAILER_BYTES);
                        bad[at] ^= 1 << rng.random_range(0..8);
                    }
                }
                // Cut short, the trailer lost: a run killed mid-way.
                2 => bad.truncate(rng.random_range(8..bad.len())),
                // A block lost between the others, the trailer kept.
                _ => {
                    let cut = rng.random_range(8..bad.len() / 2);
                    bad.drain(cut..cut + 1000);
                }
            }
            std::fs::write(&mirror, &bad).unwrap();
            File::options().write(true).open(&mirror).unwrap().set_modified(modified).unwrap();
            if let Some(m) = Mirror::open(&dir.history())
                && let Ok(Streamed::Damaged(n)) =
                    m.stream(&dir.history(), 1 << 16, |_| ControlFlow::Continue(()))
                && n > 0
            {
                damaged_mid_stream += 1;
            }
            assert_same_as_the_jsonl(&dir.history());
        }
        assert!(damaged_mid_stream > 0, "no round found damage after handing ops out");
    }

    /// A change that breaks a rule of the history file.
    type Spoil = fn(&mut Vec<Op>);

    #[test]
    fn ops_that_break_the_file_rules_are_refused_as_the_jsonl_reader_refuses_them() {
        let cases: [(&str, Spoil); 4] = [
            ("time goes back", |ops| ops[40_000].time = ops[39_999].time - 1),
            ("index gap", |ops| ops.remove(65_536 + 3).index = 0),
            ("first index", |ops| ops[0].index = 5),
            ("unpaired", |ops| {
                let at = ops.iter().position(|o| o.kind == OpType::Ok && o.index > 50_000).unwrap();
                ops[at].kind = OpType::Invoke;
            }),
        ];
        for (what, spoil) in cases {
            let dir = Scratch::new(&what.replace(' ', "-"));
            let mut ops = random_ops(10, 120_000);
            spoil(&mut ops);
            write(&dir.history(), &ops);
            assert!(Mirror::open(&dir.history()).is_some(), "{what}: the mirror should be current");
            assert!(read_jsonl(&dir.history()).is_err(), "{what}: refused");
            assert_same_as_the_jsonl(&dir.history());
        }
    }

    #[test]
    fn names_the_mirror_beside_a_jsonl_file() {
        assert_eq!(mirror_path(Path::new("run/history.jsonl")), Some(PathBuf::from("run/history.mirror")));
        assert_eq!(mirror_path(Path::new("-")), None);
        assert_eq!(mirror_path(Path::new("run/history.edn")), None);
    }
}
