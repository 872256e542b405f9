//! The one error type for bad input: every reader and importer reports the file, the line
//! and column (when there are ones) and the problem, so a user can go straight to it. Input
//! text reaches the terminal only through [`terminal_safe`], because a history is written by
//! whoever wrote it: an escape sequence in a key must not retitle the window or clear the
//! screen of the person reading the verdict.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};

/// Bad or unreadable input, located.
#[derive(Debug, thiserror::Error)]
pub struct InputError {
    /// The file the input came from.
    pub path: PathBuf,
    /// 1-based line, when the problem has one.
    pub line: Option<usize>,
    /// 1-based column (in bytes) within the line, when the problem has one.
    pub column: Option<usize>,
    /// What is wrong, in plain words.
    pub problem: String,
}

impl InputError {
    /// A problem at a given line of `path`.
    pub fn at(path: &Path, line: usize, problem: impl Into<String>) -> InputError {
        InputError { path: path.to_path_buf(), line: Some(line), column: None, problem: problem.into() }
    }

    /// A problem at a given line and column of `path`.
    pub fn at_column(path: &Path, line: usize, column: usize, problem: impl Into<String>) -> InputError {
        InputError {
            path: path.to_path_buf(),
            line: Some(line),
            column: Some(column),
            problem: problem.into(),
        }
    }

    /// A problem with `path` as a whole.
    pub fn whole(path: &Path, problem: impl Into<String>) -> InputError {
        InputError { path: path.to_path_buf(), line: None, column: None, problem: problem.into() }
    }

    /// A JSON syntax error in the text at `line` (whose own line 1 serde's position counts
    /// from: `first_line` is where that text starts in the file), located by line and column
    /// instead of serde's "at line 1 column 26" appended to the message.
    pub fn json(path: &Path, first_line: usize, what: &str, e: &serde_json::Error) -> InputError {
        let text = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        let problem = text.strip_suffix(&suffix).unwrap_or(&text);
        let line = first_line + e.line().saturating_sub(1);
        InputError::at_column(path, line, e.column().max(1), format!("{what}: {problem}"))
    }

    /// The file could not be read.
    pub fn io(path: &Path, e: std::io::Error) -> InputError {
        InputError::whole(path, format!("cannot read: {}", io_problem(&e)))
    }
}

/// An I/O error in words, without the OS error number that `std` appends (`Is a directory
/// (os error 21)`): the number helps nobody who reads the message.
fn io_problem(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => text[..at].to_string(),
        _ => text,
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One error is one line: a newline inside it is escaped like any other control.
        let path = self.path.display().to_string();
        let (path, problem) = (escape(&path, false), escape(&self.problem, false));
        match (self.line, self.column) {
            (Some(line), Some(column)) => write!(f, "{path}:{line}:{column}: {problem}"),
            (Some(line), None) => write!(f, "{path}:{line}: {problem}"),
            _ => write!(f, "{path}: {problem}"),
        }
    }
}

/// `text` with every character a terminal would act on written out as an escape (`\x1b`,
/// `\u{202e}`), so it prints as what it is; newlines and tabs are kept, since multi-line
/// output (a summary, a report in text) needs them. Everything Sunder prints that holds
/// text from a history or a file name should pass through here.
pub fn terminal_safe(text: &str) -> Cow<'_, str> {
    escape(text, true)
}

/// True for the characters a terminal interprets: C0 controls, DEL, C1 controls (U+0080 to
/// U+009F, where U+009B alone starts a control sequence), and the bidirectional overrides
/// and isolates that reorder what is displayed.
fn is_terminal_control(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn escape(text: &str, keep_newlines: bool) -> Cow<'_, str> {
    let kept = |c: char| keep_newlines && (c == '\n' || c == '\t');
    if !text.chars().any(|c| is_terminal_control(c) && !kept(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !is_terminal_control(c) || kept(c) {
            out.push(c);
        } else if (c as u32) < 0x100 {
            let _ = write!(out, "\\x{:02x}", c as u32);
        } else {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_controls_but_keeps_lines() {
        let hostile = "k\x1b]0;owned\x07\x1b[2J\u{9b}1m\u{202e}x\ny\tz";
        assert_eq!(terminal_safe(hostile), "k\\x1b]0;owned\\x07\\x1b[2J\\x9b1m\\u{202e}x\ny\tz");
        assert!(matches!(terminal_safe("plain é text\n"), Cow::Borrowed(_)));
    }

    #[test]
    fn prints_an_error_as_one_line_with_controls_escaped() {
        let e = InputError::at_column(Path::new("a\x1bb.edn"), 3, 7, "bad key ':x\x00y'\nsecond line");
        assert_eq!(e.to_string(), "a\\x1bb.edn:3:7: bad key ':x\\x00y'\\x0asecond line");
    }

    #[test]
    fn names_an_io_problem_once_without_the_os_error_number() {
        let e = std::fs::read_to_string("/").unwrap_err();
        let shown = InputError::io(Path::new("/"), e).to_string();
        assert_eq!(shown, "/: cannot read: Is a directory");
    }
}
