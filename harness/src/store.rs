//! The store: one folder per run, `store/<test-name>/<UTC time>-s<seed>/`, laid out as
//! DESIGN.md fixes it (`test.json`, `history.jsonl`, `results.json`, `sunder.log`,
//! `nodes/<node>/{log,data/,pid}`), plus `store/latest` pointing at the newest run and a
//! `harness.pid` file that exists only while the run's harness is alive, so `sunder
//! cleanup` can tell a dead run's leftovers from a live run's nodes.

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The resolved test, written to `test.json` before anything starts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TestSpec {
    /// The test's name (a store sub-folder).
    pub name: String,
    /// Unique id of this run; every namespace, chain and pid file carries it.
    pub run_id: String,
    /// The system under test.
    pub system: String,
    /// Node ids.
    pub nodes: Vec<String>,
    /// The workload.
    pub workload: String,
    /// The workload's `-w` options as given (defaults are the workload's own).
    #[serde(default)]
    pub workload_options: BTreeMap<String, String>,
    /// The protocol the clients spoke.
    #[serde(default)]
    pub protocol: String,
    /// Client workers.
    pub concurrency: usize,
    /// Total ops/s cap, if any.
    pub rate: Option<f64>,
    /// Length of the main phase.
    pub time_limit_s: f64,
    /// The seed every random choice flows from.
    pub seed: u64,
    /// The network backend used.
    pub net: String,
    /// Fault kinds the nemesis injects.
    pub nemesis: Vec<String>,
    /// Targets of process, clock and loss faults (empty: all).
    #[serde(default)]
    pub nemesis_targets: Vec<String>,
    /// Mean seconds between fault changes.
    pub nemesis_interval_s: f64,
    /// System options (`-o`).
    pub options: BTreeMap<String, String>,
    /// Per-operation client timeout.
    pub op_timeout_ms: u64,
    /// Seconds the system gets to recover after the heal phase.
    pub recovery_s: f64,
    /// Sunder's version.
    pub sunder_version: String,
    /// UTC start time, RFC 3339.
    pub started_at: String,
}

/// One run's folder.
#[derive(Debug, Clone)]
pub struct RunDir {
    /// The folder.
    pub path: PathBuf,
}

impl RunDir {
    /// Creates `store/<name>/<time>-s<seed>/` with `nodes/` and repoints `store/latest`.
    pub fn create(store: &Path, name: &str, seed: u64, now: SystemTime) -> Result<RunDir> {
        if name.is_empty() || name.contains('/') || name.starts_with('.') || name == "latest" {
            bail!("--name {name:?} must be a plain folder name");
        }
        let stamp = utc_stamp(now);
        let path = store.join(name).join(format!("{stamp}-s{seed}"));
        std::fs::create_dir_all(path.join("nodes"))
            .with_context(|| format!("cannot create run folder {}", path.display()))?;
        let latest = store.join("latest");
        let _ = std::fs::remove_file(&latest);
        std::os::unix::fs::symlink(Path::new(name).join(format!("{stamp}-s{seed}")), &latest)
            .with_context(|| format!("cannot point {} at the new run", latest.display()))?;
        Ok(RunDir { path })
    }

    /// Opens an existing run folder (for `check`, `report`).
    pub fn open(path: &Path) -> RunDir {
        RunDir { path: path.to_path_buf() }
    }

    /// `test.json`.
    pub fn test_json(&self) -> PathBuf {
        self.path.join("test.json")
    }
    /// `history.jsonl`.
    pub fn history(&self) -> PathBuf {
        self.path.join("history.jsonl")
    }
    /// `results.json`.
    pub fn results(&self) -> PathBuf {
        self.path.join("results.json")
    }
    /// `sunder.log`.
    pub fn log(&self) -> PathBuf {
        self.path.join("sunder.log")
    }
    /// `harness.pid`: present while the harness runs.
    fn harness_pid(&self) -> PathBuf {
        self.path.join("harness.pid")
    }

