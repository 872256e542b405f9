//! A history judged as it comes: the live judge and the report's digest, each on a thread
//! of its own, fed batches of ops in history order. `sunder run` feeds it from the history
//! writer while the run records, `sunder check` of a run folder from the history file read
//! chunk by chunk, so neither holds the history whole unless the verdict needs the offline
//! check (whose witnesses need the ops).

use crate::progress::JudgeNews;
use anyhow::{Result, anyhow};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;
use sunder_check::history::Op;
use sunder_check::live::{LiveJudge, Outcome};
use sunder_check::plan::Prejudged;
use sunder_report::digest::{Digest, Digested};

/// The judging threads of one history; feed them through the sender [`Streamed::start`]
/// returns, drop it when every op is in, then [`Streamed::finish`].
pub struct Streamed {
    judge: JoinHandle<(Outcome, Prejudged, JoinHandle<Digested>)>,
}

impl Streamed {
    /// Starts `judge` and a digest beside it; what the judge has found so far goes to
    /// `news` (the progress line shows it). At most `in_flight` batches wait for each
    /// thread, so a judge that falls behind slows whoever feeds it rather than piling ops
    /// up: many for a run's small batches, which come in bursts; few for a file's chunks.
    pub fn start(
        mut judge: LiveJudge,
        news: JudgeNews,
        in_flight: usize,
    ) -> Result<(SyncSender<Vec<Op>>, Streamed)> {
        let (tx, rx) = sync_channel::<Vec<Op>>(in_flight);
        // The digest takes each batch after the judge, so the report needs no second read
        // of the history and the verdict no wait for the digest.
        let (digest_tx, digest_rx) = sync_channel::<Vec<Op>>(in_flight);
        let digest = std::thread::Builder::new().name("report-digest".into()).spawn(move || {
            let mut digest = Digest::default();
            for batch in digest_rx {
                digest.feed(&batch);
            }
            digest.finish()
        })?;
        let judge = std::thread::Builder::new().name("live-judge".into()).spawn(move || {
            for batch in rx {
                judge.feed(&batch);
                if let Some(why) = judge.given_up() {
                    news.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert_with(|| why.to_string());
                }
                let _ = digest_tx.send(batch);
            }
            let (outcome, prejudged) = judge.finish_knowing();
            (outcome, prejudged, digest)
        })?;
        Ok((tx, Streamed { judge }))
    }

    /// The judge's outcome, what it decided that an offline check can be told, and the
    /// digest, once every sender is dropped.
    pub fn finish(self) -> Result<(Outcome, Prejudged, Digested)> {
        let (outcome, prejudged, digest) =
            self.judge.join().map_err(|_| anyhow!("the live judge panicked"))?;
        let digested = digest.join().map_err(|_| anyhow!("the report's digest panicked"))?;
        Ok((outcome, prejudged, digested))
    }
}
