//! The one escaping function for untrusted text. Every value that comes from a history, a
//! node log, `test.json` or `results.json` reaches HTML, XML (JUnit) or the Markdown summary
//! only through [`text`] (or [`push_text`]); data embedded for the report's script goes
//! through [`script_json`], so a value like `</script>` can never end the block it sits in.
//! Names that become part of a link (node names, store paths) go through [`push_href_segment`].

/// Escapes `s` for use as HTML or XML text or a quoted attribute value.
///
/// Besides the five markup characters, control characters that XML 1.0 forbids become
/// U+FFFD, so one function serves the report, JUnit and the summary alike.
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    push_text(&mut out, s);
    out
}

/// Appends `s` to `out`, escaped like [`text`].
pub fn push_text(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{7f}' || c == '\u{fffe}' || c == '\u{ffff}' => {
                out.push('\u{fffd}')
            }
            c => out.push(c),
        }
    }
}

/// Makes JSON text safe inside `<script type="application/json">`: `<`, `>` and `&` can
/// only occur inside JSON strings, where their `\uXXXX` forms mean the same, and U+2028/9
/// are escaped for older parsers. The result parses to the same value.
pub fn script_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len() + json.len() / 64);
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// Appends `segment` to `out` percent-encoded for a URL path, keeping only unreserved
/// characters as they are, so a `/`, `?` or `#` in a name cannot change where a link goes.
pub fn push_href_segment(out: &mut String, segment: &str) {
    use std::fmt::Write;
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_tags_become_text() {
        assert_eq!(text("<script>alert('x')</script>"), "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;");
        assert_eq!(text("a & \"b\""), "a &amp; &quot;b&quot;");
    }

    #[test]
    fn control_characters_are_replaced_so_xml_stays_well_formed() {
        assert_eq!(text("a\u{1}b\u{0}c\nd"), "a\u{fffd}b\u{fffd}c\nd");
    }

    #[test]
    fn script_json_cannot_close_its_block_and_still_parses() {
        let json = serde_json::to_string(&serde_json::json!(["</script><b>&", "\u{2028}"])).unwrap();
        let safe = script_json(&json);
        assert!(!safe.contains('<') && !safe.contains('>') && !safe.contains('&'));
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, serde_json::json!(["</script><b>&", "\u{2028}"]));
    }
}
