//! Reads Sunder's own JSONL history files back, line by line, and validates them, so a
//! checker never sees a silently partial or malformed history.

use super::line_map::LineMap;
use super::mirror::{Mirror, Streamed};
use super::pieces::{
    Parsed, Part, check_order, count_lines, on_threads, parse_piece, split_at_lines, survey,
};
use super::{History, Op, Pairing, Strictness, Violation};
use crate::error::InputError;
use std::ops::ControlFlow;
use std::path::Path;

/// Reads and validates a JSONL history file (or standard input for `-`), within the input
/// limits of [`crate::import::read_text`]. Every problem names the file and line.
///
/// The file is parsed chunk by chunk as it is read, so a long history is never held as
/// text and ops at once.
pub fn read_jsonl(path: &Path) -> Result<History, InputError> {
    match read_mirrored(path) {
        Some(history) => Ok(history),
        None => read_jsonl_text(path),
    }
}

/// The history of `path` from its binary mirror, when there is one that mirrors the file
/// as it is now and reads back whole and valid ([`super::mirror`]); `None` otherwise, for
/// the caller to read the JSONL, which then names any problem by its line.
pub(crate) fn read_mirrored(path: &Path) -> Option<History> {
    Mirror::open(path).and_then(|m| m.read_history(path))
}

/// [`read_jsonl`] of the JSONL's text alone, whatever mirror is beside it: what every
/// reader does with `SUNDER_NO_MIRROR` set, and the anchor the mirror is measured against.
pub fn read_jsonl_text(path: &Path) -> Result<History, InputError> {
    let mut chunks = crate::import::source::TextChunks::open(path)?;
    let mut reader = JsonlReader::new(path, chunks.size_hint);
    reader.feed_rest(&mut chunks)?;
    reader.finish()
}

/// Reads a JSONL history file chunk by chunk as [`read_jsonl`] does, handing each chunk's
/// ops to `sink` in history order and keeping none, for judges that take a history as it
/// comes ([`crate::live`]); returns how many ops were handed out. The sink may stop the
/// read early (`ControlFlow::Break`): the rest of the file is then neither read nor
/// checked.
///
/// Every line is parsed, and the order of indices and times checked, as [`read_jsonl`]
/// does, with the same errors; ops of the chunks before an error have been handed out by
/// then. The pairing of invocations with completions is the consumer's: a
/// [`crate::live::LiveJudge`] pairs by the same rules and gives up at a violation, which a
/// whole read then names.
pub fn stream_jsonl(
    path: &Path,
    mut sink: impl FnMut(Vec<Op>) -> ControlFlow<()>,
) -> Result<u64, InputError> {
    let Some(mirror) = Mirror::open(path) else { return stream_jsonl_text(path, sink) };
    match mirror.stream(path, MIRROR_GROUP_OPS, &mut sink)? {
        Streamed::Done(handed) => Ok(handed),
        // The ops handed out came from blocks whose checksums held, so they are the
        // JSONL's first ones: the JSONL goes on from the op after them.
        Streamed::Damaged(handed) => {
            let mut skip = handed;
            stream_jsonl_text(path, |mut ops| {
                let drop = skip.min(ops.len() as u64) as usize;
                skip -= drop as u64;
                if drop == ops.len() {
                    return ControlFlow::Continue(());
                }
                ops.drain(..drop);
                sink(ops)
            })
        }
    }
}

/// [`stream_jsonl`] of the JSONL's text alone, whatever mirror is beside it.
pub fn stream_jsonl_text(
    path: &Path,
    mut sink: impl FnMut(Vec<Op>) -> ControlFlow<()>,
) -> Result<u64, InputError> {
    let mut chunks = crate::import::source::TextChunks::open(path)?.in_chunks_of(STREAM_CHUNK_BYTES);
    // No size expected: the op vector holds one chunk's ops, not the history's.
    let mut reader = JsonlReader::new(path, 0);
    let mut handed = 0u64;
    let mut hand = |ops: Vec<Op>| {
        handed += ops.len() as u64;
        if ops.is_empty() { ControlFlow::Continue(()) } else { sink(ops) }
    };
    while let Some(chunk) = chunks.next_raw_chunk()? {
        reader.feed_raw(chunk)?;
        if hand(reader.take_all_but_last()).is_break() {
            return Ok(handed);
        }
    }
    let _ = hand(std::mem::take(&mut reader.ops));
    Ok(handed)
}

