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
    let mut loaded = 0;
    for row in manifest.lines().skip(1) {
        let file = row.split('\t').next().unwrap();
        if file.starts_with("causal/") || file.starts_with("plume/") || file.contains("etcd_095") {
            continue;
        }
        let imported = load(&dir.join(file), Format::Auto).unwrap_or_else(|e| panic!("{e}"));
        assert!(!imported.history.is_empty(), "{file} imported empty");
        loaded += 1;
    }
    assert!(loaded > 200, "only {loaded} files loaded");
}
