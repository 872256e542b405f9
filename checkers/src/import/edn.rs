//! A small EDN reader that turns Jepsen's `history.edn` text into JSON values, remembering the
//! line each top-level form (or each element of a top-level vector) starts on, so importers
//! can name the line of a bad op. The mapping follows the importer contract: keywords become
//! strings without the colon, `nil` null, vectors, lists and sets arrays, map keys strings,
//! and a tag (`#jepsen.history.Op{...}`, `#inst "..."`) is dropped in favour of its value.

use serde_json::{Map, Number, Value};

/// A syntax problem at a line.
#[derive(Debug, Clone, PartialEq)]
pub struct EdnError {
    /// 1-based line of the problem.
    pub line: usize,
    /// 1-based column (in bytes) of the problem, when it is known.
    pub column: Option<usize>,
    /// What is wrong.
    pub problem: String,
}

/// One parsed form and the line it starts on.
#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    /// 1-based line of the form's first character.
    pub line: usize,
    /// The form, as JSON.
    pub value: Value,
}

/// Reads every top-level form of `text`. When the text is one vector or list, its elements
/// are returned instead (a Jepsen history written as one vector of ops).
pub fn read_forms(text: &str) -> Result<Vec<Located>, EdnError> {
    let mut r = Reader { bytes: text.as_bytes(), pos: 0, line: 1, depth: 0 };
    r.skip_blank()?;
    // A single top-level vector: read its elements one by one to keep their lines.
    if matches!(r.peek(), Some(b'[') | Some(b'(')) {
        let open_line = r.line;
        let close = if r.peek() == Some(b'[') { b']' } else { b')' };
        r.pos += 1;
        let mut items = Vec::new();
        loop {
            r.skip_blank()?;
            match r.peek() {
                None => return Err(r.error_at(open_line, "the top-level vector is never closed")),
                Some(c) if c == close => {
                    r.pos += 1;
                    break;
                }
                Some(_) => {
                    let line = r.line;
                    if let Some(value) = r.read_form()? {
                        items.push(Located { line, value });
                    }
                }
            }
        }
        r.skip_blank()?;
        if r.peek().is_some() {
            return Err(r.error("unexpected text after the top-level vector"));
        }
        return Ok(items);
    }
    let mut forms = Vec::new();
    while r.peek().is_some() {
        let line = r.line;
        if let Some(value) = r.read_form()? {
            forms.push(Located { line, value });
        }
        r.skip_blank()?;
    }
    Ok(forms)
}

/// Parses exactly one EDN form (e.g. a model's initial value on the command line).
pub fn read_one(text: &str) -> Result<Value, EdnError> {
    let mut r = Reader { bytes: text.as_bytes(), pos: 0, line: 1, depth: 0 };
    r.skip_blank()?;
    let value = loop {
        match r.read_form()? {
            Some(v) => break v,
            None if r.peek().is_none() => return Err(r.error("no value")),
            None => r.skip_blank()?,
        }
    };
    r.skip_blank()?;
    if r.peek().is_some() {
        return Err(r.error("more than one value"));
    }
    Ok(value)
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    line: usize,
    depth: usize,
}

/// Deepest nesting accepted; a history needs a handful of levels, and a limit turns a
/// pathological file into an error instead of a stack overflow.
const MAX_DEPTH: usize = 256;

