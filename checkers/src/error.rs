//! The one error type for bad input: every reader and importer reports the file, the line
//! (when there is one) and the problem, so a user can go straight to it.

use std::fmt;
use std::path::{Path, PathBuf};

/// Bad or unreadable input, located.
#[derive(Debug, thiserror::Error)]
pub struct InputError {
    /// The file the input came from.
    pub path: PathBuf,
    /// 1-based line, when the problem has one.
    pub line: Option<usize>,
    /// What is wrong, in plain words.
    pub problem: String,
}

impl InputError {
    /// A problem at a given line of `path`.
    pub fn at(path: &Path, line: usize, problem: impl Into<String>) -> InputError {
        InputError { path: path.to_path_buf(), line: Some(line), problem: problem.into() }
    }

    /// A problem with `path` as a whole.
    pub fn whole(path: &Path, problem: impl Into<String>) -> InputError {
        InputError { path: path.to_path_buf(), line: None, problem: problem.into() }
    }

    /// The file could not be read.
    pub fn io(path: &Path, e: std::io::Error) -> InputError {
        InputError::whole(path, format!("cannot read: {e}"))
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.path.display(), line, self.problem),
            None => write!(f, "{}: {}", self.path.display(), self.problem),
        }
    }
}
