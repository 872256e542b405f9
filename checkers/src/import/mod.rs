//! Importers: other tools' history files become a validated [`History`], so every checker
//! can judge Jepsen's, Knossos's and Porcupine's data as well as Sunder's own. [`load`] reads
//! a file (within the limits of [`source`]) in a given [`Format`] (or detects it from the
//! content), and says in [`Imported::fail_semantics`] how that source's `fail` ops are meant,
//! because the sources disagree (see [`FailSemantics`]), and in [`Imported::model_as_meant`]
//! how its registers start (Knossos's `nil` reading for Jepsen files).

mod edn;
mod jepsen;
mod log;
pub mod source;

pub use edn::{EdnError, Located, read_forms, read_one};
pub use source::read_text;

use crate::error::InputError;
use crate::history::History;
use crate::linearizable::ModelKind;
use serde_json::{Value, json};
use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// A history file format, as named on the command line (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Detect from the content; refused when ambiguous.
    Auto,
    /// Sunder's own JSON Lines history.
    Jsonl,
    /// Jepsen `history.edn`: one vector of op maps, or one map a line.
    JepsenEdn,
    /// Jepsen log lines: `INFO  jepsen.util - <process> :invoke :read nil`.
    JepsenLog,
    /// Porcupine's kv test data: one EDN map a line with `get`, `put`, `append` on strings.
    PorcupineKv,
    /// A JSON array of Jepsen op maps (or one JSON map a line), as elle-cli reads them.
    JepsenJson,
    /// Plume's text transactions: `r(key,value,session,txn)` / `w(...)` a line.
    Plume,
}

impl Format {
    /// The name used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Auto => "auto",
            Format::Jsonl => "jsonl",
            Format::JepsenEdn => "jepsen-edn",
            Format::JepsenLog => "jepsen-log",
            Format::PorcupineKv => "porcupine-kv",
            Format::JepsenJson => "jepsen-json",
            Format::Plume => "plume",
        }
    }

    /// How `fail` ops of this source are to be read by a checker.
    pub fn fail_semantics(self) -> FailSemantics {
        match self {
            // Porcupine's etcd model, and Sunder's register client (a 412 is a failed cas),
            // read a failed cas as one that saw another value.
            Format::JepsenLog | Format::Jsonl => FailSemantics::CasMismatch,
            Format::Auto | Format::JepsenEdn | Format::PorcupineKv | Format::JepsenJson | Format::Plume => {
                FailSemantics::NotApplied
            }
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Format, String> {
        Ok(match s {
            "auto" => Format::Auto,
            "jsonl" => Format::Jsonl,
            "jepsen-edn" | "edn" => Format::JepsenEdn,
            "jepsen-log" => Format::JepsenLog,
            "porcupine-kv" => Format::PorcupineKv,
            "jepsen-json" | "json" => Format::JepsenJson,
            "plume" => Format::Plume,
            other => {
                return Err(format!(
                    "unknown format '{other}': expected auto, jsonl, jepsen-edn, jepsen-log, porcupine-kv, jepsen-json or plume"
                ));
            }
        })
    }
}

/// What a `fail` completion means in a given source. The anchors differ, and the checker
/// models the difference instead of guessing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailSemantics {
    /// Knossos and Jepsen: a `fail` op definitely did not happen; the checker drops it.
    NotApplied,
    /// Porcupine's etcd model and Sunder's register: a failed `cas` did happen, at some point
    /// inside its interval, and saw a value other than its `from`; it constrains the history.
    /// Other failed ops did not happen. A Sunder cas `fail` whose `error` names something
    /// other than a mismatch (e.g. "not leader") is read as not applied.
    CasMismatch,
}

/// Lines of a file that held no op and were skipped (a console log's header and trailer).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SkippedLines {
    /// How many lines were skipped.
    pub count: usize,
    /// The first few of them (1-based line numbers), to point a user at them.
    pub first: Vec<usize>,
}

impl SkippedLines {
    /// Line numbers kept in [`SkippedLines::first`].
    pub const SHOWN: usize = 10;

    fn note(&mut self, line: usize) {
        self.count += 1;
        if self.first.len() < Self::SHOWN {
            self.first.push(line);
        }
    }
}

/// A history read from a file, with what the checker needs to know about its source.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The validated history.
    pub history: History,
    /// The format it was read as (the detected one when [`Format::Auto`] was asked).
    pub format: Format,
    /// How this source's `fail` ops are to be read.
    pub fail_semantics: FailSemantics,
    /// Lines that were not ops and were skipped (only the Jepsen log format skips any).
    pub skipped: SkippedLines,
}

