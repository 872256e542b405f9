//! Writes a synthetic run folder and renders it: `cargo run -p sunder-report --release
//! --example render_synthetic -- DIR [OPS] [invalid] [hostile]`. Handy to look at a report.

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(dir) = args.get(1) else {
        eprintln!("usage: render_synthetic DIR [OPS] [invalid] [hostile]");
        std::process::exit(3);
    };
    let ops = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(2000);
    let spec = sunder_report::synthetic::SyntheticRun {
        ops,
        invalid: args.iter().any(|a| a == "invalid"),
        hostile: args.iter().any(|a| a == "hostile"),
        ..Default::default()
    };
    let dir = std::path::Path::new(dir);
    if let Err(e) = spec.write(dir) {
        eprintln!("{}: {e}", dir.display());
        std::process::exit(3);
    }
    match sunder_report::render_run(dir) {
        Ok(s) => println!("{} ({} bytes, {} ops)", s.report.display(), s.report_bytes, s.ops),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(3);
        }
    }
}
