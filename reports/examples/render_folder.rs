//! Renders an existing run folder, as `sunder report` will: `cargo run -p sunder-report
//! --example render_folder -- DIR`.

fn main() {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: render_folder DIR");
        std::process::exit(3);
    };
    match sunder_report::render_run(std::path::Path::new(&dir)) {
        Ok(s) => {
            println!(
                "{} ({} bytes, {} ops, verdict {:?})",
                s.report.display(),
                s.report_bytes,
                s.ops,
                s.verdict
            );
            for p in &s.problems {
                println!("problem: {p}");
            }
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(3);
        }
    }
}
