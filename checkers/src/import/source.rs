//! Where a history's text comes from, read with limits. A history is a regular file, a pipe
//! the user opened on purpose (a named pipe, or `-` for standard input); anything else (a
//! directory, `/dev/zero`, a socket) is refused before a byte is read. Reading is bounded: a
//! line longer than [`MAX_LINE_BYTES`] or an input larger than [`MAX_INPUT_BYTES`] is an
//! error at once, instead of memory growing until the machine gives out. Invalid UTF-8 is
//! located by line and column, and a leading UTF-8 byte-order mark is skipped.

use crate::error::InputError;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// Longest line accepted. The longest line of any history in the shared data set is under
/// 100 KB (a Knossos vector written on one line); 64 MiB leaves room for far larger ones.
pub const MAX_LINE_BYTES: usize = 64 << 20;

/// Largest input accepted, so an endless pipe ends in an error rather than exhausting memory.
pub const MAX_INPUT_BYTES: u64 = 16 << 30;

/// The path that means standard input.
pub const STDIN: &str = "-";

/// The whole text of `path` (or of standard input for `-`), after checking it is something
/// a history can be read from.
pub fn read_text(path: &Path) -> Result<String, InputError> {
    if path.as_os_str() == STDIN {
        return read_bounded(path, std::io::stdin().lock(), 0);
    }
    refuse_what_is_not_a_history_file(path)?;
    let file = std::fs::File::open(path).map_err(|e| InputError::io(path, e))?;
    // Sized once from the file's length: a history of hundreds of MiB grown by doubling
    // costs copies and page faults worth a good part of its parse.
    let size = file.metadata().map_or(0, |m| m.len()).min(MAX_INPUT_BYTES) as usize;
    read_bounded(path, BufReader::with_capacity(1 << 20, file), size + 1)
}

/// Refuses a path that is not a regular file or a named pipe, naming what it is instead.
fn refuse_what_is_not_a_history_file(path: &Path) -> Result<(), InputError> {
    use std::os::unix::fs::FileTypeExt;
    let kind = std::fs::metadata(path).map_err(|e| InputError::io(path, e))?.file_type();
    let what = if kind.is_file() || kind.is_fifo() {
        return Ok(());
    } else if kind.is_dir() {
        "a directory (give a history file, or a run folder holding history.jsonl)"
    } else if kind.is_char_device() {
        "a character device, not a history file"
    } else if kind.is_block_device() {
        "a block device, not a history file"
    } else if kind.is_socket() {
        "a socket, not a history file"
    } else {
        "not a regular file"
    };
    Err(InputError::whole(path, format!("is {what}; use - to read a history from standard input")))
}

/// Reads `input` to its end within the limits, as UTF-8 text.
fn read_bounded(path: &Path, mut input: impl BufRead, size_hint: usize) -> Result<String, InputError> {
    let mut bytes: Vec<u8> = Vec::with_capacity(size_hint);
    let mut line_start = 0usize;
    loop {
        let chunk = match input.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(InputError::io(path, e)),
        };
        if chunk.is_empty() {
            break;
        }
        let taken = chunk.len();
        let before = bytes.len();
        bytes.extend_from_slice(chunk);
        input.consume(taken);
        if let Some(at) = memchr::memrchr(b'\n', &bytes[before..]) {
            line_start = before + at + 1;
        }
        if bytes.len() - line_start > MAX_LINE_BYTES {
            let line = 1 + memchr::memchr_iter(b'\n', &bytes[..line_start]).count();
            return Err(InputError::at(
                path,
                line,
                format!(
                    "the line is longer than {} MiB; a history holds one op a line",
                    MAX_LINE_BYTES >> 20
                ),
            ));
        }
        if bytes.len() as u64 > MAX_INPUT_BYTES {
            return Err(InputError::whole(
                path,
                format!("the input is larger than {} GiB, more than a history can be", MAX_INPUT_BYTES >> 30),
            ));
        }
    }
    let start = if bytes.starts_with(b"\xef\xbb\xbf") { 3 } else { 0 };
    match std::str::from_utf8(&bytes[start..]) {
        Ok(_) => {
            if start > 0 {
                bytes.drain(..start);
            }
            Ok(String::from_utf8(bytes).expect("checked to be UTF-8 above"))
        }
        Err(e) => {
            let bad = start + e.valid_up_to();
            let line = 1 + bytes[..bad].iter().filter(|b| **b == b'\n').count();
            let line_start = bytes[..bad].iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
            Err(InputError::at_column(
                path,
                line,
                bad - line_start + 1,
                format!("invalid UTF-8 (byte 0x{:02x} at offset {bad} of the file)", bytes[bad]),
            ))
        }
    }
}

/// Reads text from any reader within the same limits; `path` only names it in errors.
pub fn read_text_from(path: &Path, input: impl Read) -> Result<String, InputError> {
    read_bounded(path, BufReader::new(input), 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &[u8]) -> Result<String, InputError> {
        read_text_from(Path::new("h"), bytes)
    }

    #[test]
    fn skips_a_utf8_byte_order_mark() {
        assert_eq!(read(b"\xef\xbb\xbf{\"a\":1}\n").unwrap(), "{\"a\":1}\n");
    }

    #[test]
    fn locates_invalid_utf8_by_line_and_column() {
        let e = read(b"ok line\nab\xffcd\n").unwrap_err();
        assert_eq!(e.to_string(), "h:2:3: invalid UTF-8 (byte 0xff at offset 10 of the file)");
    }

    #[test]
    fn refuses_a_line_longer_than_its_limit() {
        let endless = std::io::repeat(0).take(MAX_LINE_BYTES as u64 + 2);
        let e = read_text_from(Path::new("zeros"), endless).unwrap_err();
        assert!(e.to_string().starts_with("zeros:1: the line is longer than 64 MiB"), "{e}");
    }

    #[test]
    fn refuses_a_character_device_before_reading_it() {
        let e = read_text(Path::new("/dev/zero")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "/dev/zero: is a character device, not a history file; use - to read a history from standard input"
        );
    }

    #[test]
    fn refuses_a_directory_naming_it_once() {
        let e = read_text(Path::new("/tmp")).unwrap_err().to_string();
        assert!(e.starts_with("/tmp: is a directory (give a history file"), "{e}");
        assert_eq!(e.matches("directory").count(), 1, "{e}");
    }
}
