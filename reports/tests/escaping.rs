//! Everything from a history, a node log, `test.json` or `results.json` is shown as text:
//! a run whose key, values, errors, nemesis ops, test name and node log all carry
//! `</script><script>...` markup renders with exactly the report's own two script blocks,
//! and the markup appears escaped.

mod scratch_dir;

use scratch_dir::ScratchDir;
use sunder_report::synthetic::{HOSTILE, SyntheticRun};

fn hostile_run() -> (ScratchDir, sunder_report::RenderSummary) {
    let run = ScratchDir::new("hostile");
    SyntheticRun { ops: 1500, invalid: true, hostile: true, ..Default::default() }.write(run.path()).unwrap();
    let s = sunder_report::render_run(run.path()).unwrap();
    (run, s)
}

#[test]
fn script_in_a_value_key_node_log_and_test_name_shows_as_text() {
    let (_run, s) = hostile_run();
    let html = std::fs::read_to_string(&s.report).unwrap();
    assert!(!html.contains(HOSTILE), "raw hostile markup reached the report");
    assert_eq!(html.matches("<script").count(), 2, "only the report's own data block and script");
    assert!(!html.contains("<b>bold</b>"));
    let escaped = "&lt;/script&gt;&lt;script&gt;document.documentElement.setAttribute(&#39;data-pwned&#39;,&#39;1&#39;)";
    // The test name (banner, title), a key (witness), a node log tail, the nemesis detail.
    assert!(html.matches(escaped).count() >= 4, "hostile text is shown escaped in several places");
    assert!(html.contains("<title>INVALID: register&lt;/script&gt;"));
    let log_tail = html.split("<details class=\"log-tail\">").nth(1).unwrap();
    assert!(log_tail.contains("odd request &lt;/script&gt;"));
    // Inside the timeline's data block the markup is \u-escaped JSON.
    let data = html.split("id=\"timeline-data\">").nth(1).unwrap().split("</script>").next().unwrap();
    assert!(data.contains("\\u003c/script\\u003e"));
    let parsed: serde_json::Value = serde_json::from_str(data).expect("the data block is JSON");
    assert!(parsed["keys"].as_array().unwrap().iter().any(|k| k.as_str().unwrap().contains(HOSTILE)));
}

#[test]
fn junit_and_summary_escape_hostile_values() {
    let (_run, s) = hostile_run();
    let junit = std::fs::read_to_string(&s.junit).unwrap();
    assert!(!junit.contains("<script"));
    roxmltree::Document::parse(&junit).expect("junit.xml stays well-formed");
    let md = std::fs::read_to_string(&s.summary).unwrap();
    assert!(!md.contains("<script") && !md.contains("<b>"), "{md}");
    assert!(md.contains("register&lt;/script&gt;"));
}
