//! `sunder.log`: what the harness did and when, one timestamped line each, kept in the run
//! folder so a run can be understood after the fact. Milestones also go to stderr.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

/// The run's log file.
pub struct RunLog {
    file: Mutex<Option<File>>,
    start: Instant,
    quiet: bool,
}

impl RunLog {
    /// Opens (creates) the log at `path`. `quiet` keeps milestones off stderr.
    pub fn create(path: &Path, quiet: bool) -> std::io::Result<RunLog> {
        Ok(RunLog { file: Mutex::new(Some(File::create(path)?)), start: Instant::now(), quiet })
    }

    /// A log that writes nowhere (for commands without a run in progress).
    pub fn quiet() -> RunLog {
        RunLog { file: Mutex::new(None), start: Instant::now(), quiet: true }
    }

    /// Records a line in the file only.
    pub fn detail(&self, line: impl AsRef<str>) {
        let t = self.start.elapsed().as_secs_f64();
        if let Some(f) = self.file.lock().expect("log lock").as_mut() {
            let _ = writeln!(f, "[{t:9.3}] {}", line.as_ref());
        }
    }

    /// Records a line in the file and shows it on stderr.
    pub fn info(&self, line: impl AsRef<str>) {
        self.detail(line.as_ref());
        if !self.quiet {
            eprintln!("sunder: {}", line.as_ref());
        }
    }
}
