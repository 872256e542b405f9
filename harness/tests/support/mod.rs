//! What the harness's integration tests share: the built `sunder` binary, temp folders that
//! go away when their test ends (passed or failed), and the gate of tests that need root.
#![allow(dead_code)] // each test binary uses its own subset

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The `sunder` binary this build produced.
pub fn sunder() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sunder"))
}

/// A fresh, empty folder `sunder-test-<tag>-<pid>` in the temp dir, removed on drop.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates the folder, emptying what an earlier run of the same test left.
    pub fn new(tag: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("sunder-test-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        TempDir { path }
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Whether this process runs as root.
pub fn running_as_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// True when a test that needs root may go on. Not root: a loud SKIP line and false, or a
/// failure when `SUNDER_REQUIRE_NETNS` is set (CI, where skipping would hide a gap).
pub fn root_or_skip(test: &str) -> bool {
    if running_as_root() {
        return true;
    }
    assert!(
        std::env::var_os("SUNDER_REQUIRE_NETNS").is_none(),
        "{test} needs root, and SUNDER_REQUIRE_NETNS is set"
    );
    // Straight to fd 2: the test harness captures eprintln!, and a skip must be seen.
    let _ =
        writeln!(std::io::stderr(), "SKIP (needs root): {test}: network namespaces and iptables need root");
    false
}
