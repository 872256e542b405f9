//! The prefixes of the values one key's gets returned, as a radix tree, for the string kv
//! model (`string_kv`). A string the search builds from puts and appends can still be read
//! only while it is a prefix of some value a get returned; each such prefix is one point of
//! this tree, so the model's state is a few integers, equal exactly when the strings are,
//! and an append is a walk of its few bytes down the tree instead of a new string.
//!
//! Edges are slices of the texts the tree was built from (the tree keeps no bytes of its
//! own): a node's edge is `texts[src][start..end]`, and the path from the root to it spells
//! `texts[src][..end]`.

/// No node (an absent child or sibling).
const NONE: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
struct Node {
    src: u32,
    start: u32,
    end: u32,
    first_child: u32,
    next_sibling: u32,
    /// `texts[src][start]`, so finding a child reads no text.
    first_byte: u8,
}

/// One prefix of a value read: the first `depth` bytes of the strings through `node`.
/// Canonical (`start < depth <= end` of its node, or the root at depth 0), so two points are
/// equal exactly when the prefixes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Point {
    node: u32,
    depth: u32,
}

/// The radix tree of a key's values read; see the module docs.
#[derive(Debug, Clone)]
pub struct PrefixTree {
    nodes: Vec<Node>,
}

impl PrefixTree {
    /// The empty string, a prefix of everything.
    pub const ROOT: Point = Point { node: 0, depth: 0 };

    /// The tree of the prefixes of `texts[i]` for every `i` in `reads`.
    pub fn new(texts: &[Box<str>], reads: impl IntoIterator<Item = usize>) -> PrefixTree {
        let root = Node { src: 0, start: 0, end: 0, first_child: NONE, next_sibling: NONE, first_byte: 0 };
        let mut tree = PrefixTree { nodes: vec![root] };
        for id in reads {
            tree.insert(texts, id);
        }
        tree
    }

    fn child(&self, node: u32, byte: u8) -> Option<u32> {
        let mut c = self.nodes[node as usize].first_child;
        while c != NONE {
            let n = &self.nodes[c as usize];
            if n.first_byte == byte {
                return Some(c);
            }
            c = n.next_sibling;
        }
        None
    }

    fn insert(&mut self, texts: &[Box<str>], id: usize) {
        let s = texts[id].as_bytes();
        let (mut at, mut depth) = (0u32, 0usize);
        while depth < s.len() {
            let Some(c) = self.child(at, s[depth]) else {
                let leaf = Node {
                    src: id as u32,
                    start: depth as u32,
                    end: s.len() as u32,
                    first_child: NONE,
                    next_sibling: self.nodes[at as usize].first_child,
                    first_byte: s[depth],
                };
                self.nodes.push(leaf);
                self.nodes[at as usize].first_child = (self.nodes.len() - 1) as u32;
                return;
            };
            let node = self.nodes[c as usize];
            let label = &texts[node.src as usize].as_bytes()[node.start as usize..node.end as usize];
            // At least 1: the child was found by its first byte.
            let common = common_prefix(label, &s[depth..]);
            if common < label.len() {
                self.split(texts, c, node.start as usize + common);
            }
            at = c;
            depth += common;
        }
    }

    /// Cuts node `c`'s edge at text position `at` (strictly inside it): `c` keeps the
    /// first part, a new child the rest and `c`'s children.
    fn split(&mut self, texts: &[Box<str>], c: u32, at: usize) {
        let node = self.nodes[c as usize];
        let rest = Node {
            src: node.src,
            start: at as u32,
            end: node.end,
            first_child: node.first_child,
            next_sibling: NONE,
            first_byte: texts[node.src as usize].as_bytes()[at],
        };
        let id = self.nodes.len() as u32;
        self.nodes.push(rest);
        let n = &mut self.nodes[c as usize];
        n.end = at as u32;
        n.first_child = id;
    }

    /// The point of `from`'s prefix followed by `tail`, or `None` when that string is no
    /// prefix of any value read.
    pub fn walk(&self, texts: &[Box<str>], from: Point, tail: &[u8]) -> Option<Point> {
        let (mut at, mut depth) = (from.node, from.depth as usize);
        let mut rest = tail;
        loop {
            let node = &self.nodes[at as usize];
            let end = node.end as usize;
            if depth < end {
                let m = (end - depth).min(rest.len());
                if texts[node.src as usize].as_bytes()[depth..depth + m] != rest[..m] {
                    return None;
                }
                depth += m;
                rest = &rest[m..];
            }
            let Some(&byte) = rest.first() else {
                return Some(Point { node: at, depth: depth as u32 });
            };
            // `depth` is the node's end: go on along the child the next byte names.
            at = self.child(at, byte)?;
        }
    }

    /// The prefix a point stands for.
    pub fn text<'t>(&self, texts: &'t [Box<str>], p: Point) -> &'t str {
        if p.depth == 0 {
            return "";
        }
        // Points come from walks of whole strings, so `depth` is a char boundary.
        let src = &texts[self.nodes[p.node as usize].src as usize];
        src.get(..p.depth as usize).unwrap_or(src)
    }
}

/// Length of the longest common prefix of `a` and `b`, eight bytes at a time.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + 8 <= n {
        let x = u64::from_le_bytes(a[i..i + 8].try_into().expect("eight bytes"));
        let y = u64::from_le_bytes(b[i..i + 8].try_into().expect("eight bytes"));
        if x != y {
            return i + ((x ^ y).trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < n && a[i] == b[i] {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(v: &[&str]) -> Vec<Box<str>> {
        v.iter().map(|s| Box::from(*s)).collect()
    }

    #[test]
    fn walks_to_one_point_per_distinct_prefix_and_nowhere_else() {
        let t = texts(&["abcd", "abxy", "ab", "q", "abc"]);
        let tree = PrefixTree::new(&t, [0, 1, 2, 3]);
        let at = |s: &str| tree.walk(&t, PrefixTree::ROOT, s.as_bytes());
        // The same prefix reached in different steps is the same point.
        let ab = at("ab").unwrap();
        assert_eq!(tree.walk(&t, ab, b"c"), at("abc"));
        assert_eq!(tree.walk(&t, at("a").unwrap(), b"bcd"), at("abcd"));
        assert_eq!(tree.walk(&t, ab, b""), Some(ab));
        assert_eq!(at(""), Some(PrefixTree::ROOT));
        // Different prefixes are different points.
        let all = ["", "a", "ab", "abc", "abcd", "abx", "abxy", "q"].map(|s| at(s).unwrap());
        for (i, p) in all.iter().enumerate() {
            assert_eq!(tree.text(&t, *p), ["", "a", "ab", "abc", "abcd", "abx", "abxy", "q"][i]);
            assert!(all[i + 1..].iter().all(|o| o != p));
        }
        // Strings no value read starts with.
        for s in ["b", "abcde", "abz", "qq", "abxyz"] {
            assert_eq!(at(s), None, "{s}");
        }
    }

    #[test]
    fn common_prefix_counts_across_word_boundaries() {
        assert_eq!(common_prefix(b"0123456789abcdef", b"0123456789abXdef"), 12);
        assert_eq!(common_prefix(b"01234567", b"01234567"), 8);
        assert_eq!(common_prefix(b"0123", b"01234567"), 4);
        assert_eq!(common_prefix(b"", b"x"), 0);
    }
}
