//! Crash-recovery tests of raft-kv's storage on real files: what was synced comes back,
//! a torn or corrupt tail is cut and never returned, damage in the middle of the log or
//! in a snapshot makes the node refuse to start, snapshots compact the log and survive
//! a crash at any point of compaction, and the planted durability bugs really lose what
//! they claim to lose.

use serde_json::json;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use sunder_systems::kv::Command;
use sunder_systems::raft::message::{Entry, HardState, Payload, Snapshot};
use sunder_systems::raft::storage::{
    Durability, HARD_STATE_FILE, LOG_FILE, LogStorage, SNAPSHOT_FILE, StorageError, encode_record,
};

/// A fresh directory removed on drop, also when the test fails.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("sunder-raft-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn entry(index: u64, term: u64) -> Entry {
    let command = Command::Put { key: format!("k{index}"), value: json!(index * 10) };
    Entry { index, term, payload: Payload::Command { command } }
}

fn entries(from: u64, to: u64, term: u64) -> Vec<Entry> {
    (from..=to).map(|i| entry(i, term)).collect()
}

fn write_synced(dir: &Path, es: &[Entry]) {
    let (mut s, _) = LogStorage::open(dir, Durability::SAFE).expect("open");
    s.write_log(es[0].index, es).expect("write");
    s.sync().expect("sync");
}

fn log_len(dir: &Path) -> u64 {
    std::fs::metadata(dir.join(LOG_FILE)).expect("log file").len()
}

#[test]
fn reopening_returns_every_synced_entry_and_the_hard_state() {
    let dir = TempDir::new("reopen");
    {
        let (mut s, rec) = LogStorage::open(dir.path(), Durability::SAFE).expect("open");
        assert_eq!(rec.hard_state, HardState::default());
        assert!(rec.entries.is_empty());
        s.save_hard_state(&HardState { term: 7, vote: Some("n2".into()) }).expect("hard state");
        s.write_log(1, &entries(1, 10, 7)).expect("write");
        s.sync().expect("sync");
    }
    let (s, rec) = LogStorage::open(dir.path(), Durability::SAFE).expect("reopen");
    assert_eq!(rec.hard_state, HardState { term: 7, vote: Some("n2".into()) });
    assert_eq!(rec.entries, entries(1, 10, 7));
    assert_eq!(rec.truncated_bytes, 0);
    assert_eq!(s.last_index(), 10);
}

#[test]
fn torn_tail_is_cut_on_open_and_never_returned() {
    let dir = TempDir::new("torn");
    write_synced(dir.path(), &entries(1, 5, 1));
    let clean = log_len(dir.path());
    // A crash in the middle of writing record 6: its header and half its payload landed.
    let record = encode_record(&entry(6, 1));
    let mut f = OpenOptions::new().append(true).open(dir.path().join(LOG_FILE)).expect("open log");
    f.write_all(&record[..record.len() / 2]).expect("write torn record");
    drop(f);
    let (mut s, rec) = LogStorage::open(dir.path(), Durability::SAFE).expect("reopen");
    assert_eq!(rec.entries, entries(1, 5, 1));
    assert_eq!(rec.truncated_bytes, (record.len() / 2) as u64);
    assert_eq!(log_len(dir.path()), clean, "the torn bytes are gone from the file");
    // The repaired log takes new appends at the right place.
    s.write_log(6, &entries(6, 7, 2)).expect("append after repair");
    s.sync().expect("sync");
    drop(s);
    let (_, rec) = LogStorage::open(dir.path(), Durability::SAFE).expect("reopen again");
    assert_eq!(rec.entries.len(), 7);
    assert_eq!(rec.entries[6], entry(7, 2));
}

#[test]
fn torn_header_is_cut_on_open() {
    let dir = TempDir::new("torn-header");
    write_synced(dir.path(), &entries(1, 3, 1));
    let mut f = OpenOptions::new().append(true).open(dir.path().join(LOG_FILE)).expect("open log");
    f.write_all(&[42, 0, 0]).expect("three bytes of a header");
    drop(f);
    let (_, rec) = LogStorage::open(dir.path(), Durability::SAFE).expect("reopen");
    assert_eq!(rec.entries, entries(1, 3, 1));
    assert_eq!(rec.truncated_bytes, 3);
}

