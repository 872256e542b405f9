//! The parallel reader of `history.jsonl` against the plain one: every line parsed by serde
//! on its own, in order, then validated by `History::new`. On random histories large enough
//! to be cut into several chunks and pieces, with lines off the writer's fast path mixed in,
//! `read_jsonl` must give exactly the plain reader's history; with one fault planted
//! anywhere (a seam between pieces or chunks included), it must name the file and the line
//! the plain reader names.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use std::path::Path;
use sunder_check::history::{History, Op, OpType, Strictness, parse_jsonl, read_jsonl};
use sunder_check::import::source::CHUNK_BYTES;

mod scratch;
use scratch::Scratch;

/// A value of the kinds workloads record, some on the fast path and some off it.
fn random_value(rng: &mut ChaCha8Rng) -> Value {
    match rng.random_range(0..12) {
        0 => Value::Null,
        1 | 2 => json!(rng.random_range(0..1_000_000u64)),
        3 => json!([rng.random_range(0..100u64), rng.random_range(0..100u64)]),
        4 => json!([null, rng.random_range(0..100u64)]),
        5 => json!(-rng.random_range(1..1000i64)),
        6 => json!(rng.random_bool(0.5)),
        7 => json!(["v", "ü", "say \"hi\"", "tab\t"][rng.random_range(0..4)]),
        8 => json!(rng.random_range(0.0..10.0)),
        9 => json!({"k1": rng.random_range(0..9), "k2": [1, 2]}),
        10 => json!(u64::MAX - rng.random_range(0..3)),
        _ => json!(rng.random_range(0..100u64)),
    }
}

/// A valid history of `n` ops as JSONL text: clients that invoke and complete in turn
/// (retired after an `info`), lone nemesis infos, keys, nodes, errors and siblings; most
/// lines in the writer's own spelling, some respelled (spaces, another field order, CRLF)
/// and some blank, as a hand-edited file may have them.
fn random_history_text(rng: &mut ChaCha8Rng, n: u64) -> String {
    const WORKERS: u64 = 12;
    let mut open: Vec<Option<Op>> = vec![None; WORKERS as usize];
    let mut process: Vec<u64> = (0..WORKERS).collect();
    let mut text = String::new();
    let mut time = 0u64;
    for index in 0..n {
        time += rng.random_range(0..5_000);
        let w = rng.random_range(0..WORKERS) as usize;
        let op = if rng.random_bool(0.01) {
            Op::nemesis(index, time, ["start-partition", "phase"][rng.random_range(0..2)], random_value(rng))
        } else if let Some(invoked) = open[w].take() {
            let kind =
                [OpType::Ok, OpType::Ok, OpType::Ok, OpType::Fail, OpType::Info][rng.random_range(0..5)];
            let mut op = Op::client(index, time, process[w], kind, &invoked.f, random_value(rng));
            op.key = invoked.key.clone();
            op.node = invoked.node.clone();
            if kind != OpType::Ok {
                op.error = Some(["timeout", "conn: \"refused\""][rng.random_range(0..2)].into());
            }
            if kind == OpType::Ok && rng.random_bool(0.02) {
                op.siblings = Some(vec![op.value.clone(), json!(7)].into());
            }
            if kind == OpType::Info {
                process[w] += WORKERS;
            }
            op
        } else {
            let f = ["read", "write", "cas", "r\u{e9}ad"][rng.random_range(0..4)];
            let mut op = Op::client(index, time, process[w], OpType::Invoke, f, random_value(rng))
                .with_key(["k0", "k1", "key two"][rng.random_range(0..3)]);
            if rng.random_bool(0.9) {
                op.node = Some(["n1", "n2"][rng.random_range(0..2)].into());
            }
            open[w] = Some(op.clone());
            op
        };
        let line = serde_json::to_string(&op).unwrap();
        match rng.random_range(0..200) {
            0 => text.push_str(&line.replacen(",\"time\":", ", \"time\": ", 1)),
            1 => {
                let v = serde_json::to_value(&op).unwrap();
                let mut fields: Vec<(String, Value)> = v.as_object().unwrap().clone().into_iter().collect();
                fields.reverse();
                let map: serde_json::Map<String, Value> = fields.into_iter().collect();
                text.push_str(&serde_json::to_string(&map).unwrap());
            }
            2 => text.push_str(&(line + "\r")),
            3 => text.push_str(&(line + "\n  ")),
            _ => text.push_str(&line),
        }
        text.push('\n');
        if rng.random_bool(0.001) {
            text.push('\n');
        }
    }
    text
}

