//! Durable state of a raft-kv node in its data directory: the term-and-vote record (framed
//! and checksummed like a log record), the
//! latest snapshot (section 7) and the append-only log of the entries after it. The hard
//! state and the snapshot are replaced atomically (write a temp file, fsync, rename,
//! fsync the directory). Each log record is `[length u32 LE][crc32 u32 LE][JSON entry]`;
//! on open a torn tail (the last record cut short or failing its checksum, as a crash
//! mid-write leaves) is cut off so a half-written entry is never applied, while a record
//! failing its checksum with more records after it is damage no crash explains, and the
//! node refuses to start rather than guess. The
//! snapshot file is `[magic 8][index u64][term u64][length u64][crc32 u32][data]`, all
//! little-endian, and is refused whole when any of it is off. Appends are written
//! without syncing and [`LogStorage::sync`] makes all of them durable with one fsync:
//! the driver calls it once per batch, which is the group commit. Compaction rewrites
//! the log without the entries a new snapshot covers (temp file, fsync, rename), after
//! the snapshot itself is durable, so a crash between the two leaves a log that merely
//! starts early.

use crate::raft::message::{Entry, HardState, Snapshot};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Name of the hard-state file in the data directory.
pub const HARD_STATE_FILE: &str = "raft-hardstate.json";
/// Name of the log file in the data directory.
pub const LOG_FILE: &str = "raft-log";
/// Name of the snapshot file in the data directory.
pub const SNAPSHOT_FILE: &str = "raft-snapshot";
/// The files a disk fault may damage (all of raft-kv's durable state).
pub const DATA_FILES: &[&str] = &[LOG_FILE, SNAPSHOT_FILE, HARD_STATE_FILE];
const HEADER: usize = 8;
/// No entry is this large (a node takes request bodies of at most 64 MiB); a record
/// claiming more has a damaged length, not a torn tail.
const MAX_RECORD: usize = 64 << 20;
const SNAPSHOT_MAGIC: &[u8; 8] = b"SNDRSNP1";
const SNAPSHOT_HEADER: usize = 8 + 8 + 8 + 8 + 4;
/// Unsafe mode keeps appends in memory until this many bytes are queued or a flush is due.
const UNSAFE_BUFFER_LIMIT: usize = 1 << 20;

/// Why the node's files could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// An I/O call failed.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// A file's content makes no sense (not a torn tail: that is repaired silently).
    #[error("{path}: {problem}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the byte offset.
        problem: String,
    },
}

/// How hard the storage tries to make data durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Durability {
    /// `false` is the planted bug `unsafe-no-fsync`: no fsync, and log appends sit in a
    /// user-space buffer for up to a second, so SIGKILL loses acknowledged entries.
    pub fsync: bool,
    /// `true` is the planted bug `unsafe-vote-twice`: the vote is never written, so a
    /// restarted node may vote again in a term it already voted in.
    pub forget_vote: bool,
}

impl Durability {
    /// Everything fsynced, nothing forgotten.
    pub const SAFE: Durability = Durability { fsync: true, forget_vote: false };
}

/// What was found on disk at open.
#[derive(Debug, Clone, Default)]
pub struct Recovered {
    /// Term and vote.
    pub hard_state: HardState,
    /// The latest snapshot, if one was taken.
    pub snapshot: Option<Snapshot>,
    /// The valid log after the snapshot (indices `snapshot.index + 1..`).
    pub entries: Vec<Entry>,
    /// Bytes cut from a torn or corrupt tail (0 when the log was clean).
    pub truncated_bytes: u64,
}

/// The open files of one node.
#[derive(Debug)]
pub struct LogStorage {
    dir: PathBuf,
    log_path: PathBuf,
    log: File,
    /// Last index the snapshot covers (0: none); the log holds the entries after it.
    base: u64,
    /// Byte offset where entry `base + i` starts is `offsets[i - 1]`.
    offsets: Vec<u64>,
    /// Length of the log as written to the file (buffered bytes excluded).
    file_len: u64,
    /// Unsafe mode only: records not yet written to the file.
    buffer: Vec<u8>,
    durability: Durability,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StorageError + '_ {
    move |source| StorageError::Io { path: path.to_path_buf(), source }
}

/// Encodes one entry as a log record.
pub fn encode_record(entry: &Entry) -> Vec<u8> {
    frame(&serde_json::to_vec(entry).expect("entries serialize"))
}

/// `[length u32 LE][crc32 u32 LE][payload]`: how log records and the hard state are kept.
fn frame(payload: &[u8]) -> Vec<u8> {
    let mut rec = Vec::with_capacity(HEADER + payload.len());
    rec.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    rec.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    rec.extend_from_slice(payload);
    rec
}

fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_err(dir))
}

impl LogStorage {
    /// Opens (or creates) the files in `dir`, repairing a torn or corrupt log tail.
    pub fn open(dir: &Path, durability: Durability) -> Result<(LogStorage, Recovered), StorageError> {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let hard_state = read_hard_state(&dir.join(HARD_STATE_FILE))?;
        let snapshot = read_snapshot(&dir.join(SNAPSHOT_FILE))?;
        let base = snapshot.as_ref().map_or(0, |s| s.index);
        let log_path = dir.join(LOG_FILE);
        let mut log = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&log_path)
            .map_err(io_err(&log_path))?;
        let mut bytes = Vec::new();
        log.read_to_end(&mut bytes).map_err(io_err(&log_path))?;
        let scanned = scan_log(&log_path, &bytes)?;
        let valid_len = scanned.valid_len;
        let truncated_bytes = bytes.len() as u64 - valid_len;
        if truncated_bytes > 0 {
            log.set_len(valid_len).map_err(io_err(&log_path))?;
            log.sync_all().map_err(io_err(&log_path))?;
        }
        log.seek(SeekFrom::Start(valid_len)).map_err(io_err(&log_path))?;
        sync_dir(dir)?;
        let first = scanned.entries.first().map(|e| e.index);
        if first.is_some_and(|f| f > base + 1) {
            return Err(StorageError::Corrupt {
                path: log_path,
                problem: format!(
                    "the log starts at index {} but the snapshot ends at {base}: entries {}..{} are missing",
                    first.unwrap_or_default(),
                    base + 1,
                    first.unwrap_or_default() - 1
                ),
            });
        }
        // A crash between writing a snapshot and compacting the log leaves entries the
        // snapshot already covers at the front: they are skipped, the file is left as is.
        let skip = scanned.entries.iter().take_while(|e| e.index <= base).count();
        let mut entries = scanned.entries;
        let mut offsets = scanned.offsets;
        entries.drain(..skip);
        offsets.drain(..skip);
        let storage = LogStorage {
            dir: dir.to_path_buf(),
            log_path,
            log,
            base,
            offsets,
            file_len: valid_len,
            buffer: Vec::new(),
            durability,
        };
        Ok((storage, Recovered { hard_state, snapshot, entries, truncated_bytes }))
    }

    /// Makes `snapshot` durable, replacing the previous one atomically, then rewrites the
    /// log to hold only the entries after it.
    pub fn compact(&mut self, snapshot: &Snapshot) -> Result<(), StorageError> {
        self.flush_buffer()?;
        self.write_snapshot(snapshot)?;
        let mut bytes = Vec::new();
        let keep_from = snapshot.index.saturating_sub(self.base) as usize;
        if keep_from < self.offsets.len() {
            let start = self.offsets[keep_from];
            let mut f = File::open(&self.log_path).map_err(io_err(&self.log_path))?;
            f.seek(SeekFrom::Start(start)).map_err(io_err(&self.log_path))?;
            f.read_to_end(&mut bytes).map_err(io_err(&self.log_path))?;
        }
        self.replace_log(snapshot.index, bytes)
    }

    /// Installs a snapshot received from the leader: makes it durable, then makes the log
    /// exactly `tail` (the entries after it this node kept).
    pub fn install(&mut self, snapshot: &Snapshot, tail: &[Entry]) -> Result<(), StorageError> {
        self.flush_buffer()?;
        self.write_snapshot(snapshot)?;
        let bytes: Vec<u8> = tail.iter().flat_map(encode_record).collect();
        self.replace_log(snapshot.index, bytes)
    }

    fn write_snapshot(&self, snapshot: &Snapshot) -> Result<(), StorageError> {
        let path = self.dir.join(SNAPSHOT_FILE);
        let tmp = self.dir.join(format!("{SNAPSHOT_FILE}.tmp"));
        let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
        f.write_all(&encode_snapshot(snapshot)).map_err(io_err(&tmp))?;
        if self.durability.fsync {
            f.sync_all().map_err(io_err(&tmp))?;
        }
        std::fs::rename(&tmp, &path).map_err(io_err(&path))?;
        if self.durability.fsync {
            sync_dir(&self.dir)?;
        }
        Ok(())
    }

    /// Replaces the log file with `records` (the entries from `base + 1` on, encoded).
    fn replace_log(&mut self, base: u64, records: Vec<u8>) -> Result<(), StorageError> {
        let tmp = self.dir.join(format!("{LOG_FILE}.tmp"));
        let mut f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(io_err(&tmp))?;
        f.write_all(&records).map_err(io_err(&tmp))?;
        if self.durability.fsync {
            f.sync_all().map_err(io_err(&tmp))?;
        }
        std::fs::rename(&tmp, &self.log_path).map_err(io_err(&self.log_path))?;
        if self.durability.fsync {
            sync_dir(&self.dir)?;
        }
        let scanned = scan_log(&self.log_path, &records)?;
        self.log = f;
        self.base = base;
        self.offsets = scanned.offsets;
        self.file_len = records.len() as u64;
        Ok(())
    }

    /// Last index the durable snapshot covers (0: none).
    pub fn snapshot_index(&self) -> u64 {
        self.base
    }

    /// Bytes the log file holds now.
    pub fn log_bytes(&self) -> u64 {
        self.file_len + self.buffer.len() as u64
    }

    /// Replaces the term-and-vote record atomically and durably.
    pub fn save_hard_state(&mut self, hard: &HardState) -> Result<(), StorageError> {
        let mut hard = hard.clone();
        if self.durability.forget_vote {
            hard.vote = None;
        }
        let path = self.dir.join(HARD_STATE_FILE);
        let tmp = self.dir.join(format!("{HARD_STATE_FILE}.tmp"));
        let body = frame(&serde_json::to_vec(&hard).expect("hard state serializes"));
        let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
        f.write_all(&body).map_err(io_err(&tmp))?;
        if self.durability.fsync {
            f.sync_all().map_err(io_err(&tmp))?;
        }
        std::fs::rename(&tmp, &path).map_err(io_err(&path))?;
        if self.durability.fsync {
            sync_dir(&self.dir)?;
        }
        Ok(())
    }

    /// Index of the last entry stored (written or buffered), or the snapshot's.
    pub fn last_index(&self) -> u64 {
        self.base + self.offsets.len() as u64
    }

    /// Makes the log hold its entries before `from`, then `entries` (whose first index is
    /// `from`). Not durable until [`LogStorage::sync`].
    pub fn write_log(&mut self, from: u64, entries: &[Entry]) -> Result<(), StorageError> {
        debug_assert!(from > self.base && from <= self.last_index() + 1);
        if from <= self.last_index() {
            self.flush_buffer()?;
            let keep = (from - self.base - 1) as usize;
            let cut = self.offsets[keep];
            self.log.set_len(cut).map_err(io_err(&self.log_path))?;
            self.log.seek(SeekFrom::Start(cut)).map_err(io_err(&self.log_path))?;
            self.offsets.truncate(keep);
            self.file_len = cut;
        }
        let mut out = Vec::new();
        for entry in entries {
            let end = self.file_len + self.buffer.len() as u64 + out.len() as u64;
            self.offsets.push(end);
            out.extend_from_slice(&encode_record(entry));
        }
        if self.durability.fsync {
            self.log.write_all(&out).map_err(io_err(&self.log_path))?;
            self.file_len += out.len() as u64;
        } else {
            self.buffer.extend_from_slice(&out);
            if self.buffer.len() >= UNSAFE_BUFFER_LIMIT {
                self.flush_buffer()?;
            }
        }
        Ok(())
    }

    /// Makes every write so far durable with one fsync (a no-op in unsafe mode).
    pub fn sync(&mut self) -> Result<(), StorageError> {
        if self.durability.fsync {
            self.log.sync_data().map_err(io_err(&self.log_path))?;
        }
        Ok(())
    }

    /// Unsafe mode: writes buffered records to the file (still without fsync). The driver
    /// calls it about once a second; that delay is the window the bug exposes.
    pub fn flush_buffer(&mut self) -> Result<(), StorageError> {
        if !self.buffer.is_empty() {
            self.log.write_all(&self.buffer).map_err(io_err(&self.log_path))?;
            self.file_len += self.buffer.len() as u64;
            self.buffer.clear();
        }
        Ok(())
    }
}

