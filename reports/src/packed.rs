//! Packs a large JSON block of a page (the timeline of a million-op run) so a report stays
//! small enough to mail: the text is zlib-compressed and base64-encoded into the script
//! block, and the page unpacks it with the browser's own `DecompressionStream`. Small
//! blocks stay plain JSON, readable in the page source. The packed form is base64 only, so
//! nothing in it can close the script block or become markup.

/// Blocks larger than this many bytes are packed.
pub const PACK_ABOVE: usize = 4 << 20;

/// The `data-encoding` attribute value of a packed block.
pub const ENCODING: &str = "zlib-base64";

/// Compresses `text` (zlib, fast level: the report is written at the end of every run)
/// and encodes it as base64.
pub fn pack(text: &str) -> String {
    base64(&miniz_oxide::deflate::compress_to_vec_zlib(text.as_bytes(), 1))
}

/// The inverse of [`pack`], for tests and tools: `None` when `packed` is not what
/// [`pack`] wrote.
pub fn unpack(packed: &str) -> Option<String> {
    let bytes = unbase64(packed.trim())?;
    let raw = miniz_oxide::inflate::decompress_to_vec_zlib(&bytes).ok()?;
    String::from_utf8(raw).ok()
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let word = group.iter().enumerate().fold(0u32, |w, (i, b)| w | (u32::from(*b) << (16 - 8 * i)));
        for k in 0..4 {
            if k <= group.len() {
                out.push(ALPHABET[(word >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn unbase64(text: &str) -> Option<Vec<u8>> {
    let digits = text.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &d in digits {
        let v = ALPHABET.iter().position(|&a| a == d)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// Page script that reads a data block by id, packed or plain, and hands the parsed JSON
/// to `then`. Defines `sunderData(id, then)`.
pub const SCRIPT: &str = r#"
function sunderData(id, then) {
  "use strict";
  var block = document.getElementById(id);
  if (block.getAttribute("data-encoding") !== "zlib-base64") { then(JSON.parse(block.textContent)); return; }
  var bin = atob(block.textContent.trim()), bytes = new Uint8Array(bin.length);
  for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
  new Response(stream).text().then(function (text) { then(JSON.parse(text)); });
}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_text_unpacks_to_itself() {
        for text in ["", "a", "ab", "abc", "{\"rows\":[[1,2,3],[4,5,6]]}", &"[1,22,333],".repeat(5000)] {
            let packed = pack(text);
            assert!(packed.bytes().all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b)));
            assert_eq!(unpack(&packed).as_deref(), Some(text));
        }
    }

    #[test]
    fn base64_matches_the_standard_alphabet_and_padding() {
        assert_eq!(base64(b"Man"), "TWFu");
        assert_eq!(base64(b"Ma"), "TWE=");
        assert_eq!(base64(b"M"), "TQ==");
        assert_eq!(unbase64("TWE=").unwrap(), b"Ma");
    }
}
