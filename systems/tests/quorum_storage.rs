//! The quorum-kv log on real files in temp directories: what was appended (and so
//! acknowledged) comes back after a restart, a torn or corrupt tail is cut without
//! losing the records before it, a checksummed record that is not a record is a clear
//! error, hints persist, a log of superseded records is compacted, and a restarted
//! core never reissues a version-vector dot.

use serde_json::json;
use std::io::Write;
use std::path::PathBuf;
use sunder_systems::quorum::clock::Stamp;
use sunder_systems::quorum::coordinator::{ClientOp, Core, CoreConfig, Time};
use sunder_systems::quorum::options::{CasMode, QuorumOptions, Resolve};
use sunder_systems::quorum::replica::Stored;
use sunder_systems::quorum::store::{LOG_FILE, Record, StorageError, Store, encode_record};

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("sunder-quorum-storage-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn lww(time: u64, v: i64) -> Stored {
    Stored::Lww { stamp: Stamp { time, logical: 0, node: "n1".into() }, value: json!(v) }
}

fn put(key: &str, time: u64, v: i64) -> Record {
    Record::Put { key: key.into(), state: lww(time, v) }
}

fn append_raw(dir: &TempDir, bytes: &[u8]) {
    let mut f = std::fs::OpenOptions::new().append(true).open(dir.0.join(LOG_FILE)).expect("log");
    f.write_all(bytes).expect("append");
}

#[test]
fn restart_keeps_acknowledged_writes() {
    let dir = TempDir::new("restart");
    let (mut store, rec) = Store::open(&dir.0).expect("open");
    assert!(rec.data.is_empty());
    store.append(&[put("kv/a", 1, 1), put("kv/b", 2, 2)]).expect("append");
    store.append(&[put("kv/a", 3, 3)]).expect("append");
    drop(store);
    let (_, rec) = Store::open(&dir.0).expect("reopen");
    assert_eq!(rec.data.len(), 2);
    assert_eq!(rec.data["kv/a"], lww(3, 3), "the last record of a key wins");
    assert_eq!(rec.data["kv/b"], lww(2, 2));
    assert_eq!(rec.truncated_bytes, 0);
}

#[test]
fn a_torn_tail_is_cut_and_the_records_before_it_kept() {
    let dir = TempDir::new("torn");
    let (mut store, _) = Store::open(&dir.0).expect("open");
    store.append(&[put("kv/a", 1, 1)]).expect("append");
    drop(store);
    let whole = encode_record(&put("kv/b", 2, 2));
    append_raw(&dir, &whole[..whole.len() - 3]);
    let (mut store, rec) = Store::open(&dir.0).expect("reopen");
    assert_eq!(rec.truncated_bytes, whole.len() as u64 - 3);
    assert_eq!(rec.data.keys().collect::<Vec<_>>(), vec!["kv/a"]);
    // Appends after the cut land on a clean record boundary.
    store.append(&[put("kv/c", 3, 3)]).expect("append");
    drop(store);
    let (_, rec) = Store::open(&dir.0).expect("reopen again");
    assert_eq!(rec.truncated_bytes, 0);
    assert_eq!(rec.data.len(), 2);
}

#[test]
fn a_record_with_a_bad_checksum_ends_the_log_there() {
    let dir = TempDir::new("crc");
    let (mut store, _) = Store::open(&dir.0).expect("open");
    store.append(&[put("kv/a", 1, 1)]).expect("append");
    drop(store);
    let mut bad = encode_record(&put("kv/b", 2, 2));
    bad[4] ^= 0xff;
    append_raw(&dir, &bad);
    append_raw(&dir, &encode_record(&put("kv/c", 3, 3)));
    let (_, rec) = Store::open(&dir.0).expect("reopen");
    assert_eq!(rec.data.keys().collect::<Vec<_>>(), vec!["kv/a"]);
    assert!(rec.truncated_bytes > 0);
}

