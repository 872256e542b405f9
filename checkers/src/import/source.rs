//! Where a history's text comes from, read with limits. A history is a regular file, a pipe
//! the user opened on purpose (a named pipe, or `-` for standard input); anything else (a
//! directory, `/dev/zero`, a socket) is refused before a byte is read. Reading is bounded: a
//! line longer than [`MAX_LINE_BYTES`] or an input larger than [`MAX_INPUT_BYTES`] is an
//! error at once, instead of memory growing until the machine gives out. Invalid UTF-8 is
//! located by line and column, and a leading UTF-8 byte-order mark is skipped.

use crate::error::InputError;
use std::io::Read;
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
    let mut chunks = TextChunks::open(path)?;
    let mut text = String::with_capacity(chunks.size_hint);
    chunks.read_rest_into(&mut text)?;
    Ok(text)
}

/// Reads text from any reader within the same limits; `path` only names it in errors.
pub fn read_text_from(path: &Path, input: impl Read) -> Result<String, InputError> {
    let mut chunks = TextChunks::new(path, Box::new(input), 0);
    let mut text = String::new();
    chunks.read_rest_into(&mut text)?;
    Ok(text)
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

/// Bytes a chunk holds before it is cut at its last line end.
pub const CHUNK_BYTES: usize = 32 << 20;

/// A history's text read in chunks of about [`CHUNK_BYTES`] (or as told), each cut at a
/// line end (only the last may end without one), so a long history is parsed as it is read
/// instead of being held whole beside its ops. The limits and checks are [`read_text`]'s.
pub struct TextChunks<'a> {
    path: std::path::PathBuf,
    input: Box<dyn Read + 'a>,
    /// The current chunk, then the start of the next line it cut off.
    buf: Vec<u8>,
    /// Bytes of `buf` handed out as the last chunk.
    handed: usize,
    /// The 1-based number of the first line of the next chunk.
    line: usize,
    /// Bytes of the input before `buf`.
    offset: u64,
    started: bool,
    ended: bool,
    /// Bytes a chunk holds before it is cut ([`CHUNK_BYTES`] unless told).
    chunk_bytes: usize,
    /// The file's size in bytes when known (0 otherwise): enough to size what is read into.
    pub size_hint: usize,
}

