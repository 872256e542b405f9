//! One module per subcommand; each exposes `run(args) -> anyhow::Result<u8>` returning the
//! process exit code.

pub mod check;
pub mod cleanup;
pub mod node;
pub mod report;
pub mod run;
pub mod serve;
pub mod suite;