#[test]
fn corrupt_checksum_in_the_last_record_cuts_that_record() {
    let dir = TempDir::new("crc");
    write_synced(dir.path(), &entries(1, 4, 3));
    let path = dir.path().join(LOG_FILE);
    let mut bytes = std::fs::read(&path).expect("read log");
    let last = bytes.len() - 3;
    bytes[last] ^= 0x55;
    std::fs::write(&path, &bytes).expect("corrupt log");
    let (_, rec) = LogStorage::open(dir.path(), Durability::SAFE).expect("reopen");
    assert_eq!(rec.entries, entries(1, 3, 3), "the corrupt entry is never applied");
    assert_eq!(rec.truncated_bytes, encode_record(&entry(4, 3)).len() as u64);
}

#[test]
fn conflicting_suffix_is_replaced_and_stays_replaced_after_reopen() {
    let dir = TempDir::new("conflict");
    write_synced(dir.path(), &entries(1, 6, 1));
    {
        let (mut s, _) = LogStorage::open(dir.path(), Durability::SAFE).expect("open");
        s.write_log(3, &entries(3, 4, 2)).expect("overwrite from 3");
        s.sync().expect("sync");
    }
    let (_, rec) = LogStorage::open(dir.path(), Durability::SAFE).expect("reopen");
    let mut want = entries(1, 2, 1);
    want.extend(entries(3, 4, 2));
    assert_eq!(rec.entries, want);
}

#[test]
fn record_with_valid_checksum_but_wrong_index_is_an_error_naming_the_file() {
    let dir = TempDir::new("gap");
    let mut bytes = encode_record(&entry(1, 1));
    bytes.extend(encode_record(&entry(3, 1)));
    std::fs::write(dir.path().join(LOG_FILE), &bytes).expect("write log");
    let err = LogStorage::open(dir.path(), Durability::SAFE).expect_err("a gap is not a torn tail");
    let text = err.to_string();
    assert!(matches!(err, StorageError::Corrupt { .. }));
    assert!(text.contains(LOG_FILE) && text.contains("expected 2"), "{text}");
}

#[test]
fn unreadable_hard_state_is_an_error_naming_the_file() {
    let dir = TempDir::new("hard");
    std::fs::write(dir.path().join(HARD_STATE_FILE), b"{\"term\": ").expect("write");
    let err = LogStorage::open(dir.path(), Durability::SAFE).expect_err("garbage hard state");
    assert!(err.to_string().contains(HARD_STATE_FILE), "{err}");
}

#[test]
fn unsafe_vote_twice_forgets_the_vote_across_a_restart() {
    let dir = TempDir::new("vote");
    let forgetful = Durability { fsync: true, forget_vote: true };
    {
        let (mut s, _) = LogStorage::open(dir.path(), forgetful).expect("open");
        s.save_hard_state(&HardState { term: 4, vote: Some("n3".into()) }).expect("save");
    }
    let (_, rec) = LogStorage::open(dir.path(), forgetful).expect("reopen");
    assert_eq!(rec.hard_state, HardState { term: 4, vote: None });
}

#[test]
fn unsafe_no_fsync_loses_acknowledged_appends_when_the_process_dies() {
    let dir = TempDir::new("nofsync");
    let careless = Durability { fsync: false, forget_vote: false };
    {
        let (mut s, _) = LogStorage::open(dir.path(), careless).expect("open");
        s.write_log(1, &entries(1, 5, 1)).expect("write");
        s.sync().expect("sync is a no-op");
        // Dropped without a flush, as SIGKILL would: the buffered records never reach
        // the file.
    }
    let (_, rec) = LogStorage::open(dir.path(), careless).expect("reopen");
    assert!(rec.entries.is_empty(), "appends sat in a user-space buffer");
}

fn snapshot(index: u64, term: u64) -> Snapshot {
    Snapshot { index, term, data: Arc::new(format!("state as of {index}").into_bytes()) }
}

#[test]
fn compaction_keeps_the_snapshot_and_only_the_entries_after_it() {
    let dir = TempDir::new("compact");
    write_synced(dir.path(), &entries(1, 10, 1));
    let before = log_len(dir.path());
    {
        let (mut s, _) = LogStorage::open(dir.path(), Durability::SAFE).expect("open");
        s.compact(&snapshot(7, 1)).expect("compact");
        assert_eq!(s.last_index(), 10);
        s.write_log(11, &entries(11, 12, 2)).expect("append after compaction");
        s.sync().expect("sync");
    }
    let (s, rec) = LogStorage::open(dir.path(), Durability::SAFE).expect("reopen");
    assert_eq!(rec.snapshot, Some(snapshot(7, 1)));
    let mut tail = entries(8, 10, 1);
    tail.extend(entries(11, 12, 2));
    assert_eq!(rec.entries, tail, "restart is the snapshot plus the log tail");
    assert_eq!(s.snapshot_index(), 7);
    assert!(log_len(dir.path()) < before, "the compacted prefix left the file");
}