impl<'a> TextChunks<'a> {
    /// Opens `path` (standard input for `-`) after refusing what is not a history file.
    pub fn open(path: &Path) -> Result<TextChunks<'static>, InputError> {
        if path.as_os_str() == STDIN {
            return Ok(TextChunks::new(path, Box::new(std::io::stdin()), 0));
        }
        refuse_what_is_not_a_history_file(path)?;
        let file = std::fs::File::open(path).map_err(|e| InputError::io(path, e))?;
        let size = file.metadata().map_or(0, |m| m.len()).min(MAX_INPUT_BYTES) as usize;
        Ok(TextChunks::new(path, Box::new(file), size))
    }

    fn new(path: &Path, input: Box<dyn Read + 'a>, size_hint: usize) -> TextChunks<'a> {
        TextChunks {
            path: path.to_path_buf(),
            input,
            buf: Vec::new(),
            handed: 0,
            line: 1,
            offset: 0,
            started: false,
            ended: false,
            chunk_bytes: CHUNK_BYTES,
            size_hint,
        }
    }

    /// The same reader, cutting chunks of about `bytes` (a reader that hands each chunk's
    /// ops on and forgets them holds a few chunks' ops at once, so it wants them smaller).
    pub(crate) fn in_chunks_of(mut self, bytes: usize) -> TextChunks<'a> {
        self.chunk_bytes = bytes.max(1);
        self
    }

    /// Appends every chunk not yet handed out to `text`.
    pub fn read_rest_into(&mut self, text: &mut String) -> Result<(), InputError> {
        while let Some((_, chunk)) = self.next_chunk()? {
            text.push_str(chunk);
        }
        Ok(())
    }

    /// The next chunk with the number of its first line; `None` at the end of the input.
    pub fn next_chunk(&mut self) -> Result<Option<(usize, &str)>, InputError> {
        let Some(chunk) = self.next_raw_chunk()? else { return Ok(None) };
        match std::str::from_utf8(chunk.bytes) {
            Ok(text) => Ok(Some((chunk.line, text))),
            Err(e) => Err(chunk.invalid_utf8(e.valid_up_to())),
        }
    }

    /// The next chunk as bytes not yet checked to be UTF-8, so that the check can run in
    /// the threads that parse the chunk's pieces; `None` at the end of the input. Whoever
    /// takes it must refuse invalid UTF-8 with [`RawChunk::invalid_utf8`].
    pub(crate) fn next_raw_chunk(&mut self) -> Result<Option<RawChunk<'_>>, InputError> {
        let path = self.path.as_path();
        // Forget the chunk handed out last; keep the line it cut off.
        if self.handed > 0 {
            self.line += memchr::memchr_iter(b'\n', &self.buf[..self.handed]).count();
            self.offset += self.handed as u64;
            self.buf.drain(..self.handed);
            self.handed = 0;
        }
        if self.buf.capacity() < self.chunk_bytes {
            self.buf.reserve(self.chunk_bytes.min(self.size_hint.max(1 << 16)) + (1 << 16));
        }
        let end = loop {
            let searched = self.buf.len();
            while !self.ended && self.buf.len() < self.chunk_bytes.max(searched + 1) {
                let len = self.buf.len();
                if self.buf.capacity() == len {
                    self.buf.reserve(len.max(1 << 16));
                }
                // `read_to_end` through `take` fills the spare capacity without zeroing it
                // first, which for a 32 MiB chunk is a pass over memory saved.
                let spare = (self.buf.capacity() - len) as u64;
                match (&mut self.input).take(spare).read_to_end(&mut self.buf) {
                    Ok(0) => self.ended = true,
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(InputError::io(path, e)),
                }
            }
            if self.offset + self.buf.len() as u64 > MAX_INPUT_BYTES {
                return Err(InputError::whole(
                    path,
                    format!(
                        "the input is larger than {} GiB, more than a history can be",
                        MAX_INPUT_BYTES >> 30
                    ),
                ));
            }
            let last_line_end = memchr::memrchr(b'\n', &self.buf).map(|at| at + 1);
            let longest_open = self.buf.len() - last_line_end.unwrap_or(0);
            if longest_open > MAX_LINE_BYTES {
                let line = self.line + memchr::memchr_iter(b'\n', &self.buf).count();
                return Err(InputError::at(
                    path,
                    line,
                    format!(
                        "the line is longer than {} MiB; a history holds one op a line",
                        MAX_LINE_BYTES >> 20
                    ),
                ));
            }
            if self.ended {
                break self.buf.len();
            }
            if let Some(end) = last_line_end {
                break end;
            }
        };
        if end == 0 && self.ended {
            return Ok(None);
        }
        let mut start = 0;
        if !self.started {
            self.started = true;
            if self.buf.starts_with(b"\xef\xbb\xbf") {
                start = 3;
            }
        }
        self.handed = end;
        Ok(Some(RawChunk {
            path,
            line: self.line,
            offset: self.offset,
            skipped: start,
            bytes: &self.buf[start..end],
        }))
    }
}

/// A chunk of a history's text whose UTF-8 is not checked yet: whole lines but for the
/// last chunk, a byte-order mark already cut off.
pub(crate) struct RawChunk<'a> {
    path: &'a Path,
    /// The 1-based number of the chunk's first line.
    pub(crate) line: usize,
    /// Bytes of the input before the chunk, byte-order mark included.
    offset: u64,
    /// Bytes of a byte-order mark skipped before `bytes` (0 or 3).
    skipped: usize,
    /// The chunk's text.
    pub(crate) bytes: &'a [u8],
}

impl RawChunk<'_> {
    /// The error for the invalid UTF-8 found at `bad`, a byte position in
    /// [`RawChunk::bytes`]: its line, its column (counted from the line's first byte in the
    /// file, byte-order mark included) and its offset in the file.
    pub(crate) fn invalid_utf8(&self, bad: usize) -> InputError {
        let line = self.line + memchr::memchr_iter(b'\n', &self.bytes[..bad]).count();
        let line_start = memchr::memrchr(b'\n', &self.bytes[..bad]).map_or(0, |p| self.skipped + p + 1);
        let bad_in_input = self.skipped + bad;
        InputError::at_column(
            self.path,
            line,
            bad_in_input - line_start + 1,
            format!(
                "invalid UTF-8 (byte 0x{:02x} at offset {} of the file)",
                self.bytes[bad],
                self.offset + bad_in_input as u64
            ),
        )
    }
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