/// Where and why the plain reader stopped: the line, and what `read_jsonl`'s message for
/// it must contain.
#[derive(Debug)]
struct Stop {
    line: usize,
    problem: String,
}

/// The plain reader: every non-blank line by serde, then the index, time and pairing rules
/// one op at a time. What it answers is what `read_jsonl` must answer.
fn plain_read(text: &str) -> Result<History, Stop> {
    let mut ops: Vec<Op> = Vec::new();
    let mut lines = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let stop = |problem: &str| Stop { line: n + 1, problem: problem.to_string() };
        if line.trim().is_empty() {
            continue;
        }
        let op: Op = serde_json::from_str(line).map_err(|_| stop("malformed op"))?;
        let expected = ops.last().map_or(0, |p| p.index + 1);
        if op.index != expected {
            return Err(stop(&format!("index {} ", op.index)));
        }
        if let Some(p) = ops.last()
            && op.time < p.time
        {
            return Err(stop(&format!("time {} is earlier than {}", op.time, p.time)));
        }
        ops.push(op);
        lines.push(n + 1);
    }
    History::new(ops, Strictness::Strict).map_err(|v| Stop { line: lines[v.position], problem: v.problem })
}

/// `line` with the number after `"field":` replaced by `number`.
fn with_number(line: &str, field: &str, number: &str) -> String {
    let key = format!("\"{field}\":");
    let Some(at) = line.find(&key) else { return line.to_string() };
    let start = at + key.len();
    let end = start + line[start..].find(|c: char| !c.is_ascii_digit()).unwrap_or(0);
    format!("{}{number}{}", &line[..start], &line[end..])
}

fn assert_same_history(got: &History, want: &History, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: op count");
    for (i, (g, w)) in got.ops().iter().zip(want.ops()).enumerate() {
        assert_eq!(g, w, "{what}: op {i}");
        assert_eq!(got.partner(i), want.partner(i), "{what}: partner of op {i}");
    }
}

#[test]
fn the_parallel_reader_gives_the_plain_readers_history_on_random_histories() {
    let dir = Scratch::new("reader", "same");
    // Small (one piece), 8 MB and more (a piece per core), and over 32 MiB (several chunks).
    for (seed, n) in [(1u64, 2_000u64), (2, 90_000), (3, 400_000)] {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let text = random_history_text(&mut rng, n);
        let path = dir.write(&format!("h{seed}.jsonl"), text.as_bytes());
        let want =
            plain_read(&text).unwrap_or_else(|e| panic!("seed {seed}: generated an invalid history: {e:?}"));
        let got = read_jsonl(&path).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert_same_history(&got, &want, &format!("read_jsonl, seed {seed}, {} bytes", text.len()));
        let parsed = parse_jsonl(Path::new("h"), &text).unwrap();
        assert_same_history(&parsed, &want, &format!("parse_jsonl, seed {seed}"));
    }
}

/// `lines` with the line at 0-based `at` spoiled by fault `fault` (0 to 3).
fn with_fault(lines: &[&str], at: usize, fault: usize) -> String {
    let mut edited: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    edited[at] = match fault {
        0 => "{not json\n".to_string(),
        // An index out of turn.
        1 => with_number(&edited[at], "index", "7"),
        // A process never used: its completion has no invocation.
        2 => with_number(&edited[at], "process", "99999"),
        // A time that goes back.
        _ => with_number(&edited[at], "time", "0"),
    };
    edited.concat()
}

/// Checks that `got` (what `read_jsonl` or `parse_jsonl` said of `text`, named `name`)
/// is what the plain reader says: the same op count, or an error at the same line with the
/// same problem. True when the text was refused.
fn agrees_with_the_plain_reader(got: Result<usize, String>, text: &str, name: &str, what: &str) -> bool {
    match (got, plain_read(text)) {
        (Ok(got), Ok(want)) => {
            assert_eq!(got, want.len(), "{what}");
            false
        }
        (Err(got), Err(want)) => {
            let place = format!("{name}:{}:", want.line);
            assert!(
                got.starts_with(&place) && got.contains(&want.problem),
                "{what}: the reader said {got:?}, the plain reader {want:?}"
            );
            true
        }
        (got, want) => panic!("{what}: the reader said {got:?}, the plain reader {want:?}"),
    }
}

