//! Foreign histories read as their authors wrote them, and hostile input refused: a raw
//! Jepsen console log is recognised without `--format`, a witness names the file's own
//! `:index`, a Jepsen register starts as Knossos's does, and every broken or hostile input
//! the fuzzing of issue 11 found gets a located error or the right verdict.

mod ladder_support;

use ladder_support::data_dir;
use serde_json::Value;
use std::path::Path;
use sunder_check::Validity;
use sunder_check::history::OpNumbering;
use sunder_check::import::{Format, load, parse};
use sunder_check::linearizable::{Budget, FailSemantics, ModelKind, check};

mod scratch;
use scratch::Scratch;

fn budget() -> Budget {
    Budget { time: Some(std::time::Duration::from_secs(60)), ..Budget::default() }
}

fn error_of(path: &Path) -> String {
    load(path, Format::Auto).expect_err("the input must be refused").to_string()
}

#[test]
fn reads_a_raw_jepsen_console_log_without_being_told_its_format() {
    let plain_path = data_dir().join("porcupine/etcd/etcd_000.log");
    let plain = std::fs::read_to_string(&plain_path).unwrap();
    let header = "lein test jepsen.etcd-test\n\
                  INFO  jepsen.core - Running test jepsen.etcd-test with nodes [n1 n2 n3 n4 n5]\n\
                  INFO  jepsen.os.debian - n1 setting up debian\n\
                  INFO  jepsen.util - Relative time begins now\n";
    let trailer = "INFO  jepsen.core - Run complete, writing\n\
                   {:valid? false,\n :configs ({:model #knossos.model.CASRegister{:value 3}})}\n\
                   \n\
                   Ran 1 tests containing 1 assertions.\n\
                   1 failures, 0 errors.\n";
    let scratch = Scratch::new("import-trust", "console");
    let console = scratch.write("console.log", format!("{header}{plain}{trailer}"));

    let from_console = load(&console, Format::Auto).unwrap_or_else(|e| panic!("{e}"));
    let from_plain = load(&plain_path, Format::Auto).unwrap();
    assert_eq!(from_console.format, Format::JepsenLog);
    assert_eq!(from_console.history.ops(), from_plain.history.ops());
    // Four header lines and five trailer lines that are not blank.
    assert_eq!(from_console.skipped.count, 9);
    assert_eq!(from_console.skipped.first[..4], [1, 2, 3, 4]);
    assert_eq!(from_console.source_json()["skipped-lines"], 9);

    let model = ModelKind::CasRegister { initial: None };
    let verdict = check(&from_console.history, model, from_console.fail_semantics, &budget()).valid;
    assert_eq!(verdict, Validity::Invalid, "the manifest says etcd_000 is not linearizable");
}

