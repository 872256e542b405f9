//! The two durable logs of a node, each an append-only file in its data directory: the
//! participant's vote log ([`VOTE_LOG`]: genesis balances, yes votes with their locks
//! and writes, pre-commits, outcomes) and the coordinator's decision log
//! ([`DECISION_LOG`]: incarnations, commit decisions, completions). Both are replayed on
//! every start to rebuild the core.
//!
//! Each record is `[length u32 LE][crc32 u32 LE][JSON record]`. Appends are written at
//! once and made durable by [`DurableLog::sync`], which the driver calls once per batch
//! before anything of that batch leaves the node (group commit). On open, a torn tail
//! (a short header, a short record, or a checksum failure in the very last record: what a
//! crash in the middle of a write leaves) is cut off. A checksum failure with more data
//! after it is not a torn write but damage, and the node refuses to start rather than
//! silently forget a vote or a decision.

use crate::bank2pc::message::Record;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// File name of the participant's vote log.
pub const VOTE_LOG: &str = "bank2pc-votes.log";
/// File name of the coordinator's decision log.
pub const DECISION_LOG: &str = "bank2pc-decisions.log";
const HEADER: usize = 8;

/// Why a log could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// An I/O call failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// The file is damaged somewhere other than its tail.
    #[error("{path}: record at byte {offset}: {problem}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Where the bad record starts.
        offset: u64,
        /// What is wrong with it.
        problem: String,
    },
}

/// One open, append-only log file.
#[derive(Debug)]
pub struct DurableLog {
    path: PathBuf,
    file: File,
    unsynced: bool,
}

/// What [`DurableLog::open`] found.
#[derive(Debug, Default)]
pub struct Replayed {
    /// Every intact record, in order.
    pub records: Vec<Record>,
    /// Bytes cut from a torn tail (0 for a clean file).
    pub truncated_bytes: u64,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> LogError + '_ {
    move |source| LogError::Io { path: path.to_path_buf(), source }
}

/// Encodes one record as it is stored.
pub fn encode(record: &Record) -> Vec<u8> {
    let payload = serde_json::to_vec(record).expect("records serialize");
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

/// Parses records up to a torn tail; returns them and the length of the intact prefix.
fn scan(path: &Path, bytes: &[u8]) -> Result<(Vec<Record>, usize), LogError> {
    let mut records = Vec::new();
    let mut pos = 0usize;
    while bytes.len() - pos >= HEADER {
        let len = u32::from_le_bytes(bytes[pos..pos + 4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().expect("4 bytes"));
        let start = pos + HEADER;
        if bytes.len() - start < len {
            break;
        }
        let end = start + len;
        let payload = &bytes[start..end];
        if crc32fast::hash(payload) != crc {
            if end == bytes.len() {
                break;
            }
            return Err(LogError::Corrupt {
                path: path.to_path_buf(),
                offset: pos as u64,
                problem: format!("checksum mismatch with {} more bytes after it", bytes.len() - end),
            });
        }
        let record = serde_json::from_slice(payload).map_err(|e| LogError::Corrupt {
            path: path.to_path_buf(),
            offset: pos as u64,
            problem: format!("valid checksum but not a record: {e}"),
        })?;
        records.push(record);
        pos = end;
    }
    Ok((records, pos))
}

impl DurableLog {
    /// Opens (or creates) the log at `path`, cutting a torn tail; returns it with its
    /// records.
    pub fn open(path: &Path) -> Result<(DurableLog, Replayed), LogError> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io_err(path))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io_err(path))?;
        let (records, valid) = scan(path, &bytes)?;
        let truncated_bytes = (bytes.len() - valid) as u64;
        if truncated_bytes > 0 {
            file.set_len(valid as u64).map_err(io_err(path))?;
            file.sync_all().map_err(io_err(path))?;
        }
        file.seek(SeekFrom::Start(valid as u64)).map_err(io_err(path))?;
        if let Some(dir) = path.parent() {
            // The file's directory entry must survive a crash as well as its content.
            File::open(dir).and_then(|d| d.sync_all()).map_err(io_err(dir))?;
        }
        let log = DurableLog { path: path.to_path_buf(), file, unsynced: false };
        Ok((log, Replayed { records, truncated_bytes }))
    }

    /// Writes a record; durable only after the next [`DurableLog::sync`].
    pub fn append(&mut self, record: &Record) -> Result<(), LogError> {
        self.file.write_all(&encode(record)).map_err(io_err(&self.path))?;
        self.unsynced = true;
        Ok(())
    }

    /// Makes every append so far durable with one fsync (nothing to do if none).
    pub fn sync(&mut self) -> Result<(), LogError> {
        if self.unsynced {
            self.file.sync_data().map_err(io_err(&self.path))?;
            self.unsynced = false;
        }
        Ok(())
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
