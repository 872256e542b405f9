//! Every history file of the shared data set that is meant for Sunder's importers loads
//! with format detection, or fails with a located error; none panics.

use std::path::PathBuf;
use sunder_check::import::{Format, load};

fn data_dir() -> PathBuf {
    std::env::var_os("SUNDER_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"))
}

#[test]
fn imports_every_jepsen_and_porcupine_history_of_the_shared_data() {
    let dir = data_dir();
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv"))
        .unwrap_or_else(|e| panic!("cannot read {}/MANIFEST.tsv ({e}); set SUNDER_DATA", dir.display()));
    let (mut loaded, mut empty) = (0, 0);
    for row in manifest.lines().skip(1) {
        let cols: Vec<&str> = row.split('\t').collect();
        let (file, expected) = (cols[0], cols.get(3).copied().unwrap_or_default());
        // Bouajjani's examples and Plume's text format are read by their own tests.
        if file.starts_with("causal/") || file.starts_with("plume/") {
            continue;
        }
        if expected.starts_with("empty") {
            // The manifest records a run that produced no history (etcd_095: the cluster
            // failed): the file is empty, and loading it must say so, not yield a history.
            let e = load(&dir.join(file), Format::Auto).expect_err(file).to_string();
            assert!(e.contains("empty"), "{file}: {e}");
            empty += 1;
            continue;
        }
        let imported = load(&dir.join(file), Format::Auto).unwrap_or_else(|e| panic!("{e}"));
        assert!(!imported.history.is_empty(), "{file} imported empty");
        loaded += 1;
    }
    assert!(loaded > 200, "only {loaded} files loaded");
    assert_eq!(empty, 1, "the manifest lists one empty history (etcd_095)");
}