#[test]
fn a_fault_beside_a_seam_between_pieces_is_named_by_the_line_the_plain_reader_names() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    // Over 8 MiB and under 12: on two or more cores, parsed as two pieces cut at the first
    // line end from the middle on.
    let text = random_history_text(&mut rng, 85_000);
    assert!((8 << 20..12 << 20).contains(&text.len()), "{} bytes", text.len());
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let cut = text.len() / 2 + text[text.len() / 2..].find('\n').unwrap() + 1;
    let seam = text[..cut].matches('\n').count();
    let mut refused = 0;
    for at in seam - 2..=seam + 1 {
        for fault in 0..4 {
            let edited = with_fault(&lines, at, fault);
            let got = parse_jsonl(Path::new("h"), &edited).map(|h| h.len()).map_err(|e| e.to_string());
            let what =
                format!("fault {fault} on line {}, the second piece's first line {}", at + 1, seam + 1);
            refused += usize::from(agrees_with_the_plain_reader(got, &edited, "h", &what));
        }
    }
    assert!(refused >= 12, "only {refused} of 16 planted faults made the text invalid");
}

#[test]
fn a_fault_in_any_chunk_is_named_by_the_file_and_line_the_plain_reader_names() {
    let dir = Scratch::new("reader", "faults");
    let mut rng = ChaCha8Rng::seed_from_u64(10);
    // Over 32 MiB: two chunks, each cut into pieces.
    let text = random_history_text(&mut rng, 380_000);
    assert!(text.len() > CHUNK_BYTES, "the history must span two chunks");
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let second_chunk = text[..CHUNK_BYTES].matches('\n').count() + 1000;
    let targets = [
        0,
        1,
        rng.random_range(0..second_chunk),
        rng.random_range(second_chunk..lines.len()),
        lines.len() - 1,
    ];
    let mut refused = 0;
    for (k, &at) in targets.iter().enumerate() {
        let fault = k % 4;
        let edited = with_fault(&lines, at, fault);
        let path = dir.write("h.jsonl", edited.as_bytes());
        let got = read_jsonl(&path).map(|h| h.len()).map_err(|e| e.to_string());
        let what = format!("fault {fault} on line {}", at + 1);
        refused +=
            usize::from(agrees_with_the_plain_reader(got, &edited, &path.display().to_string(), &what));
    }
    assert!(refused >= 4, "only {refused} of 5 planted faults made the file invalid");
}

#[test]
fn a_malformed_line_in_a_later_chunk_is_named_before_an_earlier_pairing_fault() {
    // The pairing of the first chunk runs while the second is parsed, yet a file is judged
    // line by line first, as the plain reader judges it: the malformed line wins.
    let dir = Scratch::new("reader", "precedence");
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let text = random_history_text(&mut rng, 380_000);
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let second_chunk = text[..CHUNK_BYTES].matches('\n').count() + 1000;
    let early = (100..).find(|&i| lines[i].contains("\"type\":\"ok\"")).unwrap();
    let edited = with_fault(&lines, early, 2);
    let edited: Vec<&str> = edited.split_inclusive('\n').collect();
    let edited = with_fault(&edited, second_chunk + 7, 0);
    let path = dir.write("h.jsonl", edited.as_bytes());
    let got = read_jsonl(&path).map(|h| h.len()).map_err(|e| e.to_string());
    assert!(agrees_with_the_plain_reader(got, &edited, &path.display().to_string(), "two faults"));
    let e = read_jsonl(&path).unwrap_err().to_string();
    assert!(e.contains(&format!(":{}:", second_chunk + 8)) && e.contains("malformed op"), "{e}");
}

#[test]
fn invalid_utf8_in_a_later_chunk_is_named_by_line_column_and_offset() {
    let dir = Scratch::new("reader", "utf8");
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let text = random_history_text(&mut rng, 380_000);
    for at in [text.len() / 3, text.len() - 10] {
        // Replace a byte of an ASCII character on a line; find the line's start and number.
        let at = (at..text.len()).find(|&i| text.as_bytes()[i] == b'"').unwrap();
        let mut bytes = text.clone().into_bytes();
        bytes[at] = 0xff;
        let line = 1 + bytes[..at].iter().filter(|&&b| b == b'\n').count();
        let line_start = bytes[..at].iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
        let path = dir.write("h.jsonl", &bytes);
        let e = read_jsonl(&path).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "{}:{line}:{}: invalid UTF-8 (byte 0xff at offset {at} of the file)",
                path.display(),
                at - line_start + 1
            )
        );
    }
}
