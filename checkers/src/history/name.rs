//! [`Name`]: the short strings an op names (its function, key and node) in 16 bytes.
//!
//! Every op of a history holds three of them, and a long run holds millions of ops, so
//! their size is a large part of a history's memory and of the bytes the reader writes for
//! each line. A name of up to 15 bytes is held inline; a longer one on the heap. Either way
//! it takes 16 bytes, and `Option<Name>` too (the tag byte is never zero).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::num::NonZeroU8;
use std::ops::Deref;

/// Bytes a name may have and still be held inline.
const INLINE: usize = 15;

/// The tag of a name held on the heap; an inline name's tag is its length plus one.
const HEAP: u8 = 0xFF;

/// A short string held inline when it fits in 15 bytes; derefs to `str` and compares with
/// `&str`, so an op's `f`, `key` and `node` read like strings.
pub struct Name {
    /// An inline name's bytes; for a heap name, its pointer (8 bytes, little-endian) and
    /// length (7 bytes).
    bytes: [u8; INLINE],
    /// An inline name's length plus one, or [`HEAP`].
    tag: NonZeroU8,
}

// SAFETY: a heap name owns its bytes alone, as a `Box<str>` would; nothing is shared.
unsafe impl Send for Name {}
// SAFETY: as above; `&Name` only reads.
unsafe impl Sync for Name {}

impl Name {
    /// The empty name.
    pub const EMPTY: Name = Name { bytes: [0; INLINE], tag: NonZeroU8::MIN };

    /// A name spelled `text`.
    pub fn new(text: &str) -> Name {
        if text.len() <= INLINE {
            let mut bytes = [0; INLINE];
            bytes[..text.len()].copy_from_slice(text.as_bytes());
            Name { bytes, tag: NonZeroU8::new(text.len() as u8 + 1).expect("a length plus one") }
        } else {
            Name::on_heap(text.into())
        }
    }

    fn on_heap(text: Box<str>) -> Name {
        let len = text.len() as u64;
        let address = Box::into_raw(text).cast::<u8>().expose_provenance() as u64;
        let mut bytes = [0; INLINE];
        bytes[..8].copy_from_slice(&address.to_le_bytes());
        // A `str` is shorter than 2^56 bytes, so 7 bytes hold its length.
        bytes[8..].copy_from_slice(&len.to_le_bytes()[..7]);
        Name { bytes, tag: NonZeroU8::new(HEAP).expect("nonzero") }
    }

    /// A heap name's pointer and length.
    fn heap_parts(&self) -> (*mut u8, usize) {
        let mut address = [0; 8];
        address.copy_from_slice(&self.bytes[..8]);
        let mut len = [0; 8];
        len[..7].copy_from_slice(&self.bytes[8..]);
        (
            std::ptr::with_exposed_provenance_mut(u64::from_le_bytes(address) as usize),
            u64::from_le_bytes(len) as usize,
        )
    }

    /// The name as a `str`.
    pub fn as_str(&self) -> &str {
        let tag = self.tag.get();
        if tag != HEAP {
            let len = usize::from(tag - 1).min(INLINE);
            // SAFETY: an inline name's first `len` bytes were copied from a `str`.
            unsafe { std::str::from_utf8_unchecked(&self.bytes[..len]) }
        } else {
            let (ptr, len) = self.heap_parts();
            // SAFETY: the pointer and length are those of the `Box<str>` this name owns.
            unsafe { std::str::from_utf8_unchecked(std::slice::from_raw_parts(ptr, len)) }
        }
    }
}

impl Drop for Name {
    fn drop(&mut self) {
        if self.tag.get() == HEAP {
            let (ptr, len) = self.heap_parts();
            // SAFETY: the parts of the `Box<str>` made in `on_heap`, freed once, here.
            drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, len) as *mut str) });
        }
    }
}

impl Clone for Name {
    fn clone(&self) -> Name {
        if self.tag.get() == HEAP {
            Name::on_heap(self.as_str().into())
        } else {
            Name { bytes: self.bytes, tag: self.tag }
        }
    }
}

impl Default for Name {
    fn default() -> Name {
        Name::EMPTY
    }
}

impl Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for Name {
    fn from(text: &str) -> Name {
        Name::new(text)
    }
}

impl From<&String> for Name {
    fn from(text: &String) -> Name {
        Name::new(text)
    }
}

impl From<String> for Name {
    fn from(text: String) -> Name {
        if text.len() <= INLINE { Name::new(&text) } else { Name::on_heap(text.into_boxed_str()) }
    }
}

impl From<Name> for String {
    fn from(name: Name) -> String {
        name.as_str().to_string()
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Name {}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Name {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<Name> for str {
    fn eq(&self, other: &Name) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<Name> for &str {
    fn eq(&self, other: &Name) -> bool {
        *self == other.as_str()
    }
}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Name) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Name {
    fn cmp(&self, other: &Name) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for Name {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // As `str` hashes, so a map keyed by names can be looked up by `&str`.
        self.as_str().hash(state)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

impl Serialize for Name {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Name, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Name;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Name, E> {
                Ok(Name::new(text))
            }
            fn visit_string<E: serde::de::Error>(self, text: String) -> Result<Name, E> {
                Ok(Name::from(text))
            }
        }
        d.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_and_an_optional_name_take_16_bytes() {
        assert_eq!(std::mem::size_of::<Name>(), 16);
        assert_eq!(std::mem::size_of::<Option<Name>>(), 16);
    }

    #[test]
    fn names_of_every_length_read_back_as_spelled() {
        let long = "ü".repeat(40);
        for len in 0..=long.len() {
            let Some(text) = long.get(..len) else { continue };
            let name = Name::new(text);
            assert_eq!(name.as_str(), text);
            assert_eq!(name.clone(), name);
            assert_eq!(Name::from(text.to_string()).as_str(), text);
            let json = serde_json::to_string(&name).unwrap();
            assert_eq!(serde_json::from_str::<Name>(&json).unwrap(), name);
        }
        assert_eq!(Name::EMPTY.as_str(), "");
        assert_eq!(Name::default(), "");
        assert!(Name::new("k1") < Name::new("k2"));
        let mut names = std::collections::HashSet::new();
        names.insert(Name::new("a much longer node name than fifteen bytes"));
        assert!(names.contains("a much longer node name than fifteen bytes"));
    }
}