    /// Records that this process runs `run_id` in this folder, until [`RunDir::mark_finished`].
    pub fn mark_running(&self, run_id: &str) -> Result<()> {
        let p = self.harness_pid();
        std::fs::write(&p, format!("{} {run_id}\n", std::process::id()))
            .with_context(|| format!("cannot write {}", p.display()))
    }

    /// The harness pid and run id recorded by [`RunDir::mark_running`], if the run has not
    /// finished (its harness may since have died).
    pub fn running_harness(&self) -> Option<(u32, String)> {
        let text = std::fs::read_to_string(self.harness_pid()).ok()?;
        let mut fields = text.split_whitespace();
        let pid = fields.next()?.parse().ok()?;
        Some((pid, fields.next().unwrap_or("").to_string()))
    }

    /// The run is over: its harness no longer owns anything.
    pub fn mark_finished(&self) {
        let _ = std::fs::remove_file(self.harness_pid());
    }

    /// Every run folder of a store (`store/<test>/<run>/`), sorted.
    pub fn all(store: &Path) -> Result<Vec<RunDir>> {
        let mut runs = vec![];
        for test in sub_dirs(store)? {
            runs.extend(sub_dirs(&test)?.into_iter().map(|path| RunDir { path }));
        }
        Ok(runs)
    }

    /// `nodes/<node>/pid` of every node that has a folder.
    pub fn node_pid_files(&self) -> Vec<PathBuf> {
        sub_dirs(&self.path.join("nodes")).unwrap_or_default().into_iter().map(|n| n.join("pid")).collect()
    }
    /// `nodes/<node>/`.
    pub fn node_dir(&self, node: &str) -> PathBuf {
        self.path.join("nodes").join(node)
    }

    /// Writes `test.json`.
    pub fn write_test(&self, test: &TestSpec) -> Result<()> {
        write_json(&self.test_json(), test)
    }

    /// Reads `test.json`.
    pub fn read_test(&self) -> Result<TestSpec> {
        let p = self.test_json();
        let text = std::fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{}: malformed test.json", p.display()))
    }
}

/// The sub-folders of `p`, sorted (symlinks such as `store/latest` are not followed).
fn sub_dirs(p: &Path) -> Result<Vec<PathBuf>> {
    let mut out = vec![];
    for e in std::fs::read_dir(p).with_context(|| format!("cannot list {}", p.display()))? {
        let e = e?;
        if e.file_type()?.is_dir() {
            out.push(e.path());
        }
    }
    out.sort();
    Ok(out)
}

/// Writes pretty JSON atomically enough for our purposes (temp file, rename).
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_string_pretty(value)?;
    std::fs::write(&tmp, text + "\n").with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// `YYYYMMDDTHHMMSS.mmmZ`: sortable, and safe in a file name.
pub fn utc_stamp(t: SystemTime) -> String {
    let (y, mo, d, h, mi, s, ms) = civil(t);
    format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}.{ms:03}Z")
}

/// RFC 3339 UTC, to the millisecond.
pub fn rfc3339(t: SystemTime) -> String {
    let (y, mo, d, h, mi, s, ms) = civil(t);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z")
}

/// Splits a time into UTC calendar fields (Howard Hinnant's days-to-civil algorithm).
fn civil(t: SystemTime) -> (i64, u32, u32, u32, u32, u32, u32) {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day, (sod / 3600) as u32, (sod % 3600 / 60) as u32, (sod % 60) as u32, d.subsec_millis())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_utc_calendar_time() {
        let t = UNIX_EPOCH + Duration::from_millis(1_795_651_200_123); // 2026-11-26T00:00:00.123Z
        assert_eq!(rfc3339(t), "2026-11-26T00:00:00.123Z");
        assert_eq!(utc_stamp(UNIX_EPOCH + Duration::from_secs(951_782_400)), "20000229T000000.000Z");
    }
}
