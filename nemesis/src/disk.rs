//! Disk faults (`--nemesis corrupt`): what is done to a data file of a node the nemesis
//! has killed, before it is restarted on the same data. The system's spec names the
//! files that are fair game as globs relative to the node's data directory
//! ([`matching_files`]); [`DiskFault`] says what happens to the one picked: its tail cut
//! off, a bit flipped, or the writes of its last moments lost (the file cut back to the
//! size it had shortly before the kill, as a disk that acknowledged an fsync and then
//! lost it would leave it). Each returns a JSON account of exactly what changed, which
//! becomes the value of the `start-corrupt` nemesis op.

use crate::error::{NemesisError, Result};
use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Most bytes a truncation cuts from a file's end.
const MAX_TRUNCATE: u64 = 4096;

/// What is done to the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DiskFault {
    /// Cut between 1 and 4096 bytes off the end.
    Truncate,
    /// Flip one bit anywhere in the file.
    Bitflip,
    /// Cut the file back to its size shortly before the kill: its last fsynced writes
    /// are gone.
    LoseWrites,
}

impl DiskFault {
    /// Every disk fault, in a stable order.
    pub const ALL: [DiskFault; 3] = [DiskFault::Truncate, DiskFault::Bitflip, DiskFault::LoseWrites];

    /// The name in nemesis ops.
    pub fn name(self) -> &'static str {
        match self {
            DiskFault::Truncate => "truncate",
            DiskFault::Bitflip => "bitflip",
            DiskFault::LoseWrites => "lose-writes",
        }
    }
}

/// Whether `name` matches `pattern`, where `*` is any run of characters and `?` any one.
pub fn glob_matches(pattern: &str, name: &str) -> bool {
    fn go(p: &[u8], n: &[u8]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], n) || (!n.is_empty() && go(p, &n[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), name.as_bytes())
}

/// Non-empty regular files under `dir` whose path relative to it matches one of
/// `globs`, sorted (so a seeded pick is repeatable).
pub fn matching_files(dir: &Path, globs: &[String]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let path = e.path();
            let Ok(meta) = e.metadata() else { continue };
            if meta.is_dir() {
                stack.push(path);
                continue;
            }
            let rel = path.strip_prefix(dir).unwrap_or(&path).to_string_lossy().replace('\\', "/");
            if meta.is_file() && meta.len() > 0 && globs.iter().any(|g| glob_matches(g, &rel)) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> NemesisError + '_ {
    move |e| NemesisError::Invalid(format!("{}: {e}", path.display()))
}

/// Applies `fault` to `path`; `size_before` is the file's size shortly before the kill
/// (used by [`DiskFault::LoseWrites`]). Returns what was done, for the nemesis op.
pub fn apply(
    path: &Path,
    fault: DiskFault,
    size_before: u64,
    rng: &mut (impl Rng + ?Sized),
) -> Result<Value> {
    let len = std::fs::metadata(path).map_err(io(path))?.len();
    let file = path.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let mut done = json!({"file": file, "fault": fault.name(), "size": len});
    match fault {
        DiskFault::Truncate => {
            let cut = rng.random_range(1..=len.clamp(1, MAX_TRUNCATE));
            cut_to(path, len - cut.min(len))?;
            done["cut-bytes"] = json!(cut.min(len));
        }
        DiskFault::Bitflip => {
            if len == 0 {
                done["skipped"] = json!("the file is empty");
                return Ok(done);
            }
            let offset = rng.random_range(0..len);
            let bit = rng.random_range(0..8u8);
            let mut f = OpenOptions::new().read(true).write(true).open(path).map_err(io(path))?;
            let mut byte = [0u8];
            f.seek(SeekFrom::Start(offset)).map_err(io(path))?;
            f.read_exact(&mut byte).map_err(io(path))?;
            byte[0] ^= 1 << bit;
            f.seek(SeekFrom::Start(offset)).map_err(io(path))?;
            f.write_all(&byte).map_err(io(path))?;
            f.sync_all().map_err(io(path))?;
            done["offset"] = json!(offset);
            done["bit"] = json!(bit);
        }
        DiskFault::LoseWrites => {
            if size_before >= len {
                done["skipped"] = json!("the file did not grow before the kill");
                return Ok(done);
            }
            cut_to(path, size_before)?;
            done["cut-bytes"] = json!(len - size_before);
        }
    }
    Ok(done)
}

fn cut_to(path: &Path, len: u64) -> Result<()> {
    let f = OpenOptions::new().write(true).open(path).map_err(io(path))?;
    f.set_len(len).map_err(io(path))?;
    f.sync_all().map_err(io(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn globs_match_stars_and_question_marks_only_where_they_should() {
        assert!(glob_matches("raft-log", "raft-log"));
        assert!(glob_matches("*.log", "bank2pc-votes.log"));
        assert!(glob_matches("raft-?og", "raft-log"));
        assert!(!glob_matches("raft-log", "raft-log.tmp"));
        assert!(!glob_matches("*.log", "votes.log.tmp"));
    }

    #[test]
    fn each_fault_changes_the_file_as_its_account_says() {
        let dir = std::env::temp_dir().join(format!("sunder-disk-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("data-file");
        let original: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(3);

        std::fs::write(&path, &original).unwrap();
        let v = apply(&path, DiskFault::Truncate, 0, &mut rng).unwrap();
        let cut = v["cut-bytes"].as_u64().unwrap();
        assert!((1..=MAX_TRUNCATE).contains(&cut));
        assert_eq!(std::fs::read(&path).unwrap(), original[..original.len() - cut as usize]);

        std::fs::write(&path, &original).unwrap();
        let v = apply(&path, DiskFault::Bitflip, 0, &mut rng).unwrap();
        let after = std::fs::read(&path).unwrap();
        let offset = v["offset"].as_u64().unwrap() as usize;
        let diffs: Vec<usize> = (0..after.len()).filter(|&i| after[i] != original[i]).collect();
        assert_eq!(diffs, vec![offset]);
        assert_eq!((after[offset] ^ original[offset]).count_ones(), 1);

        std::fs::write(&path, &original).unwrap();
        let v = apply(&path, DiskFault::LoseWrites, 6000, &mut rng).unwrap();
        assert_eq!(v["cut-bytes"], 4000);
        assert_eq!(std::fs::read(&path).unwrap(), original[..6000]);
        let v = apply(&path, DiskFault::LoseWrites, 6000, &mut rng).unwrap();
        assert!(v.get("skipped").is_some(), "nothing grew: {v}");

        assert_eq!(matching_files(&dir, &["data-*".to_string()]), vec![path.clone()]);
        assert!(matching_files(&dir, &["raft-log".to_string()]).is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
