//! A stand-in node for `tests/cleanup.rs`: the doomed harness starts it as `sunder node
//! <run id>` inside a node namespace, where it sleeps until cleanup kills it. A binary of
//! its own, so the test suite counts only real tests.

fn main() {
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}
