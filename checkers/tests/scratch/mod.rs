//! A scratch folder for one test, shared by the checker crate's tests that write files.

use std::path::PathBuf;

/// A scratch folder for one test, removed when the test ends, also when it fails.
pub struct Scratch(pub PathBuf);

impl Scratch {
    /// A fresh folder named after the test file's `suite`, the test's `tag` and the process.
    pub fn new(suite: &str, tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("sunder-{suite}-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    /// Writes `bytes` to `name` in the folder, and returns its path.
    pub fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
