//! Where the transactional tests find the external histories: `$SUNDER_DATA`, or
//! `shared/data` two levels above this crate (the project's convention); a missing folder
//! fails the test with a clear message instead of skipping it.

use std::path::PathBuf;

/// The path of `relative` inside the shared data folder.
pub fn data(relative: &str) -> PathBuf {
    let dir = match std::env::var_os("SUNDER_DATA") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"),
    };
    assert!(
        dir.join("MANIFEST.tsv").is_file(),
        "external test data not found at {} (set SUNDER_DATA to the shared/data folder)",
        dir.display()
    );
    dir.join(relative)
}
