//! Clock faults through libfaketime: every node is started with `LD_PRELOAD` of Debian's
//! `libfaketime.so.1` and its own control file, which this module rewrites to move that
//! node's wall clock (`+12.5` = 12.5 s ahead). `FAKETIME_NO_CACHE=1` makes the library
//! read the file on every call, so a change takes effect at once;
//! `FAKETIME_DONT_FAKE_MONOTONIC=1` leaves the monotonic clock alone, so timers and
//! timeouts inside the node keep working. Skew sets an offset; strobe flips one back and
//! forth until told to stop.
//!
//! libfaketime keeps a shared-memory segment and a semaphore per process,
//! `/dev/shm/faketime_shm_<pid>` and `/dev/shm/sem.faketime_sem_<pid>`, and removes them
//! only at a normal exit: a SIGKILLed node leaves both behind. [`remove_faketime_leftovers`]
//! removes them for the pids a run started, once those processes are gone; the harness
//! calls it after teardown, and [`crate::cleanup::remove`] after killing a dead run's nodes.

use crate::error::{NemesisError, Result};
use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where Debian's libfaketime package installs the preload library.
pub const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

/// Where libfaketime puts its per-process shared memory and semaphore.
pub const SHM_DIR: &str = "/dev/shm";

/// The files libfaketime made for process `pid`: its shared memory and its semaphore.
pub fn faketime_files(pid: u32) -> [PathBuf; 2] {
    let dir = Path::new(SHM_DIR);
    [dir.join(format!("faketime_shm_{pid}")), dir.join(format!("sem.faketime_sem_{pid}"))]
}

/// Removes libfaketime's files of each of `pids` whose process is gone, and returns those
/// removed. A pid still alive keeps its files: it is running, or its number was reused by a
/// process whose files they now are.
pub fn remove_faketime_leftovers(pids: impl IntoIterator<Item = u32>) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    for pid in pids {
        if Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        for file in faketime_files(pid) {
            if std::fs::remove_file(&file).is_ok() {
                removed.push(file);
            }
        }
    }
    removed
}

/// Where a node's offset is also written when the node runs elsewhere (its host's own
/// control file): called with the node and the control file's new content.
pub type ClockMirror = std::sync::Arc<dyn Fn(&str, &str) -> Result<()> + Send + Sync>;

/// Per-node faketime control files.
#[derive(Clone)]
pub struct Clock {
    dir: PathBuf,
    library: PathBuf,
    nodes: Vec<String>,
    mirror: Option<ClockMirror>,
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clock").field("dir", &self.dir).field("mirrored", &self.mirror.is_some()).finish()
    }
}

impl Clock {
    /// Creates `dir` and one control file per node, each at offset 0. Fails when
    /// libfaketime is not installed (`apt-get install -y libfaketime`).
    pub fn new(dir: &Path, nodes: &[String]) -> Result<Clock> {
        Clock::with_library(dir, nodes, Path::new(LIBFAKETIME))
    }

    /// Like [`Clock::new`] with the preload library at `library`.
    pub fn with_library(dir: &Path, nodes: &[String], library: &Path) -> Result<Clock> {
        if !library.is_file() {
            return Err(NemesisError::Unsupported {
                what: "clock faults".into(),
                why: format!("{} is missing (apt-get install -y libfaketime)", library.display()),
            });
        }
        crate::net::names::validate_nodes(nodes)?;
        std::fs::create_dir_all(dir).map_err(|e| NemesisError::io(format!("create {}", dir.display()), e))?;
        let clock = Clock {
            dir: dir.to_path_buf(),
            library: library.to_path_buf(),
            nodes: nodes.to_vec(),
            mirror: None,
        };
        clock.reset()?;
        Ok(clock)
    }

    /// This clock with every offset also written through `mirror` (for nodes on other
    /// hosts, which read a control file of their own there); puts every node at 0 there.
    pub fn mirrored(mut self, mirror: ClockMirror) -> Result<Clock> {
        self.mirror = Some(mirror);
        self.reset()?;
        Ok(self)
    }

    /// The control file of `node`.
    pub fn control_file(&self, node: &str) -> Result<PathBuf> {
        self.check(node)?;
        Ok(self.dir.join(format!("{node}.faketime")))
    }

    fn check(&self, node: &str) -> Result<()> {
        if self.nodes.iter().any(|n| n == node) {
            Ok(())
        } else {
            Err(NemesisError::UnknownNode(node.to_string()))
        }
    }

    /// The environment `node`'s process must be started with.
    pub fn faketime_env(&self, node: &str) -> Result<Vec<(String, String)>> {
        let file = self.control_file(node)?;
        Ok(vec![
            ("LD_PRELOAD".into(), self.library.display().to_string()),
            ("FAKETIME_TIMESTAMP_FILE".into(), file.display().to_string()),
            ("FAKETIME_NO_CACHE".into(), "1".into()),
            ("FAKETIME_DONT_FAKE_MONOTONIC".into(), "1".into()),
        ])
    }

    /// Sets `node`'s wall clock `seconds` ahead of real time (behind when negative).
    pub fn skew(&self, node: &str, seconds: f64) -> Result<()> {
        if !seconds.is_finite() {
            return Err(NemesisError::Invalid(format!("clock offset {seconds} is not a number of seconds")));
        }
        let file = self.control_file(node)?;
        // Write then rename: the library reads the file on every call and must never see
        // it half-written.
        let tmp = self.dir.join(format!(".{node}.faketime.tmp"));
        let content = format!("{seconds:+.3}\n");
        std::fs::write(&tmp, &content)
            .and_then(|()| std::fs::rename(&tmp, &file))
            .map_err(|e| NemesisError::io(format!("write {}", file.display()), e))?;
        self.mirror.as_ref().map_or(Ok(()), |m| m(node, &content))
    }

    /// Applies every offset of `offsets`.
    pub fn skew_all(&self, offsets: &BTreeMap<String, f64>) -> Result<()> {
        for (n, s) in offsets {
            self.skew(n, *s)?;
        }
        Ok(())
    }

    /// The offset in `node`'s control file, in seconds.
    pub fn offset(&self, node: &str) -> Result<f64> {
        let file = self.control_file(node)?;
        let text = std::fs::read_to_string(&file)
            .map_err(|e| NemesisError::io(format!("read {}", file.display()), e))?;
        text.trim()
            .parse()
            .map_err(|_| NemesisError::Invalid(format!("{}: {:?} is not an offset", file.display(), text)))
    }

    /// Flips each node of `offsets` between its offset and real time every `period` until
    /// `stop` resolves, then leaves those nodes at real time.
    pub async fn strobe(
        &self,
        offsets: &BTreeMap<String, f64>,
        period: Duration,
        stop: impl Future<Output = ()>,
    ) -> Result<()> {
        for n in offsets.keys() {
            self.check(n)?;
        }
        tokio::pin!(stop);
        let mut on = false;
        let mut tick = tokio::time::interval(period.max(Duration::from_millis(1)));
        loop {
            tokio::select! {
                _ = &mut stop => break,
                _ = tick.tick() => {
                    on = !on;
                    for (n, s) in offsets {
                        self.skew(n, if on { *s } else { 0.0 })?;
                    }
                }
            }
        }
        for n in offsets.keys() {
            self.skew(n, 0.0)?;
        }
        Ok(())
    }

    /// Puts every node back on real time.
    pub fn reset(&self) -> Result<()> {
        for n in &self.nodes {
            self.skew(n, 0.0)?;
        }
        Ok(())
    }
}
