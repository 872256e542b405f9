//! `sunder` (the harness crate): the CLI's machinery as a library, so integration tests can
//! drive the launcher and runner directly; `main.rs` is a thin binary over it. Exit codes
//! follow DESIGN.md (0 valid, 1 invalid, 2 unknown, 3 the harness itself failed or the
//! arguments were bad).
//!
//! Layout:
//! - [`cli`]: argument definitions.
//! - [`commands`]: one file per subcommand (`run`, `check`, `node`, `cleanup`, `report`,
//!   `serve`).
//! - [`launcher`]: node processes (start, health, kill, teardown); [`etcd_status`]: etcd's
//!   leader from its own status call.
//! - [`system_file`]: a system described in a TOML file (`--system path/to/system.toml`).
//! - [`runner`]: client workers and the run's phases; [`status_timeline`]: the nodes'
//!   `/status` sampled through the run, for systems that ask for it.
//! - [`recorder`]: the history as it is recorded.
//! - [`judge`]: which checkers judge a history, and the composed verdict; [`streamed`]:
//!   a history judged and digested as it comes, while a run records or a check reads.
//! - [`store`]: run folders; [`runlog`]: `sunder.log`; [`progress`]: the live progress line;
//!   [`stop_signal`]: the Ctrl-C/SIGTERM every long-running command ends on.
//! - [`suite`]: suite files, their matrix of cells, and the suite folder.
//! - [`remote`]: real hosts over SSH (`--hosts FILE`).

pub mod cli;
pub mod commands;
pub mod etcd_status;
pub mod judge;
pub mod launcher;
pub mod progress;
pub mod recorder;
pub mod remote;
pub mod runlog;
pub mod runner;
pub mod status_timeline;
pub mod stop_signal;
pub mod store;
pub mod streamed;
pub mod suite;
pub mod system_file;

/// Exit code when the harness itself failed or the arguments were bad.
pub const EXIT_HARNESS_FAILED: u8 = 3;