fn read_hard_state(path: &Path) -> Result<HardState, StorageError> {
    let corrupt = |problem: String| StorageError::Corrupt { path: path.to_path_buf(), problem };
    match std::fs::read(path) {
        Ok(bytes) => {
            // A term or vote silently changed could let this node vote twice in a term,
            // so any damage is refused, never guessed around.
            if bytes.len() < HEADER {
                return Err(corrupt(format!("not a term/vote record: {} bytes", bytes.len())));
            }
            let len = u32::from_le_bytes(bytes[..4].try_into().expect("4 bytes")) as usize;
            let crc = u32::from_le_bytes(bytes[4..8].try_into().expect("4 bytes"));
            let body = &bytes[HEADER..];
            if body.len() != len || crc32fast::hash(body) != crc {
                return Err(corrupt("the term/vote record fails its length or checksum".into()));
            }
            serde_json::from_slice(body).map_err(|e| corrupt(format!("not a term/vote record: {e}")))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(HardState::default()),
        Err(e) => Err(StorageError::Io { path: path.to_path_buf(), source: e }),
    }
}

/// Encodes a snapshot as the snapshot file's bytes.
pub fn encode_snapshot(snapshot: &Snapshot) -> Vec<u8> {
    let mut out = Vec::with_capacity(SNAPSHOT_HEADER + snapshot.data.len());
    out.extend_from_slice(SNAPSHOT_MAGIC);
    out.extend_from_slice(&snapshot.index.to_le_bytes());
    out.extend_from_slice(&snapshot.term.to_le_bytes());
    out.extend_from_slice(&(snapshot.data.len() as u64).to_le_bytes());
    let mut crc = crc32fast::Hasher::new();
    crc.update(&out[8..32]);
    crc.update(&snapshot.data);
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.extend_from_slice(&snapshot.data);
    out
}

fn read_snapshot(path: &Path) -> Result<Option<Snapshot>, StorageError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StorageError::Io { path: path.to_path_buf(), source: e }),
    };
    let corrupt = |problem: String| StorageError::Corrupt { path: path.to_path_buf(), problem };
    if bytes.len() < SNAPSHOT_HEADER || &bytes[..8] != SNAPSHOT_MAGIC {
        return Err(corrupt(format!("not a raft-kv snapshot ({} bytes, bad header)", bytes.len())));
    }
    let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    let (index, term, len) = (word(8), word(16), word(24));
    let crc = u32::from_le_bytes(bytes[32..36].try_into().expect("4 bytes"));
    let data = &bytes[SNAPSHOT_HEADER..];
    if data.len() as u64 != len {
        return Err(corrupt(format!(
            "snapshot of index {index} should hold {len} bytes of state, holds {}",
            data.len()
        )));
    }
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&bytes[8..32]);
    hasher.update(data);
    if hasher.finalize() != crc {
        return Err(corrupt(format!("snapshot of index {index} fails its checksum")));
    }
    Ok(Some(Snapshot { index, term, data: std::sync::Arc::new(data.to_vec()) }))
}

