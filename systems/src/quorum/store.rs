//! Durable state of a quorum-kv node: one append-only log in its data directory. Each
//! record is `[length u32 LE][crc32 u32 LE][JSON record]` and holds a key's whole state
//! after a change, a hint, a delivered hint, or a reservation of version-vector dots.
//! The driver appends what one batch changed and fsyncs once before any acknowledgement
//! leaves. On open the log is replayed (the last record of a key wins); a torn or
//! corrupt tail is cut off, and a log mostly made of superseded records is rewritten
//! compactly (temp file, fsync, rename, fsync the directory).

use crate::quorum::message::NodeId;
use crate::quorum::replica::Stored;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Name of the log file in the data directory.
pub const LOG_FILE: &str = "quorum-log";
const HEADER: usize = 8;
/// A log with more than this many records per live one is compacted at open.
const COMPACT_RATIO: usize = 4;
/// Logs shorter than this are never worth compacting.
const COMPACT_MIN_RECORDS: usize = 10_000;

/// One change to durable state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Record {
    /// A key's full state after a change.
    Put {
        /// Internal key.
        key: String,
        /// Its state.
        state: Stored,
    },
    /// A hint held for an unreachable replica (its full state after a change).
    Hint {
        /// The replica it belongs to.
        target: NodeId,
        /// Internal key.
        key: String,
        /// The state to hand off.
        state: Stored,
    },
    /// A hint its replica acknowledged.
    HintDone {
        /// The replica.
        target: NodeId,
        /// Internal key.
        key: String,
    },
    /// Dots up to this counter may have been issued; a restart issues only higher ones.
    Reserve {
        /// The highest reserved counter.
        dots: u64,
    },
}

/// What a replay found.
#[derive(Debug, Clone, Default)]
pub struct Recovered {
    /// Every key's latest state.
    pub data: BTreeMap<String, Stored>,
    /// Hints not yet delivered.
    pub hints: BTreeMap<(NodeId, String), Stored>,
    /// Highest reserved dot counter.
    pub dots_reserved: u64,
    /// Bytes cut from a torn or corrupt tail (0 when the log was clean).
    pub truncated_bytes: u64,
}

impl Recovered {
    fn apply(&mut self, record: Record) {
        match record {
            Record::Put { key, state } => {
                self.data.insert(key, state);
            }
            Record::Hint { target, key, state } => {
                self.hints.insert((target, key), state);
            }
            Record::HintDone { target, key } => {
                self.hints.remove(&(target, key));
            }
            Record::Reserve { dots } => self.dots_reserved = self.dots_reserved.max(dots),
        }
    }

    /// The fewest records that rebuild this state.
    fn records(&self) -> Vec<Record> {
        let mut out = vec![Record::Reserve { dots: self.dots_reserved }];
        out.extend(self.data.iter().map(|(k, s)| Record::Put { key: k.clone(), state: s.clone() }));
        out.extend(self.hints.iter().map(|((t, k), s)| Record::Hint {
            target: t.clone(),
            key: k.clone(),
            state: s.clone(),
        }));
        out
    }
}

/// Why the node's log could not be read or written.
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
    /// A record with a valid checksum that is not a record (not a torn tail: that is repaired).
    #[error("{path}: {problem}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the byte offset.
        problem: String,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StorageError + '_ {
    move |source| StorageError::Io { path: path.to_path_buf(), source }
}

/// Encodes one record for the log.
pub fn encode_record(record: &Record) -> Vec<u8> {
    let payload = serde_json::to_vec(record).expect("records serialize");
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

/// The open log of one node.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    log: File,
}

fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_err(dir))
}

impl Store {
    /// Opens (or creates) the log in `dir` and replays it.
    pub fn open(dir: &Path) -> Result<(Store, Recovered), StorageError> {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let path = dir.join(LOG_FILE);
        let mut log = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_err(&path))?;
        let mut bytes = Vec::new();
        log.read_to_end(&mut bytes).map_err(io_err(&path))?;
        let (mut recovered, count, valid) = replay(&path, &bytes)?;
        recovered.truncated_bytes = bytes.len() as u64 - valid;
        if recovered.truncated_bytes > 0 {
            log.set_len(valid).map_err(io_err(&path))?;
            log.sync_all().map_err(io_err(&path))?;
        }
        let live = 1 + recovered.data.len() + recovered.hints.len();
        if count >= COMPACT_MIN_RECORDS && count > COMPACT_RATIO * live {
            log = rewrite(dir, &path, &recovered.records())?;
        }
        log.seek(SeekFrom::End(0)).map_err(io_err(&path))?;
        sync_dir(dir)?;
        Ok((Store { path, log }, recovered))
    }

    /// Appends `records` and makes them durable with one fsync.
    pub fn append(&mut self, records: &[Record]) -> Result<(), StorageError> {
        if records.is_empty() {
            return Ok(());
        }
        let mut out = Vec::new();
        for r in records {
            out.extend_from_slice(&encode_record(r));
        }
        self.log.write_all(&out).map_err(io_err(&self.path))?;
        self.log.sync_data().map_err(io_err(&self.path))
    }
}

fn rewrite(dir: &Path, path: &Path, records: &[Record]) -> Result<File, StorageError> {
    let tmp = dir.join(format!("{LOG_FILE}.tmp"));
    let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
    let mut out = Vec::new();
    for r in records {
        out.extend_from_slice(&encode_record(r));
    }
    f.write_all(&out).map_err(io_err(&tmp))?;
    f.sync_all().map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err(path))?;
    sync_dir(dir)?;
    OpenOptions::new().read(true).write(true).open(path).map_err(io_err(path))
}

/// Replays records until the first torn or corrupt one; returns the state, the number of
/// records and the length of the valid prefix.
fn replay(path: &Path, bytes: &[u8]) -> Result<(Recovered, usize, u64), StorageError> {
    let mut recovered = Recovered::default();
    let mut count = 0;
    let mut pos = 0usize;
    while bytes.len() - pos >= HEADER {
        let len = u32::from_le_bytes(bytes[pos..pos + 4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().expect("4 bytes"));
        let start = pos + HEADER;
        if bytes.len() - start < len || crc32fast::hash(&bytes[start..start + len]) != crc {
            break;
        }
        let record: Record =
            serde_json::from_slice(&bytes[start..start + len]).map_err(|e| StorageError::Corrupt {
                path: path.to_path_buf(),
                problem: format!("record at byte {pos} has a valid checksum but is not a record: {e}"),
            })?;
        recovered.apply(record);
        count += 1;
        pos = start + len;
    }
    Ok((recovered, count, pos as u64))
}