impl Imported {
    /// The register model `asked` as this file's authors meant it. Jepsen histories
    /// (`history.edn`, Jepsen JSON) were judged by Knossos, whose `register` and
    /// `cas-register` start at `nil` and read a `nil` result as "not observed": a bare
    /// `register` or `cas-register` means that for them, exactly as `register nil` does. An
    /// initial value given in the model string is kept as given. Sunder's own histories and
    /// Porcupine's logs keep Sunder's reading (start at `null`, a `null` read means never
    /// written), which is Porcupine's too.
    pub fn model_as_meant(&self, asked: ModelKind) -> ModelKind {
        let knossos = matches!(self.format, Format::JepsenEdn | Format::JepsenJson);
        match asked {
            ModelKind::Register { initial: None } if knossos => {
                ModelKind::Register { initial: Some(Value::Null) }
            }
            ModelKind::CasRegister { initial: None } if knossos => {
                ModelKind::CasRegister { initial: Some(Value::Null) }
            }
            other => other,
        }
    }

    /// What was read and how, for `results.json` (`"source"`) and the summary: the format,
    /// what op numbers mean, and how many lines were skipped.
    pub fn source_json(&self) -> Value {
        json!({
            "format": self.format.as_str(),
            "op-numbers": self.history.op_numbering().as_str(),
            "skipped-lines": self.skipped.count,
            "first-skipped-lines": self.skipped.first,
        })
    }
}

/// Reads `path` (`-` for standard input) in `format`, detecting it when [`Format::Auto`],
/// and validates it. Only a regular file or a pipe is read, and within the limits of
/// [`source`].
///
/// A Sunder JSONL history is parsed chunk by chunk as it is read, never held whole as text
/// beside its ops; with [`Format::Auto`] the format is told from the first chunk (32 MiB,
/// far more than [`DETECTION_WINDOW`] lines of any history). A JSONL history with a current
/// binary mirror beside it (`history.mirror`, written by [`crate::history::HistoryWriter`])
/// is read from the mirror, which holds the same ops (see `crate::history::mirror`).
pub fn load(path: &Path, format: Format) -> Result<Imported, InputError> {
    // A current binary mirror was written by Sunder's own writer beside this very file.
    if matches!(format, Format::Auto | Format::Jsonl)
        && let Some(history) = crate::history::read_mirrored(path)
    {
        let format = Format::Jsonl;
        let fail_semantics = format.fail_semantics();
        return Ok(Imported { history, format, fail_semantics, skipped: SkippedLines::default() });
    }
    let mut chunks = source::TextChunks::open(path)?;
    let size = chunks.size_hint;
    let Some((line, first)) = chunks.next_chunk()? else { return parse(path, "", format) };
    let format = match format {
        Format::Auto => detect(path, first)?,
        f => f,
    };
    if format != Format::Jsonl {
        let mut text = String::with_capacity(size);
        text.push_str(first);
        chunks.read_rest_into(&mut text)?;
        return parse(path, &text, format);
    }
    let mut reader = crate::history::JsonlReader::new(path, size);
    reader.feed(line, first)?;
    reader.feed_rest(&mut chunks)?;
    let history = reader.finish()?;
    Ok(Imported {
        history,
        format,
        fail_semantics: format.fail_semantics(),
        skipped: SkippedLines::default(),
    })
}

/// Like [`load`] on text already read; `path` only names the source in errors.
pub fn parse(path: &Path, text: &str, format: Format) -> Result<Imported, InputError> {
    let format = match format {
        Format::Auto => detect(path, text)?,
        f => f,
    };
    let mut skipped = SkippedLines::default();
    let history = match format {
        Format::Auto => unreachable!("detect never answers Auto"),
        Format::Jsonl => crate::history::parse_jsonl(path, text)?,
        Format::JepsenEdn | Format::PorcupineKv => jepsen::from_edn(path, text)?,
        Format::JepsenJson => jepsen::from_json(path, text)?,
        Format::Plume => crate::txn::plume::parse(path, text)?,
        Format::JepsenLog => {
            let (history, s) = log::from_log(path, text)?;
            skipped = s;
            history
        }
    };
    Ok(Imported { history, format, fail_semantics: format.fail_semantics(), skipped })
}

/// Meaningful lines [`detect`] looks at: enough to see past a console log's header.
pub const DETECTION_WINDOW: usize = 2_000;

/// Guesses the format from the first [`DETECTION_WINDOW`] meaningful lines: each line votes
/// for the format it looks like, and the format most lines look like wins, so lines that are
/// not ops (a `lein test` header, logger lines) do not decide. Refuses when no line looks
/// like any format.
pub fn detect(path: &Path, text: &str) -> Result<Format, InputError> {
    let meaningful = || {
        text.lines()
            .enumerate()
            .map(|(n, l)| (n + 1, l.trim()))
            .filter(|(_, l)| !l.is_empty() && !l.starts_with(';'))
    };
    let Some((first_line, first)) = meaningful().next() else {
        return Err(InputError::whole(
            path,
            "the file is empty: there is no history to detect a format from",
        ));
    };
    // A file that opens a vector holds one array of ops: JSON or EDN, never JSONL.
    let in_vector = first.starts_with('[') || first.starts_with('(');
    let mut votes: Vec<(Format, usize)> = Vec::new();
    for (_, line) in meaningful().take(DETECTION_WINDOW) {
        if let Some(format) = line_format(line, in_vector) {
            match votes.iter_mut().find(|(f, _)| *f == format) {
                Some((_, n)) => *n += 1,
                None => votes.push((format, 1)),
            }
        }
    }
    // The most votes win; on a tie, the format seen first.
    let winner = votes.iter().copied().fold(None, |best: Option<(Format, usize)>, (f, n)| match best {
        Some((_, m)) if m >= n => best,
        _ => Some((f, n)),
    });
    match winner {
        Some((Format::PorcupineKv, _)) if in_vector => Ok(Format::JepsenEdn),
        Some((format, _)) => Ok(format),
        None => Err(InputError::at(
            path,
            first_line,
            "cannot tell the format from this line or the ones after it (not Sunder JSONL, Jepsen EDN or JSON, a Jepsen log line, Porcupine kv or Plume); pass --format",
        )),
    }
}

