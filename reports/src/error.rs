//! Why rendering a run could not even start or could not be written. Broken inputs are not
//! errors: the report renders what it can and says what it could not read.

use std::path::{Path, PathBuf};

/// A failure to read the run folder itself or to write an output file.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file or folder could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The path exists but is not a folder.
    #[error("{0}: not a run folder (expected a directory holding test.json, history.jsonl, results.json)")]
    NotARunFolder(PathBuf),
}

impl ReportError {
    /// An I/O failure on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> ReportError {
        ReportError::Io { path: path.to_path_buf(), source }
    }
}
