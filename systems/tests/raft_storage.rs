//! Crash-recovery tests of raft-kv's storage on real files: what was synced comes back,
//! a torn or corrupt tail is cut and never returned, and the planted durability bugs
//! really lose what they claim to lose.

use serde_json::json;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use sunder_systems::kv::Command;
use sunder_systems::raft::message::{Entry, HardState, Payload};
use sunder_systems::raft::storage::{
    Durability, HARD_STATE_FILE, LOG_FILE, LogStorage, StorageError, encode_record,
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