fn is_delimiter(c: u8) -> bool {
    c.is_ascii_whitespace() || matches!(c, b',' | b'(' | b')' | b'[' | b']' | b'{' | b'}' | b'"' | b';')
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn error(&self, problem: impl Into<String>) -> EdnError {
        EdnError { line: self.line, column: Some(self.column_of(self.pos)), problem: problem.into() }
    }

    fn error_at(&self, line: usize, problem: impl Into<String>) -> EdnError {
        EdnError { line, column: None, problem: problem.into() }
    }

    /// The 1-based column of byte `pos` on its line.
    fn column_of(&self, pos: usize) -> usize {
        let pos = pos.min(self.bytes.len());
        pos - self.bytes[..pos].iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1) + 1
    }

    /// Skips whitespace, commas, comments and `#_` discarded forms.
    fn skip_blank(&mut self) -> Result<(), EdnError> {
        while let Some(c) = self.peek() {
            match c {
                b'\n' => {
                    self.line += 1;
                    self.pos += 1;
                }
                b',' => self.pos += 1,
                c if c.is_ascii_whitespace() => self.pos += 1,
                b';' => {
                    while let Some(c) = self.peek() {
                        if c == b'\n' {
                            break;
                        }
                        self.pos += 1;
                    }
                }
                b'#' if self.bytes.get(self.pos + 1) == Some(&b'_') => {
                    // The discarded form is read (through the depth guard) and dropped.
                    self.pos += 2;
                    self.read_form()?;
                }
                _ => break,
            }
        }
        Ok(())
    }

    /// Reads one form; `None` when only a discarded form was there.
    fn read_form(&mut self) -> Result<Option<Value>, EdnError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error(format!("nested more than {MAX_DEPTH} levels deep")));
        }
        self.depth += 1;
        let form = self.read_form_here();
        self.depth -= 1;
        form
    }

    fn read_form_here(&mut self) -> Result<Option<Value>, EdnError> {
        self.skip_blank()?;
        let Some(c) = self.peek() else {
            return Err(self.error("unexpected end of input"));
        };
        let v = match c {
            b'[' => {
                self.pos += 1;
                Value::Array(self.read_seq(b']')?)
            }
            b'(' => {
                self.pos += 1;
                Value::Array(self.read_seq(b')')?)
            }
            b'{' => {
                self.pos += 1;
                self.read_map()?
            }
            b'"' => Value::String(self.read_string()?),
            b'\\' => Value::String(self.read_char()?),
            b'#' => return self.read_dispatch(),
            b':' => {
                self.pos += 1;
                let tok = self.read_name("keyword")?;
                if tok.is_empty() {
                    return Err(self.error("a keyword needs a name after ':'"));
                }
                Value::String(tok.to_string())
            }
            b')' | b']' | b'}' => return Err(self.error(format!("unexpected '{}'", c as char))),
            _ => {
                let tok = self.read_name("symbol")?;
                if tok.is_empty() {
                    return Err(self.error(format!("unexpected character '{}'", c as char)));
                }
                atom(tok).map_err(|p| self.error(p))?
            }
        };
        Ok(Some(v))
    }

    fn read_dispatch(&mut self) -> Result<Option<Value>, EdnError> {
        match self.bytes.get(self.pos + 1) {
            Some(b'{') => {
                self.pos += 2;
                Ok(Some(Value::Array(self.read_seq(b'}')?)))
            }
            Some(b'_') => {
                self.pos += 2;
                self.read_form()?;
                Ok(None)
            }
            Some(b':') => {
                // Namespaced map `#:ns{...}`: keep the map, drop the namespace.
                self.pos += 2;
                self.read_token();
                self.skip_blank()?;
                self.read_form()
            }
            Some(c) if c.is_ascii_alphabetic() => {
                // Tagged value: the tag says what a record is, the value is what we keep.
                self.pos += 1;
                self.read_token();
                self.skip_blank()?;
                self.read_form()
            }
            _ => Err(self.error("unsupported '#' form")),
        }
    }

    fn read_seq(&mut self, close: u8) -> Result<Vec<Value>, EdnError> {
        let open_line = self.line;
        let mut items = Vec::new();
        loop {
            self.skip_blank()?;
            match self.peek() {
                None => {
                    return Err(
                        self.error_at(open_line, format!("'{}' opened here is never closed", opener(close)))
                    );
                }
                Some(c) if c == close => {
                    self.pos += 1;
                    return Ok(items);
                }
                Some(_) => {
                    if let Some(v) = self.read_form()? {
                        items.push(v);
                    }
                }
            }
        }
    }

    fn read_map(&mut self) -> Result<Value, EdnError> {
        let open_line = self.line;
        let items = self.read_seq(b'}')?;
        if items.len() % 2 != 0 {
            return Err(self.error_at(open_line, "a map needs an even number of forms"));
        }
        let mut map = Map::new();
        let mut it = items.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            let key = match k {
                Value::String(s) => s,
                other => other.to_string(),
            };
            map.insert(key, v);
        }
        Ok(Value::Object(map))
    }

    fn read_string(&mut self) -> Result<String, EdnError> {
        let open_line = self.line;
        self.pos += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.error_at(open_line, "a string opened here is never closed"));
            };
            self.pos += 1;
            match c {
                b'"' => break,
                b'\n' => {
                    self.line += 1;
                    out.push(c);
                }
                b'\\' => {
                    let Some(e) = self.peek() else {
                        return Err(self.error("unfinished escape in a string"));
                    };
                    self.pos += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'r' => out.push(b'\r'),
                        b'"' | b'\\' => out.push(e),
                        b'u' => {
                            let hex = self.bytes.get(self.pos..self.pos + 4).unwrap_or_default();
                            let code = std::str::from_utf8(hex)
                                .ok()
                                .and_then(|h| u32::from_str_radix(h, 16).ok())
                                .and_then(char::from_u32)
                                .ok_or_else(|| self.error("bad \\u escape in a string"))?;
                            self.pos += 4;
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(code.encode_utf8(&mut buf).as_bytes());
                        }
                        other => {
                            return Err(
                                self.error(format!("unknown escape '\\{}' in a string", other as char))
                            );
                        }
                    }
                }
                _ => out.push(c),
            }
        }
        String::from_utf8(out).map_err(|_| self.error_at(open_line, "a string is not valid UTF-8"))
    }

    fn read_char(&mut self) -> Result<String, EdnError> {
        self.pos += 1;
        let start = self.pos;
        // A character literal is at least one char, then runs to the next delimiter.
        let first = std::str::from_utf8(&self.bytes[start..])
            .ok()
            .and_then(|s| s.chars().next())
            .ok_or_else(|| self.error("a character literal needs a character"))?;
        self.pos += first.len_utf8();
        while self.peek().is_some_and(|c| !is_delimiter(c)) {
            self.pos += 1;
        }
        let tok = std::str::from_utf8(&self.bytes[start..self.pos]).unwrap_or_default();
        Ok(match tok {
            "newline" => "\n".into(),
            "space" => " ".into(),
            "tab" => "\t".into(),
            "return" => "\r".into(),
            _ => tok.to_string(),
        })
    }

    /// A keyword's or symbol's name. A control byte cannot be part of one: EDN allows none,
    /// and one NUL in `:value` would silently make it another key.
    fn read_name(&mut self, what: &str) -> Result<&str, EdnError> {
        let start = self.pos;
        while let Some(c) = self.peek().filter(|c| !is_delimiter(*c)) {
            if c.is_ascii_control() {
                return Err(self.error(format!("control byte 0x{c:02x} inside a {what}")));
            }
            self.pos += 1;
        }
        std::str::from_utf8(&self.bytes[start..self.pos])
            .map_err(|_| self.error(format!("a {what} is not valid UTF-8")))
    }

    fn read_token(&mut self) -> &str {
        let start = self.pos;
        while self.peek().is_some_and(|c| !is_delimiter(c)) {
            self.pos += 1;
        }
        std::str::from_utf8(&self.bytes[start..self.pos]).unwrap_or_default()
    }
}

