//! Writes a generated register history (`sunder_check::linearizable::generate`) as Sunder
//! JSONL, so benchmarks can hand the very histories Sunder's benches check to `sunder check`
//! and to other checkers (Porcupine, Knossos through the EDN exporter).
//!
//! `cargo run --release -p sunder-check --example generate_history -- SEED OPS KEYS CLIENTS INFO_RATE CAS OUT`
//! e.g. `... -- 1 5000 1 50 0.012 true /tmp/cas50-s1.jsonl`.

use std::io::Write;
use sunder_check::linearizable::generate::{Generation, register_history};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: generate_history SEED OPS KEYS CLIENTS INFO_RATE CAS(true|false) OUT";
    if args.len() != 7 {
        eprintln!("{usage}");
        std::process::exit(2);
    }
    let parse = |i: usize| -> f64 {
        args[i].parse().unwrap_or_else(|_| {
            eprintln!("{usage}: argument {} ({:?}) is not a number", i + 1, args[i]);
            std::process::exit(2)
        })
    };
    let g = Generation {
        seed: parse(0) as u64,
        ops: parse(1) as usize,
        keys: parse(2) as usize,
        clients: parse(3) as usize,
        info_rate: parse(4),
        cas: args[5] == "true",
    };
    let history = register_history(&g);
    let mut out = std::io::BufWriter::new(std::fs::File::create(&args[6]).unwrap_or_else(|e| {
        eprintln!("cannot create {}: {e}", args[6]);
        std::process::exit(2)
    }));
    for op in history.ops() {
        serde_json::to_writer(&mut out, op).expect("an op serializes");
        out.write_all(b"\n").expect("the history file is writable");
    }
    out.flush().expect("the history file is writable");
}
