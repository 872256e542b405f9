//! Temporary run folders for the integration tests: each is removed when dropped, also when
//! the test fails, and fixtures are copied in so rendering never writes into the source tree.
//! Also the one way a test skips: [`skip_unless_required`].

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A fresh folder under the system temp dir, removed on drop.
pub struct ScratchDir(pub PathBuf);

impl ScratchDir {
    /// Creates an empty folder named after `label`.
    pub fn new(label: &str) -> ScratchDir {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("sunder-report-{label}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        ScratchDir(dir)
    }

    /// A copy of `tests/fixtures/<name>` in a fresh folder.
    pub fn fixture(name: &str) -> ScratchDir {
        let s = ScratchDir::new(name);
        copy_tree(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name), &s.0);
        s
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// Every value of `attr="..."` in tags starting with `open`, in order.
pub fn attrs(html: &str, open: &str, attr: &str) -> Vec<String> {
    let mut out = vec![];
    let mut rest = html;
    while let Some(at) = rest.find(open) {
        let tag_end = rest[at..].find('>').map(|e| at + e).unwrap_or(rest.len());
        let tag = &rest[at..tag_end];
        let needle = format!(" {attr}=\"");
        if let Some(a) = tag.find(&needle) {
            let v = &tag[a + needle.len()..];
            out.push(v[..v.find('"').unwrap_or(v.len())].to_string());
        }
        rest = &rest[tag_end.min(rest.len())..];
        if rest.is_empty() {
            break;
        }
        rest = &rest[1..];
    }
    out
}

/// The report's structure, one fact a line: sections in order, the banner, counts of
/// anomalies, witness bars by role, model ladder, checker rows, plots, availability rows,
/// timeline rows and file links. Golden files hold this, not every byte.
pub fn structure(html: &str) -> String {
    let mut lines = vec![];
    lines.push(format!("sections: {}", attrs(html, "<section ", "id").join(" ")));
    lines.push(format!("banner: {}", attrs(html, "<header ", "class").join(" ")));
    lines.push(format!("anomalies: {}", attrs(html, "<article ", "id").join(" ")));
    let roles = attrs(html, "<g class=\"w-", "class");
    for role in ["w-prefix", "w-concurrent", "w-offending", "w-failed"] {
        lines.push(format!("witness {role}: {}", roles.iter().filter(|r| r.starts_with(role)).count()));
    }
    lines.push(format!("ladder: {}", attrs(html, "<li class=\"m-", "class").join(" ")));
    lines.push(format!("ladder tags: {}", html.matches("<span class=\"tag\">").count()));
    let checkers =
        html.split("<table class=\"checkers\">").nth(1).unwrap_or("").split("</table>").next().unwrap_or("");
    lines.push(format!("checker rows: {}", checkers.matches("<tr><td>").count()));
    lines.push(format!("plots: {}", html.matches("<div class=\"plot\"><svg").count()));
    let avail = html
        .split("<table class=\"availability\">")
        .nth(1)
        .unwrap_or("")
        .split("</table>")
        .next()
        .unwrap_or("");
    lines.push(format!("availability rows: {}", avail.matches("<tr><td>").count()));
    lines.push(format!("timeline rows: {}", attrs(html, "<section id=\"timeline\"", "data-rows").join(" ")));
    lines.push(format!("scripts: {}", html.matches("<script").count()));
    let files = html.split("<section id=\"files\">").nth(1).unwrap_or("");
    lines.push(format!("file links: {}", attrs(files, "<a ", "href").join(" ")));
    lines.push(format!("log tails: {}", files.matches("<details class=\"log-tail\">").count()));
    lines.join("\n") + "\n"
}

/// Skips a test whose tool is missing, visibly: the notice goes to the stderr handle itself,
/// which libtest does not capture (`eprintln!` inside a test is captured and hidden unless it
/// fails). When `switch` (a `SUNDER_REQUIRE_*` variable) is `1`, as in CI, it panics
/// instead, so a skip can never pass for a success there.
pub fn skip_unless_required(test: &str, switch: &str, why: &str) {
    use std::io::Write;
    if std::env::var(switch).as_deref() == Ok("1") {
        panic!("{test}: {switch}=1 but {why}");
    }
    let _ = writeln!(
        std::io::stderr(),
        "==================== SKIP {test}: {why} (set {switch}=1 to make this a failure) ===================="
    );
}

/// The shared data set (`$SUNDER_DATA`, or `shared/data` beside the repository). It is part
/// of the test suite, so its absence fails the test rather than skipping it.
pub fn data_dir() -> PathBuf {
    let dir = std::env::var_os("SUNDER_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"));
    assert!(
        dir.join("MANIFEST.tsv").is_file(),
        "the shared data set is missing: no MANIFEST.tsv in {}; set SUNDER_DATA to the folder holding it",
        dir.display()
    );
    dir
}