fn opener(close: u8) -> char {
    match close {
        b']' => '[',
        b')' => '(',
        _ => '{',
    }
}

/// A bare token: nil, a boolean, a number or a symbol.
fn atom(tok: &str) -> Result<Value, String> {
    match tok {
        "nil" => return Ok(Value::Null),
        "true" => return Ok(Value::Bool(true)),
        "false" => return Ok(Value::Bool(false)),
        _ => {}
    }
    let first = tok.as_bytes()[0];
    let numeric = first.is_ascii_digit()
        || ((first == b'-' || first == b'+') && tok.as_bytes().get(1).is_some_and(u8::is_ascii_digit));
    if !numeric {
        return Ok(Value::String(tok.to_string()));
    }
    let body = tok.strip_suffix('N').or_else(|| tok.strip_suffix('M')).unwrap_or(tok);
    let body = body.strip_prefix('+').unwrap_or(body);
    if let Ok(i) = body.parse::<i64>() {
        return Ok(Value::Number(i.into()));
    }
    if let Ok(u) = body.parse::<u64>() {
        return Ok(Value::Number(u.into()));
    }
    if let Ok(f) = body.parse::<f64>()
        && let Some(n) = Number::from_f64(f)
    {
        return Ok(Value::Number(n));
    }
    if body.bytes().all(|c| c.is_ascii_digit() || c == b'-' || c == b'/') {
        // Big integers and ratios keep their exact text.
        return Ok(Value::String(body.to_string()));
    }
    Err(format!("'{tok}' is not a valid number"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn converts_jepsen_ops_to_json() {
        let forms = read_forms(
            "{:process 9, :type :invoke, :f :cas, :value [1 nil], :key \"k\", :time 12}\n\
             #jepsen.history.Op{:process :nemesis, :type :info, :f :start, :value #{:n1}}\n",
        )
        .unwrap();
        assert_eq!(forms.len(), 2);
        assert_eq!(
            forms[0].value,
            json!({"process": 9, "type": "invoke", "f": "cas", "value": [1, null], "key": "k", "time": 12})
        );
        assert_eq!(forms[1].line, 2);
        assert_eq!(forms[1].value["value"], json!(["n1"]));
    }

    #[test]
    fn keeps_the_line_of_each_element_of_a_top_level_vector() {
        let forms = read_forms("; a comment\n[{:a 1}\n {:b 2}\n\n {:c #_ 7 3}]").unwrap();
        assert_eq!(forms.iter().map(|f| f.line).collect::<Vec<_>>(), vec![2, 3, 5]);
        assert_eq!(forms[2].value, json!({"c": 3}));
    }

    #[test]
    fn names_the_line_of_an_unclosed_map() {
        let e = read_forms("{:a 1}\n{:b 2\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.problem.contains("never closed"), "{}", e.problem);
    }

    #[test]
    fn refuses_nesting_deeper_than_its_limit() {
        for deep in ["[".repeat(100_000), "#a ".repeat(100_000), "#_ ".repeat(100_000)] {
            let e = read_forms(&format!("{{:a {deep}}}")).unwrap_err();
            assert!(e.problem.contains("nested more than"), "{}", e.problem);
        }
    }

    #[test]
    fn refuses_control_bytes_inside_keywords_and_symbols_with_their_column() {
        let e = read_forms("{:process 0,\n :val\0ue 3}").unwrap_err();
        assert_eq!((e.line, e.column), (2, Some(6)));
        assert_eq!(e.problem, "control byte 0x00 inside a keyword");
        let e = read_one("ni\x07l").unwrap_err();
        assert_eq!((e.line, e.column, e.problem.as_str()), (1, Some(3), "control byte 0x07 inside a symbol"));
    }

    #[test]
    fn stringifies_non_string_map_keys() {
        assert_eq!(read_one("{1 :a, [1 2] :b}").unwrap(), json!({"1": "a", "[1,2]": "b"}));
    }
}
