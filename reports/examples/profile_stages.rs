//! Times each stage of rendering a run folder: `cargo run -p sunder-report --release
//! --example profile_stages -- DIR`. Shows where a large report's time goes.

use std::time::Instant;

fn main() {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: profile_stages DIR");
        std::process::exit(3);
    };
    let dir = std::path::Path::new(&dir);
    let t = Instant::now();
    let inputs = match sunder_report::run_folder::load(dir) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(3);
        }
    };
    println!("load: {:.2} s ({} ops)", t.elapsed().as_secs_f64(), inputs.ops.len());
    let t = Instant::now();
    let calls = sunder_report::calls::Calls::pair(&inputs.ops);
    println!("pair: {:.2} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let perf = sunder_report::latency::perf_data(&inputs.ops, &calls);
    println!("perf data: {:.2} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let faults = sunder_report::faults::FaultMap::from_ops(&inputs.ops);
    let shade = sunder_report::plots::Shading { faults: &faults.faults, phases: &faults.phases };
    let _ = sunder_report::plots::latency_scatter(&perf, &shade);
    println!("scatter plot: {:.2} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let _ = sunder_report::timeline::data_json(&inputs.ops);
    println!("timeline json: {:.2} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let analysis = sunder_report::analysis::Analysis::of(&inputs);
    let html = sunder_report::page::render(&inputs, &analysis);
    println!("whole page: {:.2} s ({} bytes)", t.elapsed().as_secs_f64(), html.len());
}
