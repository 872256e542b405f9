//! The `sunder` binary: parses arguments and hands each subcommand to the library.

use clap::Parser;
use std::process::ExitCode;
use sunder::{EXIT_HARNESS_FAILED, cli, commands};

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_HARNESS_FAILED } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        cli::Command::Run(args) => commands::run::run(args),
        cli::Command::Check(args) => commands::check::run(args),
        cli::Command::Node(args) => commands::node::run(args),
        cli::Command::Cleanup(args) => commands::cleanup::run(args),
        cli::Command::Report(args) => commands::report::run(args),
        cli::Command::Serve(args) => commands::serve::run(args),
        cli::Command::Suite(args) => commands::suite::run(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            // Errors quote paths and history text: escape what could drive the terminal.
            eprintln!("sunder: error: {}", sunder_check::error::terminal_safe(&format!("{e:#}")));
            ExitCode::from(EXIT_HARNESS_FAILED)
        }
    }
}
