//! Tests of bank-2pc's durable logs on real files in a temp directory: records replay in
//! order across reopen, a torn tail is cut, a checksum failure in the last record is a
//! torn write and cut, damage before the end is refused with the file and offset, and a
//! core rebuilt from the files is in doubt exactly where it was.

use serde_json::json;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use sunder_systems::bank2pc::core::{Core, CoreConfig};
use sunder_systems::bank2pc::log::{DurableLog, LogError, encode};
use sunder_systems::bank2pc::message::{LockMode, Record, TxnId};

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("sunder-bank2pc-log-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn txn(seq: u64) -> TxnId {
    TxnId { coordinator: "n1".into(), incarnation: 1, seq }
}

fn records() -> Vec<Record> {
    vec![
        Record::Genesis { balances: BTreeMap::from([("a0".to_string(), 100)]) },
        Record::Voted {
            txn: txn(1),
            locks: vec![("a0".into(), LockMode::Exclusive)],
            writes: BTreeMap::from([("a0".to_string(), json!(70))]),
            reads: vec![],
        },
        Record::Finished { txn: txn(1), commit: true },
    ]
}

fn write_all(path: &std::path::Path, rs: &[Record]) {
    let (mut log, replayed) = DurableLog::open(path).expect("open");
    assert!(replayed.records.is_empty());
    for r in rs {
        log.append(r).expect("append");
    }
    log.sync().expect("sync");
}

fn append_bytes(path: &std::path::Path, bytes: &[u8]) {
    let mut f = std::fs::OpenOptions::new().append(true).open(path).expect("open for append");
    f.write_all(bytes).expect("append bytes");
}

#[test]
fn records_replay_in_order_after_reopen() {
    let dir = TempDir::new("replay");
    let path = dir.0.join("votes.log");
    write_all(&path, &records());
    let (_, replayed) = DurableLog::open(&path).expect("reopen");
    assert_eq!(replayed.records, records());
    assert_eq!(replayed.truncated_bytes, 0);
}

#[test]
fn torn_tail_is_cut_and_appends_continue_after_it() {
    for (name, tail) in [
        ("short-header", vec![9u8, 0, 0]),
        ("short-payload", {
            let mut rec = encode(&Record::Ended { txn: txn(2) });
            rec.truncate(rec.len() - 3);
            rec
        }),
    ] {
        let dir = TempDir::new(name);
        let path = dir.0.join("decisions.log");
        write_all(&path, &records());
        append_bytes(&path, &tail);
        let (mut log, replayed) = DurableLog::open(&path).expect("reopen");
        assert_eq!(replayed.records, records(), "{name}");
        assert_eq!(replayed.truncated_bytes, tail.len() as u64, "{name}");
        log.append(&Record::Ended { txn: txn(3) }).expect("append");
        log.sync().expect("sync");
        drop(log);
        let (_, again) = DurableLog::open(&path).expect("reopen");
        assert_eq!(again.records.len(), records().len() + 1, "{name}: the new record follows the cut");
        assert_eq!(again.truncated_bytes, 0);
    }
}

#[test]
fn bad_checksum_in_the_last_record_is_a_torn_write_and_cut() {
    let dir = TempDir::new("bad-crc-last");
    let path = dir.0.join("votes.log");
    write_all(&path, &records());
    let mut rec = encode(&Record::Finished { txn: txn(9), commit: false });
    let last = rec.len() - 1;
    rec[last] ^= 0xff;
    append_bytes(&path, &rec);
    let (_, replayed) = DurableLog::open(&path).expect("reopen");
    assert_eq!(replayed.records, records());
    assert_eq!(replayed.truncated_bytes, rec.len() as u64);
}

#[test]
fn bad_checksum_before_more_records_is_refused_naming_file_and_offset() {
    let dir = TempDir::new("bad-crc-middle");
    let path = dir.0.join("votes.log");
    write_all(&path, &records());
    let mut bytes = std::fs::read(&path).expect("read");
    let first = encode(&records()[0]).len();
    // Damage the second record's payload; the third stays intact after it.
    bytes[first + 10] ^= 0xff;
    std::fs::write(&path, &bytes).expect("write");
    match DurableLog::open(&path) {
        Err(e @ LogError::Corrupt { offset, .. }) => {
            assert_eq!(offset, first as u64);
            let msg = e.to_string();
            assert!(msg.contains("votes.log") && msg.contains("checksum"), "{msg}");
        }
        other => panic!("expected a corruption error, got {other:?}"),
    }
    assert_eq!(std::fs::read(&path).expect("read"), bytes, "a refused log is left as found");
}

#[test]
fn core_rebuilt_from_its_files_is_in_doubt_with_its_locks() {
    let dir = TempDir::new("core");
    let nodes = vec!["n1".to_string(), "n2".to_string()];
    let mut cfg = CoreConfig::new("n2", nodes);
    cfg.accounts = vec!["a0".into()];
    let path = dir.0.join("votes.log");
    let voted = Record::Voted {
        txn: txn(1),
        locks: vec![("a0".into(), LockMode::Exclusive)],
        writes: BTreeMap::from([("a0".to_string(), json!(70))]),
        reads: vec![],
    };
    write_all(&path, &[Record::Genesis { balances: BTreeMap::from([("a0".to_string(), 100)]) }, voted]);
    let (_, replayed) = DurableLog::open(&path).expect("reopen");
    let core = Core::open(cfg, &replayed.records, 0);
    let s = core.status();
    assert_eq!(s.in_doubt.len(), 1);
    assert_eq!(s.in_doubt[0].coordinator, "n1");
    assert_eq!(s.locks, vec![("a0".to_string(), txn(1), LockMode::Exclusive)]);
    assert_eq!(core.value("a0"), json!(100), "the vote's write waits for the outcome");
}