/// `text` with `:index` added to every op map, numbered `first, first + step, ...`.
fn with_gapped_indices(text: &str, first: u64, step: u64) -> String {
    let mut next = first;
    text.lines()
        .map(|line| match line.find("{:") {
            Some(at) => {
                let numbered = format!("{}{{:index {next}, {}", &line[..at], &line[at + 1..]);
                next += step;
                numbered
            }
            None => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_witness_on_a_jepsen_file_with_gapped_indices_names_the_files_indices() {
    let plain_path = data_dir().join("knossos/cas-register/bad/cas-failure.edn");
    let plain_text = std::fs::read_to_string(&plain_path).unwrap();
    let scratch = Scratch::new("import-trust", "gaps");
    let gapped_path = scratch.write("gapped.edn", with_gapped_indices(&plain_text, 7, 3));

    let model = || ModelKind::CasRegister { initial: Some(0.into()) };
    let plain = load(&plain_path, Format::Auto).unwrap();
    let gapped = load(&gapped_path, Format::Auto).unwrap();
    assert_eq!(plain.history.op_numbering(), OpNumbering::Position);
    assert_eq!(gapped.history.op_numbering(), OpNumbering::Index);
    assert_eq!(gapped.source_json()["op-numbers"], "index");
    assert_eq!(sunder_check::stats::stats(&gapped.history).op_numbers, OpNumbering::Index);

    let by_position = check(&plain.history, model(), plain.fail_semantics, &budget());
    let by_index = check(&gapped.history, model(), gapped.fail_semantics, &budget());
    assert_eq!((by_position.valid, by_index.valid), (Validity::Invalid, Validity::Invalid));
    let named: Vec<u64> = by_index.anomalies[0].ops.clone();
    let expected: Vec<u64> = by_position.anomalies[0].ops.iter().map(|p| 7 + 3 * p).collect();
    assert!(!named.is_empty());
    assert_eq!(named, expected, "the witness must name the file's :index values");
    let witness = &by_index.anomalies[0].witness;
    let failed = witness["failed"].as_u64().expect("the witness names its failed op");
    assert_eq!(failed, 7 + 3 * by_position.anomalies[0].witness["failed"].as_u64().unwrap());
    let prefix: Vec<u64> = serde_json::from_value(witness["prefix"].clone()).unwrap();
    assert!(prefix.iter().all(|i| *i >= 7 && (i - 7) % 3 == 0), "{prefix:?}");
    assert!(
        by_index.anomalies[0].explanation.contains(&format!("(op {failed})")),
        "{}",
        by_index.anomalies[0].explanation
    );
}

/// Four ops: a write of 1 that completes, then a read that returns nil.
fn nil_read_after_write(format: Format) -> String {
    match format {
        Format::JepsenEdn => "[{:process 0, :type :invoke, :f :write, :value 1}\n \
             {:process 0, :type :ok, :f :write, :value 1}\n \
             {:process 1, :type :invoke, :f :read, :value nil}\n \
             {:process 1, :type :ok, :f :read, :value nil}]\n"
            .into(),
        _ => [(0, 0, "invoke", "write", "1"), (1, 0, "ok", "write", "1"), (2, 1, "invoke", "read", "null"), (3, 1, "ok", "read", "null")]
            .iter()
            .map(|(i, p, t, f, v)| {
                format!("{{\"index\":{i},\"time\":{i},\"process\":{p},\"type\":\"{t}\",\"f\":\"{f}\",\"value\":{v}}}\n")
            })
            .collect(),
    }
}

#[test]
fn a_jepsen_register_reads_nil_as_knossos_does() {
    let judge = |text: &str, asked: &str| {
        let imported = parse(Path::new("h"), text, Format::Auto).unwrap();
        let model = imported.model_as_meant(asked.parse().unwrap());
        check(&imported.history, model, imported.fail_semantics, &budget()).valid
    };
    // Knossos: a nil read observed nothing, so a nil read after a write is no violation.
    let edn = nil_read_after_write(Format::JepsenEdn);
    assert_eq!(judge(&edn, "cas-register"), Validity::Valid);
    assert_eq!(judge(&edn, "register"), Validity::Valid);
    // Sunder's own file reads null as "never written": the same ops are not linearizable.
    let jsonl = nil_read_after_write(Format::Jsonl);
    assert_eq!(judge(&jsonl, "cas-register"), Validity::Invalid);
    // A model string with its own initial value is kept as given.
    let imported = parse(Path::new("h"), &edn, Format::Auto).unwrap();
    assert_eq!(
        imported.model_as_meant("cas-register 0".parse().unwrap()),
        ModelKind::CasRegister { initial: Some(0.into()) }
    );
}

#[test]
fn nil_reads_before_any_write_are_valid_in_a_knossos_register_from_zero() {
    let text = "[{:process 0, :type :invoke, :f :read, :value nil}\n \
                {:process 0, :type :ok, :f :read, :value nil}\n \
                {:process 1, :type :invoke, :f :cas, :value [0 2]}\n \
                {:process 1, :type :ok, :f :cas, :value [0 2]}\n \
                {:process 0, :type :invoke, :f :read, :value nil}\n \
                {:process 0, :type :ok, :f :read, :value 2}]\n";
    let imported = parse(Path::new("h.edn"), text, Format::Auto).unwrap();
    for asked in ["cas-register 0", "(cas-register 0)"] {
        let model = imported.model_as_meant(asked.parse().unwrap());
        assert_eq!(
            check(&imported.history, model, FailSemantics::NotApplied, &budget()).valid,
            Validity::Valid
        );
    }
}

#[test]
fn refuses_devices_and_directories_before_reading_them() {
    assert_eq!(
        error_of(Path::new("/dev/zero")),
        "/dev/zero: is a character device, not a history file; use - to read a history from standard input"
    );
    let scratch = Scratch::new("import-trust", "dir");
    let e = error_of(&scratch.0);
    assert!(e.ends_with(": is a directory (give a history file, or a run folder holding history.jsonl); use - to read a history from standard input"), "{e}");
    assert_eq!(e.matches("directory").count(), 1, "{e}");
}

#[test]
fn a_nul_in_a_knossos_keyword_is_an_error_not_another_key() {
    let path = data_dir().join("knossos/cas-register/good/memstress3-1.edn");
    let text = std::fs::read_to_string(&path).unwrap();
    let at = text.find(":value").expect("a Knossos history has :value");
    let hostile = format!("{}:val\0ue{}", &text[..at], &text[at + ":value".len()..]);
    let line = 1 + text[..at].matches('\n').count();
    let column = at - text[..at].rfind('\n').map_or(0, |p| p + 1) + 5;
    let scratch = Scratch::new("import-trust", "nul");
    let e = error_of(&scratch.write("nul.edn", hostile));
    assert!(e.ends_with(&format!("nul.edn:{line}:{column}: control byte 0x00 inside a keyword")), "{e}");
}

#[test]
fn escapes_terminal_controls_that_reach_an_error() {
    let scratch = Scratch::new("import-trust", "escape");
    let path = scratch.write(
        "h.log",
        "INFO  jepsen.util - 0\t:invoke\t:read\tnil\nINFO  jepsen.util - \x1b]0;pwned\x07\t:ok\t:read\t1\n",
    );
    let e = error_of(&path);
    assert!(!e.contains('\x1b') && !e.contains('\x07'), "{e:?}");
    assert!(e.contains("\\x1b]0;pwned\\x07"), "{e}");
    let shown = sunder_check::error::terminal_safe("key \x1b[2J\u{9b}0m");
    assert_eq!(shown, "key \\x1b[2J\\x9b0m");
}

#[test]
fn enforces_the_rules_of_sunders_own_history_file() {
    let line = |i: u64, t: u64, p: u64, kind: &str| {
        format!(
            "{{\"index\":{i},\"time\":{t},\"process\":{p},\"type\":\"{kind}\",\"f\":\"read\",\"value\":null}}\n"
        )
    };
    let scratch = Scratch::new("import-trust", "jsonl");
    let cases = [
        (
            line(0, 1, 0, "invoke") + &line(0, 2, 0, "ok"),
            "dup.jsonl:2: index 0 repeats or goes back from index 0",
        ),
        (line(0, 1, 0, "invoke") + &line(5, 2, 0, "ok"), "gap.jsonl:2: index 5 leaves a gap"),
        (line(0, u64::MAX, 0, "invoke") + &line(1, 2, 0, "ok"), "time.jsonl:2: time 2 is earlier than"),
        (line(0, 1, 0, "invoke").replace("\"time\":1", "\"time\":-1"), "negative.jsonl:1:"),
    ];
    for (i, (text, expected)) in cases.iter().enumerate() {
        let name = expected.split(':').next().unwrap();
        let path = scratch.write(name, text);
        let e = error_of(&path);
        assert!(e.contains(expected), "case {i}: {e}");
        assert!(!e.contains("at line 1 column"), "case {i}: {e}");
    }
}

#[test]
fn reads_a_history_with_a_byte_order_mark_and_locates_bad_utf8() {
    let scratch = Scratch::new("import-trust", "utf8");
    let op = "{\"index\":0,\"time\":1,\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"value\":null}\n";
    let bom = scratch.write("bom.jsonl", format!("\u{feff}{op}"));
    assert_eq!(load(&bom, Format::Auto).unwrap().history.len(), 1);
    let mut bad = op.as_bytes().to_vec();
    bad.extend_from_slice(b"{\"index\":1,\"ti\xc3\x28me\":2}\n");
    let e = error_of(&scratch.write("bad.jsonl", bad));
    let offset = op.len() + "{\"index\":1,\"ti".len();
    assert!(
        e.ends_with(&format!("bad.jsonl:2:15: invalid UTF-8 (byte 0xc3 at offset {offset} of the file)")),
        "{e}"
    );
}

#[test]
fn an_overflowing_counter_read_is_an_anomaly_not_a_wrapped_sum() {
    let max = i64::MAX;
    let text = format!(
        "{{:process 0, :type :invoke, :f :add, :value {max}}}\n{{:process 0, :type :ok, :f :add, :value {max}}}\n\
         {{:process 1, :type :invoke, :f :add, :value {max}}}\n{{:process 1, :type :ok, :f :add, :value {max}}}\n\
         {{:process 2, :type :invoke, :f :read, :value nil}}\n{{:process 2, :type :ok, :f :read, :value -2}}\n"
    );
    let imported = parse(Path::new("counter.edn"), &text, Format::Auto).unwrap();
    let r = sunder_check::counter::check(&imported.history, &Default::default());
    assert_eq!(r.valid, Validity::Invalid, "{r:?}");
    assert_eq!(r.anomalies[0].witness["lower"], Value::from(u64::MAX - 1));
}
