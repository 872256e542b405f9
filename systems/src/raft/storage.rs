//! Durable state of a raft-kv node in its data directory: the term-and-vote record and
//! the append-only log. The hard state is replaced atomically (write a temp file, fsync,
//! rename, fsync the directory). Each log record is `[length u32 LE][crc32 u32 LE][JSON
//! entry]`; on open a torn or corrupt tail (short record, checksum mismatch) is cut off
//! so a half-written entry is never applied. Appends are written without syncing and
//! [`LogStorage::sync`] makes all of them durable with one fsync: the driver calls it
//! once per batch, which is the group commit.

use crate::raft::message::{Entry, HardState};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Name of the hard-state file in the data directory.
pub const HARD_STATE_FILE: &str = "raft-hardstate.json";
/// Name of the log file in the data directory.
pub const LOG_FILE: &str = "raft-log";
const HEADER: usize = 8;
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
    /// The valid log, entries 1..=n.
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
    /// Byte offset where entry `i` starts is `offsets[i - 1]`.
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
    let payload = serde_json::to_vec(entry).expect("entries serialize");
    let mut rec = Vec::with_capacity(HEADER + payload.len());
    rec.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    rec.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    rec.extend_from_slice(&payload);
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
        let (entries, offsets, valid_len) = scan_log(&log_path, &bytes)?;
        let truncated_bytes = bytes.len() as u64 - valid_len;
        if truncated_bytes > 0 {
            log.set_len(valid_len).map_err(io_err(&log_path))?;
            log.sync_all().map_err(io_err(&log_path))?;
        }
        log.seek(SeekFrom::Start(valid_len)).map_err(io_err(&log_path))?;
        sync_dir(dir)?;
        let storage = LogStorage {
            dir: dir.to_path_buf(),
            log_path,
            log,
            offsets,
            file_len: valid_len,
            buffer: Vec::new(),
            durability,
        };
        Ok((storage, Recovered { hard_state, entries, truncated_bytes }))
    }

    /// Replaces the term-and-vote record atomically and durably.
    pub fn save_hard_state(&mut self, hard: &HardState) -> Result<(), StorageError> {
        let mut hard = hard.clone();
        if self.durability.forget_vote {
            hard.vote = None;
        }
        let path = self.dir.join(HARD_STATE_FILE);
        let tmp = self.dir.join(format!("{HARD_STATE_FILE}.tmp"));
        let body = serde_json::to_vec(&hard).expect("hard state serializes");
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

    /// Number of entries stored (written or buffered).
    pub fn last_index(&self) -> u64 {
        self.offsets.len() as u64
    }

    /// Makes the log hold its entries before `from`, then `entries` (whose first index is
    /// `from`). Not durable until [`LogStorage::sync`].
    pub fn write_log(&mut self, from: u64, entries: &[Entry]) -> Result<(), StorageError> {
        debug_assert!(from >= 1 && from <= self.last_index() + 1);
        if from <= self.last_index() {
            self.flush_buffer()?;
            let cut = self.offsets[from as usize - 1];
            self.log.set_len(cut).map_err(io_err(&self.log_path))?;
            self.log.seek(SeekFrom::Start(cut)).map_err(io_err(&self.log_path))?;
            self.offsets.truncate(from as usize - 1);
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
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| StorageError::Corrupt {
            path: path.to_path_buf(),
            problem: format!("not a term/vote record: {e}"),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(HardState::default()),
        Err(e) => Err(StorageError::Io { path: path.to_path_buf(), source: e }),
    }
}

/// Parses records until the first torn or corrupt one; returns the entries, their
/// offsets and the length of the valid prefix.
fn scan_log(path: &Path, bytes: &[u8]) -> Result<(Vec<Entry>, Vec<u64>, u64), StorageError> {
    let mut entries = Vec::new();
    let mut offsets = Vec::new();
    let mut pos = 0usize;
    while bytes.len() - pos >= HEADER {
        let len = u32::from_le_bytes(bytes[pos..pos + 4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().expect("4 bytes"));
        let start = pos + HEADER;
        if bytes.len() - start < len || crc32fast::hash(&bytes[start..start + len]) != crc {
            break;
        }
        let entry: Entry =
            serde_json::from_slice(&bytes[start..start + len]).map_err(|e| StorageError::Corrupt {
                path: path.to_path_buf(),
                problem: format!("record at byte {pos} has a valid checksum but is not an entry: {e}"),
            })?;
        let expected = entries.len() as u64 + 1;
        if entry.index != expected {
            return Err(StorageError::Corrupt {
                path: path.to_path_buf(),
                problem: format!("record at byte {pos} holds index {}, expected {expected}", entry.index),
            });
        }
        offsets.push(pos as u64);
        entries.push(entry);
        pos = start + len;
    }
    Ok((entries, offsets, pos as u64))
}
