//! Importers: other tools' history files become a validated [`History`], so every checker
//! can judge Jepsen's, Knossos's and Porcupine's data as well as Sunder's own. [`load`] reads
//! a file in a given [`Format`] (or detects it from the content), and says in
//! [`Imported::fail_semantics`] how that source's `fail` ops are meant, because the sources
//! disagree (see [`FailSemantics`]).

mod edn;
mod jepsen;
mod log;

pub use edn::{EdnError, Located, read_forms, read_one};

use crate::error::InputError;
use crate::history::{History, read_jsonl};
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
        }
    }

    /// How `fail` ops of this source are to be read by a checker.
    pub fn fail_semantics(self) -> FailSemantics {
        match self {
            // Porcupine's etcd model, and Sunder's register client (a 412 is a failed cas),
            // read a failed cas as one that saw another value.
            Format::JepsenLog | Format::Jsonl => FailSemantics::CasMismatch,
            Format::Auto | Format::JepsenEdn | Format::PorcupineKv | Format::JepsenJson => {
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
            other => {
                return Err(format!(
                    "unknown format '{other}': expected auto, jsonl, jepsen-edn, jepsen-log, porcupine-kv or jepsen-json"
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

/// A history read from a file, with what the checker needs to know about its source.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The validated history.
    pub history: History,
    /// The format it was read as (the detected one when [`Format::Auto`] was asked).
    pub format: Format,
    /// How this source's `fail` ops are to be read.
    pub fail_semantics: FailSemantics,
}

/// Reads `path` in `format` (detecting it when [`Format::Auto`]) and validates it.
pub fn load(path: &Path, format: Format) -> Result<Imported, InputError> {
    if format == Format::Jsonl {
        let history = read_jsonl(path)?;
        return Ok(Imported { history, format, fail_semantics: format.fail_semantics() });
    }
    let text = std::fs::read_to_string(path).map_err(|e| InputError::io(path, e))?;
    parse(path, &text, format)
}

/// Like [`load`] on text already read; `path` only names the source in errors.
pub fn parse(path: &Path, text: &str, format: Format) -> Result<Imported, InputError> {
    let format = match format {
        Format::Auto => detect(path, text)?,
        f => f,
    };
    let history = match format {
        Format::Auto => unreachable!("detect never answers Auto"),
        Format::Jsonl => crate::history::parse_jsonl(path, text)?,
        Format::JepsenEdn | Format::PorcupineKv => jepsen::from_edn(path, text)?,
        Format::JepsenJson => jepsen::from_json(path, text)?,
        Format::JepsenLog => log::from_log(path, text)?,
    };
    Ok(Imported { history, format, fail_semantics: format.fail_semantics() })
}

/// Guesses the format from the first meaningful line; refuses when it cannot tell.
pub fn detect(path: &Path, text: &str) -> Result<Format, InputError> {
    let Some((line_no, line)) = text
        .lines()
        .enumerate()
        .map(|(n, l)| (n + 1, l.trim()))
        .find(|(_, l)| !l.is_empty() && !l.starts_with(';'))
    else {
        return Err(InputError::whole(
            path,
            "the file is empty: there is no history to detect a format from",
        ));
    };
    if log::is_log_line(line) {
        return Ok(Format::JepsenLog);
    }
    let body = line.trim_start_matches(['[', '(']).trim_start();
    if body.starts_with("{\"") || body.starts_with('{') && body[1..].trim_start().starts_with('"') {
        // Sunder's own op lines must carry index and time; Jepsen JSON maps need neither.
        if !line.starts_with('[') && serde_json::from_str::<crate::history::Op>(line).is_ok() {
            return Ok(Format::Jsonl);
        }
        return Ok(Format::JepsenJson);
    }
    if body.starts_with('{') || body.starts_with("#jepsen") || body.starts_with("#{") {
        if line.starts_with('{')
            && (body.contains(":f :get") || body.contains(":f :put") || body.contains(":f :append"))
        {
            return Ok(Format::PorcupineKv);
        }
        return Ok(Format::JepsenEdn);
    }
    if line == "[" || line == "(" || line == "[]" {
        // A vector opened on its own line: look at the next meaningful line.
        let rest: String = text.lines().skip(line_no).collect::<Vec<_>>().join("\n");
        return match detect(path, &rest) {
            Ok(Format::Jsonl) => Ok(Format::JepsenJson),
            Ok(Format::PorcupineKv) => Ok(Format::JepsenEdn),
            other => other,
        };
    }
    Err(InputError::at(
        path,
        line_no,
        "cannot tell the format from this line (not Sunder JSONL, Jepsen EDN or JSON, a Jepsen log line or Porcupine kv); pass --format",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detected(text: &str) -> Format {
        detect(Path::new("h"), text).unwrap()
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