#[test]
fn a_crash_between_snapshot_and_log_rewrite_leaves_a_log_that_merely_starts_early() {
    let dir = TempDir::new("early");
    write_synced(dir.path(), &entries(1, 10, 1));
    // What compaction leaves if it dies after the snapshot's rename: the old full log.
    let snap = sunder_systems::raft::storage::encode_snapshot(&snapshot(6, 1));
    std::fs::write(dir.path().join(SNAPSHOT_FILE), snap).expect("snapshot");
    let (_, rec) = LogStorage::open(dir.path(), Durability::SAFE).expect("reopen");
    assert_eq!(rec.snapshot.map(|s| s.index), Some(6));
    assert_eq!(rec.entries, entries(7, 10, 1));
}

#[test]
fn a_log_that_starts_after_the_snapshot_ends_is_refused() {
    let dir = TempDir::new("gap");
    write_synced(dir.path(), &entries(1, 10, 1));
    {
        let (mut s, _) = LogStorage::open(dir.path(), Durability::SAFE).expect("open");
        s.compact(&snapshot(8, 1)).expect("compact");
    }
    std::fs::remove_file(dir.path().join(SNAPSHOT_FILE)).expect("lose the snapshot");
    let err = LogStorage::open(dir.path(), Durability::SAFE).expect_err("a gap must be refused");
    assert!(err.to_string().contains(LOG_FILE) && err.to_string().contains("missing"), "{err}");
}

#[test]
fn a_bit_flipped_in_the_snapshot_is_refused_naming_the_file() {
    let dir = TempDir::new("snapflip");
    write_synced(dir.path(), &entries(1, 4, 1));
    {
        let (mut s, _) = LogStorage::open(dir.path(), Durability::SAFE).expect("open");
        s.compact(&snapshot(3, 1)).expect("compact");
    }
    let path = dir.path().join(SNAPSHOT_FILE);
    let mut bytes = std::fs::read(&path).expect("read");
    let last = bytes.len() - 1;
    bytes[last] ^= 0x10;
    std::fs::write(&path, &bytes).expect("flip");
    let err = LogStorage::open(dir.path(), Durability::SAFE).expect_err("a damaged snapshot is refused");
    assert!(matches!(err, StorageError::Corrupt { .. }));
    assert!(err.to_string().contains(SNAPSHOT_FILE) && err.to_string().contains("checksum"), "{err}");
    bytes.truncate(20);
    std::fs::write(&path, &bytes).expect("truncate");
    let err = LogStorage::open(dir.path(), Durability::SAFE).expect_err("a truncated snapshot is refused");
    assert!(err.to_string().contains(SNAPSHOT_FILE), "{err}");
}

#[test]
fn a_bit_flipped_before_the_last_record_is_refused_not_cut() {
    let dir = TempDir::new("midflip");
    write_synced(dir.path(), &entries(1, 5, 1));
    let path = dir.path().join(LOG_FILE);
    let mut bytes = std::fs::read(&path).expect("read");
    let second = encode_record(&entry(1, 1)).len();
    bytes[second + 12] ^= 0x01;
    std::fs::write(&path, &bytes).expect("flip");
    let err = LogStorage::open(dir.path(), Durability::SAFE).expect_err("mid-log damage is refused");
    let text = err.to_string();
    assert!(text.contains(LOG_FILE) && text.contains("checksum") && text.contains("refusing"), "{text}");
    assert_eq!(std::fs::read(&path).expect("read"), bytes, "a refused log is left as found");
}

#[test]
fn installing_a_snapshot_replaces_the_log_with_the_kept_tail() {
    let dir = TempDir::new("install");
    write_synced(dir.path(), &entries(1, 3, 1));
    {
        let (mut s, _) = LogStorage::open(dir.path(), Durability::SAFE).expect("open");
        s.install(&snapshot(20, 2), &entries(21, 22, 2)).expect("install");
    }
    let (_, rec) = LogStorage::open(dir.path(), Durability::SAFE).expect("reopen");
    assert_eq!(rec.snapshot.map(|s| s.index), Some(20));
    assert_eq!(rec.entries, entries(21, 22, 2));
}