/// What a scan of the log found.
struct Scanned {
    entries: Vec<Entry>,
    offsets: Vec<u64>,
    valid_len: u64,
}

/// Parses records until a torn tail; returns the entries, their offsets and the length
/// of the valid prefix. A complete record with a bad checksum is an error.
fn scan_log(path: &Path, bytes: &[u8]) -> Result<Scanned, StorageError> {
    let mut entries: Vec<Entry> = Vec::new();
    let mut offsets = Vec::new();
    let mut pos = 0usize;
    while bytes.len() - pos >= HEADER {
        let len = u32::from_le_bytes(bytes[pos..pos + 4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().expect("4 bytes"));
        let start = pos + HEADER;
        if len > MAX_RECORD {
            return Err(StorageError::Corrupt {
                path: path.to_path_buf(),
                problem: format!(
                    "record at byte {pos} (after {} good entries) claims {len} bytes, more than any entry: the log is damaged; refusing to start",
                    entries.len()
                ),
            });
        }
        if bytes.len() - start < len {
            // Cut short: the write a crash interrupted (or a truncated file).
            break;
        }
        if crc32fast::hash(&bytes[start..start + len]) != crc {
            if start + len == bytes.len() {
                // The last record: a crash can leave its bytes allocated but unwritten.
                break;
            }
            return Err(StorageError::Corrupt {
                path: path.to_path_buf(),
                problem: format!(
                    "record at byte {pos} (after {} good entries) fails its checksum: the log is damaged, not torn; refusing to start",
                    entries.len()
                ),
            });
        }
        let entry: Entry =
            serde_json::from_slice(&bytes[start..start + len]).map_err(|e| StorageError::Corrupt {
                path: path.to_path_buf(),
                problem: format!("record at byte {pos} has a valid checksum but is not an entry: {e}"),
            })?;
        let expected = entries.last().map_or(entry.index, |e| e.index + 1);
        if entry.index != expected || entry.index == 0 {
            return Err(StorageError::Corrupt {
                path: path.to_path_buf(),
                problem: format!("record at byte {pos} holds index {}, expected {expected}", entry.index),
            });
        }
        offsets.push(pos as u64);
        entries.push(entry);
        pos = start + len;
    }
    Ok(Scanned { entries, offsets, valid_len: pos as u64 })
}