/// Bytes of text [`stream_jsonl`] parses at a time: enough for a thread per core
/// ([`parse_threads`]), small enough that the few chunks of ops in flight between the
/// reader and its consumers stay small beside the history (a set run's reads, each a whole
/// set, take about 8 times their text's bytes as ops).
const STREAM_CHUNK_BYTES: usize = 12 << 20;

/// Ops [`stream_jsonl`] decodes from a mirror at a time: about a text chunk's.
const MIRROR_GROUP_OPS: usize = 1 << 16;

/// Parses and validates JSONL history text; `path` only names the source in errors.
///
/// Beyond the rules every history keeps, Sunder's own file promises (docs/history.md) that
/// `index` counts ops from 0 with neither gap nor repeat, and that `time` never goes back:
/// both are checked here, since a checker trusts them (a stray huge `time` once passed for a
/// lost write).
pub fn parse_jsonl(path: &Path, text: &str) -> Result<History, InputError> {
    let mut reader = JsonlReader::new(path, text.len());
    reader.feed(1, text)?;
    reader.finish()
}

/// A JSONL history being parsed from consecutive pieces of its text.
///
/// Parsing is most of the cost of checking a long run, so a large piece is cut at line
/// boundaries into one part per core and the parts are parsed at once, each straight into
/// its own run of the op vector and checked there as far as it can be alone
/// ([`super::pieces`]); the rules across the seams and the first error are then found
/// exactly as a single pass would find them.
pub(crate) struct JsonlReader<'p> {
    path: &'p Path,
    ops: Vec<Op>,
    /// The line each op came from, for errors.
    lines: LineMap,
    /// Bytes of text the whole history is expected to have, to size `ops` once.
    expected_bytes: usize,
    /// The pairing of the ops of earlier chunks, done while later ones are parsed.
    pairing: Pairing,
    /// The pairing's first violation. A malformed line anywhere in the file is reported
    /// before it, as when the pairing ran only once every line was read.
    violation: Option<Violation>,
}

/// Ops left unpaired that are worth a thread of their own while the next chunk is parsed.
const PAIR_ASIDE: usize = 1 << 16;