#[test]
fn a_checksummed_record_that_is_not_a_record_names_the_file_and_offset() {
    let dir = TempDir::new("garbage");
    let (mut store, _) = Store::open(&dir.0).expect("open");
    store.append(&[put("kv/a", 1, 1)]).expect("append");
    drop(store);
    let offset = std::fs::metadata(dir.0.join(LOG_FILE)).expect("log").len();
    let payload = b"{\"not\":\"a record\"}";
    let mut rec = (payload.len() as u32).to_le_bytes().to_vec();
    rec.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    rec.extend_from_slice(payload);
    append_raw(&dir, &rec);
    let err = Store::open(&dir.0).expect_err("garbage must not be replayed");
    assert!(matches!(err, StorageError::Corrupt { .. }));
    let msg = err.to_string();
    assert!(msg.contains(LOG_FILE) && msg.contains(&format!("byte {offset}")), "{msg}");
}

#[test]
fn hints_and_their_delivery_survive_a_restart() {
    let dir = TempDir::new("hints");
    let (mut store, _) = Store::open(&dir.0).expect("open");
    store
        .append(&[
            Record::Hint { target: "n2".into(), key: "kv/a".into(), state: lww(1, 1) },
            Record::Hint { target: "n3".into(), key: "kv/b".into(), state: lww(2, 2) },
            Record::HintDone { target: "n2".into(), key: "kv/a".into() },
        ])
        .expect("append");
    drop(store);
    let (_, rec) = Store::open(&dir.0).expect("reopen");
    assert_eq!(rec.hints.len(), 1);
    assert_eq!(rec.hints[&("n3".to_string(), "kv/b".to_string())], lww(2, 2));
}

#[test]
fn a_log_of_superseded_records_is_compacted_at_open_without_losing_state() {
    let dir = TempDir::new("compact");
    let (mut store, _) = Store::open(&dir.0).expect("open");
    let records: Vec<Record> = (0..20_000).map(|i| put(&format!("kv/{}", i % 10), i, i as i64)).collect();
    store.append(&records).expect("append");
    drop(store);
    let before = std::fs::metadata(dir.0.join(LOG_FILE)).expect("log").len();
    let (_, rec) = Store::open(&dir.0).expect("reopen");
    let after = std::fs::metadata(dir.0.join(LOG_FILE)).expect("log").len();
    assert!(after * 100 < before, "not compacted: {before} -> {after} bytes");
    let (_, again) = Store::open(&dir.0).expect("reopen compacted");
    assert_eq!(again.data, rec.data);
    assert_eq!(again.data["kv/9"], lww(19_999, 19_999));
}

fn vclock_options() -> QuorumOptions {
    QuorumOptions {
        n: 1,
        r: 1,
        w: 1,
        timeout_ms: 100,
        resolve: Resolve::Vclock,
        crdt: true,
        read_repair: false,
        read_writeback: false,
        sloppy: false,
        anti_entropy_ms: 0,
        cas: CasMode::None,
        debug_store_delay_ms: 0,
    }
}

/// Runs a single-node core's write to completion and persists what it asked to.
fn write_once(core: &mut Core, store: &mut Store, client: u64, op: ClientOp) {
    core.client(client, op, Time { mono_ms: 1, wall_ms: 1 });
    let ready = core.ready();
    store.append(&ready.persist).expect("persist");
    assert_eq!(ready.replies.len(), 1, "a one-node write answers at once");
}

#[test]
fn a_restarted_core_never_reissues_a_dot() {
    let dir = TempDir::new("dots");
    let cfg = CoreConfig {
        id: "n1".into(),
        nodes: vec!["n1".into()],
        opts: vclock_options(),
        seed: 1,
        incarnation: 1,
    };
    let (mut store, rec) = Store::open(&dir.0).expect("open");
    let mut core = Core::new(cfg.clone(), rec);
    write_once(&mut core, &mut store, 1, ClientOp::KvPut { key: "x".into(), value: json!(1), context: None });
    drop((core, store));
    let (mut store, rec) = Store::open(&dir.0).expect("reopen");
    let mut core = Core::new(CoreConfig { incarnation: 2, ..cfg }, rec);
    // A write from an empty context must stay a sibling of the one made before the restart.
    let empty = Some(Default::default());
    write_once(
        &mut core,
        &mut store,
        2,
        ClientOp::KvPut { key: "x".into(), value: json!(2), context: empty },
    );
    match core.local("kv/x") {
        Some(Stored::Siblings(s)) => assert_eq!(s.values(), vec![json!(1), json!(2)]),
        other => panic!("expected two siblings, got {other:?}"),
    }
}
