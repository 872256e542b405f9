//! The live progress line: ops/s and ok/fail/info counts, and what the streaming judge
//! has found so far, drawn with indicatif on a terminal and printed as a plain line every
//! few seconds otherwise (CI logs).

use crate::recorder::Recorder;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// What the streaming judge has found so far: `None` while everything judged holds, else
/// why it will leave the verdict to the offline check.
pub type JudgeNews = Arc<Mutex<Option<String>>>;

/// Starts the progress reporter for a main phase of `limit`; abort the handle to stop it.
/// With `judge`, the line also says whether the history judged so far holds.
pub fn start(rec: Arc<Recorder>, limit: Duration, quiet: bool, judge: Option<JudgeNews>) -> JoinHandle<()> {
    tokio::spawn(async move {
        if quiet {
            return;
        }
        let tty = std::io::stderr().is_terminal();
        let bar = tty.then(|| {
            let b = ProgressBar::new(limit.as_secs().max(1));
            b.set_style(
                ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {msg}")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            b
        });
        let start = Instant::now();
        let mut last = (Instant::now(), 0u64);
        let period = if tty { Duration::from_millis(250) } else { Duration::from_secs(5) };
        loop {
            tokio::time::sleep(period).await;
            let c = &rec.counters;
            let (ok, fail, info) = (
                c.ok.load(Ordering::Relaxed),
                c.fail.load(Ordering::Relaxed),
                c.info.load(Ordering::Relaxed),
            );
            let done = ok + fail + info;
            let rate = (done - last.1) as f64 / last.0.elapsed().as_secs_f64();
            last = (Instant::now(), done);
            let mut msg = format!("{rate:8.0} ops/s  ok {ok}  fail {fail}  info {info}");
            if let Some(news) = &judge {
                match &*news.lock().unwrap_or_else(|e| e.into_inner()) {
                    None => msg.push_str("  judged so far: linearizable"),
                    Some(why) => msg.push_str(&format!("  judged so far: {why}")),
                }
            }
            match &bar {
                Some(b) => {
                    b.set_position(start.elapsed().as_secs());
                    b.set_message(msg);
                }
                None => eprintln!("sunder: [{:6.1}s] {msg}", start.elapsed().as_secs_f64()),
            }
        }
    })
}