impl<'p> JsonlReader<'p> {
    /// A reader of `path`, whose text is about `expected_bytes` long (0: unknown).
    pub(crate) fn new(path: &'p Path, expected_bytes: usize) -> JsonlReader<'p> {
        JsonlReader {
            path,
            ops: Vec::new(),
            lines: LineMap::default(),
            expected_bytes,
            pairing: Pairing::new(Strictness::Strict, 0),
            violation: None,
        }
    }

    /// Parses every chunk `chunks` has not handed out yet.
    pub(crate) fn feed_rest(
        &mut self,
        chunks: &mut crate::import::source::TextChunks<'_>,
    ) -> Result<(), InputError> {
        while let Some(chunk) = chunks.next_raw_chunk()? {
            self.feed_raw(chunk)?;
        }
        Ok(())
    }

    /// Parses a chunk as read, whose UTF-8 is checked piece by piece by the threads that
    /// parse it.
    fn feed_raw(&mut self, chunk: crate::import::source::RawChunk<'_>) -> Result<(), InputError> {
        self.feed_text(chunk.line, chunk.bytes, Text::Unchecked(chunk.bytes)).map_err(|e| match e {
            FeedError::Utf8(bad) => chunk.invalid_utf8(bad),
            FeedError::Input(e) => e,
        })
    }

    /// Parses the next piece of the text, whose first line is line `first_line`; the piece
    /// ends at a line end unless it is the last.
    pub(crate) fn feed(&mut self, first_line: usize, text: &str) -> Result<(), InputError> {
        self.feed_text(first_line, text.as_bytes(), Text::Checked(text)).map_err(|e| match e {
            FeedError::Input(e) => e,
            FeedError::Utf8(_) => unreachable!("a `str` holds no invalid UTF-8"),
        })
    }

    /// Parses `bytes` (spelled as `text`); a UTF-8 error comes back as the position of its
    /// byte in `bytes`, for the caller to locate in the file.
    fn feed_text(&mut self, first_line: usize, bytes: &[u8], text: Text<'_>) -> Result<(), FeedError> {
        let path = self.path;
        // First pass, a thread a piece: UTF-8 and line counts.
        let cuts = split_at_lines(bytes, parse_threads(bytes.len()));
        let surveyed = on_threads(cuts, |(start, end)| match text {
            Text::Checked(t) => Ok((&t[start..end], count_lines(&bytes[start..end]))),
            Text::Unchecked(b) => survey(&b[start..end], start),
        });
        // A chunk with invalid UTF-8 is refused for it before any of its lines is judged.
        let mut parts = Vec::with_capacity(surveyed.len());
        let mut line = first_line;
        for survey in surveyed {
            let (text, lines) = survey.map_err(FeedError::Utf8)?;
            parts.push(Part { first_line: line, text, lines });
            // Every piece but the last ends with a line end: its lines are its line ends.
            line += lines;
        }
        let slots: usize = parts.iter().map(|p| p.lines).sum();
        let base = self.ops.len();
        if base == 0 && slots > 0 && self.expected_bytes > bytes.len() {
            // Sized once from the first piece's bytes per op: doubling a Vec of millions
            // of ops would copy it and hold old and new at once.
            let estimate = (self.expected_bytes as f64 / bytes.len() as f64 * slots as f64 * 1.02) as usize;
            self.ops.reserve_exact(estimate);
            self.pairing = Pairing::new(Strictness::Strict, estimate);
            touch_pages(self.ops.spare_capacity_mut());
        }
        // Second pass: one slot per line, filled in place by the piece that owns it, so no
        // op is built in one vector and then moved to another.
        self.ops.reserve(slots);
        let parsed: Vec<Parsed> = {
            // SAFETY: `reserve` made room for `slots` more ops past the `base` held, and the
            // two slices do not overlap; the vector is neither grown nor read through
            // until both are gone.
            let (done, mut rest) = unsafe {
                let start = self.ops.as_mut_ptr();
                (
                    std::slice::from_raw_parts(start.cast_const(), base),
                    std::slice::from_raw_parts_mut(
                        start.add(base).cast::<std::mem::MaybeUninit<Op>>(),
                        slots,
                    ),
                )
            };
            let mut work = Vec::with_capacity(parts.len());
            for part in &parts {
                let (share, tail) = std::mem::take(&mut rest).split_at_mut(part.lines);
                work.push((part, share));
                rest = tail;
            }
            let (pairing, violation) = (&mut self.pairing, &mut self.violation);
            std::thread::scope(|scope| {
                // The earlier chunks' ops are paired beside the parse, not after it.
                let aside = violation.is_none() && done.len() - pairing.paired() >= PAIR_ASIDE;
                let pairer = aside.then(|| scope.spawn(move || pairing.pair(done)));
                let parsed = on_threads(work, |(part, share)| parse_piece(path, part, share));
                if let Some(Err(v)) = pairer.map(|h| h.join().expect("the pairing thread panicked")) {
                    *violation = Some(v);
                }
                parsed
            })
        };
        // Each piece's ops start at its share of the slots; move them up against the ops
        // before (only a piece after blank lines has a gap to close) and count them in.
        let mut share_start = base;
        let mut outcome = Ok(());
        for (part, piece) in parts.iter().zip(parsed) {
            let next = self.ops.len();
            if outcome.is_err() {
                // Past the first error: these ops are not the history's; drop them.
                // SAFETY: the piece wrote `piece.written` ops from its share's start, and
                // nothing else owns them.
                unsafe {
                    let first = self.ops.as_mut_ptr().add(share_start);
                    std::ptr::drop_in_place(std::ptr::slice_from_raw_parts_mut(first, piece.written));
                }
            } else if piece.written > 0 {
                let first_line = piece.lines.line_of(0);
                // SAFETY: the piece wrote its first op at its share's start.
                let first = unsafe { &*self.ops.as_ptr().add(share_start) };
                let previous = next.checked_sub(1).map(|p| (&self.ops[p], self.lines.line_of(p)));
                if let Err(e) = check_order(path, first_line, first, previous) {
                    outcome = Err(FeedError::Input(e));
                    // SAFETY: as above; these ops are dropped, never counted in.
                    unsafe {
                        let first = self.ops.as_mut_ptr().add(share_start);
                        std::ptr::drop_in_place(std::ptr::slice_from_raw_parts_mut(first, piece.written));
                    }
                } else {
                    // SAFETY: the piece's `written` ops sit at `share_start`, at or past
                    // `next`, inside the capacity; `copy` allows the overlap, and the
                    // slots they leave are not read again.
                    unsafe {
                        let base_ptr = self.ops.as_mut_ptr();
                        if share_start != next {
                            std::ptr::copy(base_ptr.add(share_start), base_ptr.add(next), piece.written);
                        }
                        self.ops.set_len(next + piece.written);
                    }
                    self.lines.extend_shifted(&piece.lines, next);
                }
            }
            // A piece stops at its first bad line; every op before it kept the order rules.
            if outcome.is_ok()
                && let Some(e) = piece.error
            {
                outcome = Err(FeedError::Input(e));
            }
            share_start += part.lines;
        }
        outcome
    }

    /// Every op read so far but the last, which stays so that the next piece's first op is
    /// checked against it; the reader then holds that one op. Nothing is paired (a reader
    /// drained this way holds too few ops to pair any aside), so the caller pairs.
    fn take_all_but_last(&mut self) -> Vec<Op> {
        let Some(last_position) = self.ops.len().checked_sub(1) else { return Vec::new() };
        let last_line = self.lines.line_of(last_position);
        let last = self.ops.pop().expect("one op at least");
        let taken = std::mem::replace(&mut self.ops, vec![last]);
        self.lines = LineMap::default();
        self.lines.record(0, last_line);
        taken
    }

    /// Validates everything fed and returns the history.
    pub(crate) fn finish(self) -> Result<History, InputError> {
        let (path, lines) = (self.path, self.lines);
        History::new(self.ops, Strictness::Strict)
            .map_err(|v| InputError::at(path, lines.line_of(v.position), v.problem))
    }
}

/// A text to parse, known to be UTF-8 or not yet checked.
#[derive(Clone, Copy)]
enum Text<'t> {
    /// Text already checked (handed to the reader as `str`).
    Checked(&'t str),
    /// Bytes the first pass checks, a piece on each thread.
    Unchecked(&'t [u8]),
}

/// Why feeding text stopped.
enum FeedError {
    /// Invalid UTF-8 at this byte of the text fed.
    Utf8(usize),
    /// Anything else, located already.
    Input(InputError),
}

#[cfg(test)]
fn parse_in_pieces(path: &Path, text: &str, threads: usize) -> Result<History, InputError> {
    let mut reader = JsonlReader::new(path, text.len());
    let mut first = 1;
    for (start, end) in split_at_lines(text.as_bytes(), threads) {
        reader.feed(first, &text[start..end])?;
        first += count_lines(&text.as_bytes()[start..end]);
    }
    reader.finish()
}

/// Writes one slot in every memory page of `spare`, a piece of it on each core, so the
/// kernel maps and zeroes the pages of a vector of millions of ops on all cores at once
/// instead of on the one thread that then fills the vector (that first touch was the
/// largest single cost left in a profile of the reader). Nothing is read back: the slots
/// are written over when the vector grows into them.
fn touch_pages(spare: &mut [std::mem::MaybeUninit<Op>]) {
    const PAGE_BYTES: usize = 4096;
    let stride = (PAGE_BYTES / std::mem::size_of::<Op>()).max(1);
    let threads = parse_threads(std::mem::size_of_val(spare)).max(1);
    let pieces: Vec<_> = spare.chunks_mut(spare.len().div_ceil(threads).max(1)).collect();
    on_threads(pieces, |piece| {
        for slot in piece.iter_mut().step_by(stride) {
            *slot = std::mem::MaybeUninit::zeroed();
        }
        std::hint::black_box(piece);
    });
}

/// How many threads parse a text of `bytes`: one per core for large texts, where the
/// threads pay for themselves, else one.
fn parse_threads(bytes: usize) -> usize {
    const PER_THREAD: usize = 4 << 20;
    if bytes < 2 * PER_THREAD {
        return 1;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores.clamp(1, 8).min(bytes / PER_THREAD)
}

/// Validates ops read from `path`, where `lines[i]` is the line op `i` came from, so a
/// violation names its line. Sunder's reader and every importer end here.
pub(crate) fn validate_at_lines(
    path: &Path,
    ops: Vec<Op>,
    lines: &[usize],
    strictness: Strictness,
) -> Result<History, InputError> {
    History::new(ops, strictness).map_err(|v| InputError::at(path, lines[v.position], v.problem))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `text` in pieces as [`stream_jsonl`] feeds chunks, collecting what it hands out.
    fn stream_in_pieces(text: &str, threads: usize) -> Result<Vec<Op>, InputError> {
        let mut reader = JsonlReader::new(Path::new("h.jsonl"), 0);
        let (mut out, mut first) = (Vec::new(), 1);
        for (start, end) in split_at_lines(text.as_bytes(), threads) {
            reader.feed(first, &text[start..end])?;
            first += count_lines(&text.as_bytes()[start..end]);
            out.extend(reader.take_all_but_last());
        }
        out.append(&mut reader.ops);
        Ok(out)
    }

    #[test]
    fn streaming_hands_out_every_op_and_finds_what_one_pass_finds() {
        let good: String = (0..3000)
            .map(|i| line(i, i * 10, (i / 2) % 7, if i % 2 == 0 { "invoke" } else { "ok" }))
            .collect();
        let whole = parse(&good).unwrap();
        for threads in [1, 2, 3, 7] {
            let streamed = stream_in_pieces(&good, threads).unwrap();
            assert_eq!(streamed, whole.ops(), "{threads} pieces");
        }
        // An order error across a seam is found however the text is cut.
        let mut lines: Vec<String> = good.lines().map(str::to_string).collect();
        lines[1500] = line(1500, 1, 750 % 7, "invoke").trim_end().to_string();
        let text = lines.join("\n");
        for threads in [1, 2, 3, 7] {
            let e = stream_in_pieces(&text, threads).unwrap_err().to_string();
            assert!(e.starts_with("h.jsonl:1501: time 1 is earlier"), "{threads} pieces: {e}");
        }
        lines[1500] = "{not json".to_string();
        let text = lines.join("\n");
        for threads in [1, 2, 3, 7] {
            let e = stream_in_pieces(&text, threads).unwrap_err().to_string();
            assert!(e.starts_with("h.jsonl:1501:"), "{threads} pieces: {e}");
        }
    }

    #[test]
    fn streaming_a_file_hands_out_its_ops_in_order() {
        let dir = std::env::temp_dir().join(format!("sunder-stream-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("history.jsonl");
        let text: String =
            (0..500).map(|i| line(i, i, (i / 2) % 3, if i % 2 == 0 { "invoke" } else { "ok" })).collect();
        std::fs::write(&path, &text).unwrap();
        let mut streamed = Vec::new();
        let n = stream_jsonl(&path, |ops| {
            streamed.extend(ops);
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(n, 500);
        assert_eq!(streamed, read_jsonl(&path).unwrap().ops());
        // Stopped after the first chunk, the read hands out nothing more (the chunk's last
        // op waits for the next chunk's first, so it never comes).
        let mut chunks = 0;
        let n = stream_jsonl(&path, |_| {
            chunks += 1;
            ControlFlow::Break(())
        })
        .unwrap();
        assert_eq!((n, chunks), (499, 1));
        std::fs::write(&path, "").unwrap();
        assert_eq!(stream_jsonl(&path, |_| panic!("no ops in an empty file")).unwrap(), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn parse(text: &str) -> Result<History, InputError> {
        parse_jsonl(Path::new("h.jsonl"), text)
    }

    #[test]
    fn parsing_in_pieces_finds_what_one_pass_finds() {
        let good: String = (0..3000)
            .map(|i| line(i, i * 10, (i / 2) % 7, if i % 2 == 0 { "invoke" } else { "ok" }))
            .collect();
        for threads in [1, 2, 3, 7] {
            let h = parse_in_pieces(Path::new("h.jsonl"), &good, threads).unwrap();
            assert_eq!(h.ops().len(), 3000);
            assert!(h.ops().iter().enumerate().all(|(i, o)| o.index == i as u64));
        }
        // A malformed line late, and an order error earlier: the earlier line is named,
        // whichever piece each falls in.
        let mut lines: Vec<String> = good.lines().map(str::to_string).collect();
        lines[2500] = "{not json".to_string();
        lines[1200] = line(1300, 12000, 600 % 7, "invoke").trim_end().to_string();
        let text = lines.join("\n");
        for threads in [1, 2, 3, 7] {
            let e = parse_in_pieces(Path::new("h.jsonl"), &text, threads).unwrap_err().to_string();
            assert!(e.starts_with("h.jsonl:1201:"), "{threads} threads: {e}");
        }
        lines[1200] = line(1200, 12000, 600 % 7, "invoke").trim_end().to_string();
        let text = lines.join("\n");
        for threads in [1, 2, 3, 7] {
            let e = parse_in_pieces(Path::new("h.jsonl"), &text, threads).unwrap_err().to_string();
            assert!(e.starts_with("h.jsonl:2501:"), "{threads} threads: {e}");
        }
    }

    #[test]
    fn names_file_and_line_of_a_malformed_op() {
        let text = "{\"index\":0,\"time\":1,\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"value\":null}\n{not json\n";
        let e = parse(text).unwrap_err().to_string();
        assert_eq!(e, "h.jsonl:2:2: malformed op: key must be a string");
    }

    #[test]
    fn names_the_line_of_an_unknown_op_type() {
        let e =
            parse("{\"index\":0,\"time\":1,\"process\":0,\"type\":\"maybe\",\"f\":\"read\"}").unwrap_err();
        assert!(e.to_string().starts_with("h.jsonl:1:46: malformed op: unknown variant `maybe`"), "{e}");
    }

    #[test]
    fn names_the_line_of_a_completion_without_invoke() {
        let text = "\n{\"index\":0,\"time\":1,\"process\":4,\"type\":\"ok\",\"f\":\"read\",\"value\":3}\n";
        let e = parse(text).unwrap_err().to_string();
        assert!(e.starts_with("h.jsonl:2: ok of read by process 4 without an invocation"), "{e}");
    }

    fn line(index: u64, time: u64, process: u64, kind: &str) -> String {
        format!(
            "{{\"index\":{index},\"time\":{time},\"process\":{process},\"type\":\"{kind}\",\"f\":\"read\",\"value\":null}}\n"
        )
    }

    #[test]
    fn refuses_a_repeated_index() {
        let text = line(0, 1, 0, "invoke") + &line(0, 2, 0, "ok");
        let e = parse(&text).unwrap_err().to_string();
        assert_eq!(
            e,
            "h.jsonl:2: index 0 repeats or goes back from index 0: indices count ops from 0, one by one, and 1 was due"
        );
    }

    #[test]
    fn refuses_a_gap_in_the_indices() {
        let text = line(0, 1, 0, "invoke") + &line(2, 2, 0, "ok");
        let e = parse(&text).unwrap_err().to_string();
        assert!(e.starts_with("h.jsonl:2: index 2 leaves a gap"), "{e}");
        let e = parse(&line(1, 1, 0, "invoke")).unwrap_err().to_string();
        assert!(e.starts_with("h.jsonl:1: index 1 leaves a gap"), "{e}");
    }

    #[test]
    fn refuses_a_time_that_goes_back() {
        let text = line(0, u64::MAX, 0, "invoke") + &line(1, 5, 0, "ok");
        let e = parse(&text).unwrap_err().to_string();
        assert!(
            e.starts_with("h.jsonl:2: time 5 is earlier than 18446744073709551615 of the op on line 1"),
            "{e}"
        );
    }

    #[test]
    fn names_the_column_of_a_json_error_once() {
        let e = parse("{\"index\":0,\"time\":-3,\"process\":0}").unwrap_err().to_string();
        assert!(e.starts_with("h.jsonl:1:"), "{e}");
        assert!(!e.contains("at line 1 column"), "{e}");
    }
}