/// The format one meaningful line looks like, if any.
fn line_format(line: &str, in_vector: bool) -> Option<Format> {
    if log::is_log_line(line) {
        return Some(Format::JepsenLog);
    }
    if (line.starts_with("r(") || line.starts_with("w(")) && line.ends_with(')') {
        return Some(Format::Plume);
    }
    let body = line.trim_start_matches(['[', '(']).trim_start();
    if body.starts_with("{\"") || body.starts_with('{') && body[1..].trim_start().starts_with('"') {
        // Sunder's writer puts index first and always writes time; a line so shaped is
        // Sunder's even when it does not parse, so its error is the JSONL reader's.
        let sunder_shaped = body.starts_with("{\"index\":") && body.contains("\"time\":");
        if !in_vector && (sunder_shaped || serde_json::from_str::<crate::history::Op>(line).is_ok()) {
            return Some(Format::Jsonl);
        }
        return Some(Format::JepsenJson);
    }
    if body.starts_with('{') || body.starts_with("#jepsen") || body.starts_with("#{") {
        if body.contains(":f :get") || body.contains(":f :put") || body.contains(":f :append") {
            return Some(Format::PorcupineKv);
        }
        return Some(Format::JepsenEdn);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detected(text: &str) -> Format {
        detect(Path::new("h"), text).unwrap()
    }

    #[test]
    fn detects_plume_transactions() {
        assert_eq!(detected("r(1,1,0,0)\nw(2,1,0,0)\n"), Format::Plume);
    }

    #[test]
    fn detects_each_format_from_its_first_line() {
        assert_eq!(
            detected(
                "{\"index\":0,\"time\":1,\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"value\":null}"
            ),
            Format::Jsonl
        );
        assert_eq!(detected("[{\"process\":1,\"type\":\"invoke\",\"f\":\"read\"}]"), Format::JepsenJson);
        assert_eq!(detected("[{:process 1, :type :invoke, :f :read}]"), Format::JepsenEdn);
        assert_eq!(detected("{:process 1, :type :invoke, :f :read, :value nil}"), Format::JepsenEdn);
        assert_eq!(
            detected("{:process 9, :type :invoke, :f :append, :key \"0\", :value \"x 9 0 y\"}"),
            Format::PorcupineKv
        );
        assert_eq!(detected("INFO  jepsen.util - 0\t:invoke\t:read\tnil"), Format::JepsenLog);
        assert_eq!(detected("; comment\n[\n{:process 1, :type :invoke, :f :read}\n]"), Format::JepsenEdn);
    }

    #[test]
    fn never_panics_on_arbitrary_input() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let pieces = [
            "{",
            "}",
            "[",
            "]",
            "(",
            ")",
            "#{",
            "#_",
            "#jepsen.history.Op",
            "\"",
            "\\",
            ":",
            ":process",
            " 1",
            " -",
            "nil",
            ":type",
            ":invoke",
            ":ok",
            ":f",
            ":read",
            ":value",
            "\n",
            ",",
            ";",
            "é",
            "\\u00",
            "1.5e",
            "INFO  jepsen.util - ",
            "\t",
            "{\"process\":",
            "\"type\":\"ok\"",
            "N",
            "#",
            "\\newline",
            "\0",
            "\u{1b}[2J",
            "\u{feff}",
            "{\"index\":0,\"time\":-1,",
            "lein test x\n",
            "INFO  jepsen.util - Relative time\n",
        ];
        for _ in 0..5_000 {
            let n = rng.random_range(0..30);
            let text: String = (0..n).map(|_| pieces[rng.random_range(0..pieces.len())]).collect();
            for format in
                [Format::Auto, Format::JepsenEdn, Format::JepsenJson, Format::JepsenLog, Format::Jsonl]
            {
                let _ = parse(Path::new("fuzz"), &text, format);
            }
        }
    }

    #[test]
    fn refuses_to_guess_the_format_of_an_empty_file() {
        let e = detect(Path::new("h"), "\n\n").unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
    }

    #[test]
    fn parses_format_names_of_the_command_line() {
        for f in [
            Format::Auto,
            Format::Jsonl,
            Format::JepsenEdn,
            Format::JepsenLog,
            Format::PorcupineKv,
            Format::JepsenJson,
        ] {
            assert_eq!(f.as_str().parse::<Format>().unwrap(), f);
        }
        assert!("xml".parse::<Format>().unwrap_err().contains("unknown format"));
    }
}
