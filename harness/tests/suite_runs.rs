//! `sunder suite` end to end: real child runs on the local backend (the suite runner is not
//! about namespaces), short cells whose verdicts are certain, and the suite folder they
//! leave: exit code, JUnit, `results.json` against `docs/results-schema.json`, and the
//! comparison page in headless Chromium.

mod support;

use serde_json::Value;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};
use support::{TempDir, sunder};

/// One suite at a time: each cell is a cluster, and two suites at once on a small machine
/// would only measure the machine.
static ONE_SUITE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// What a finished suite left.
struct SuiteRun {
    code: Option<i32>,
    stderr: String,
    dir: PathBuf,
    results: Value,
    _store: TempDir,
}

impl SuiteRun {
    fn context(&self) -> String {
        format!("exit {:?}\nstderr:\n{}\nresults: {:#}", self.code, self.stderr, self.results)
    }
    fn cell(&self, id_part: &str) -> &Value {
        self.results["cells"]
            .as_array()
            .and_then(|cells| cells.iter().find(|c| c["id"].as_str().is_some_and(|id| id.contains(id_part))))
            .unwrap_or_else(|| panic!("no cell {id_part}: {}", self.context()))
    }
    fn verdicts(&self) -> Vec<(String, String)> {
        self.results["cells"]
            .as_array()
            .map(|cells| {
                cells
                    .iter()
                    .map(|c| {
                        (
                            c["id"].as_str().unwrap_or("").to_string(),
                            c["verdict"].as_str().unwrap_or("").to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Writes `toml` to a suite file and runs it with `args` in a fresh store.
fn suite(tag: &str, toml: &str, args: &[&str]) -> SuiteRun {
    let _one = ONE_SUITE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let store = TempDir::new(&format!("suite-{tag}"));
    let file = store.path().join(format!("{tag}.toml"));
    std::fs::write(&file, toml).unwrap();
    let out = sunder()
        .arg("suite")
        .arg(&file)
        .arg("--store")
        .arg(store.path().join("store"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("cannot start the sunder binary");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let text = std::fs::read_to_string(dir.join("results.json"))
        .unwrap_or_else(|e| panic!("no suite results.json in {} ({e}); stderr:\n{stderr}", dir.display()));
    let results = serde_json::from_str(&text).expect("suite results.json is JSON");
    SuiteRun { code: out.status.code(), stderr, dir, results, _store: store }
}

// The three kinds of cell. single-kv is one in-memory node: linearizable by construction, so
// its run is valid whatever the timing. quorum-kv with one-replica reads and writes, no
// write-back, no read repair and no anti-entropy, over one key, while partitions isolate
// nodes every half second or so: a node cut off keeps the old value for the whole window
// while the other side writes, and every worker whose node is cut off reads it; one such
// read after a write elsewhere completed breaks linearizability. With about a hundred ops a
// second on one key that happens in every window, so the bug is caught in every run; the
// same cell appears once expecting valid (an invalid cell) and once as a planted bug.
const MIXED: &str = r#"
name = "mixed"
[defaults]
time_limit = 4
net = "local"
nemesis = ["none"]
args = ["--recovery", "0.5"]

[[workloads]]
workload = "register"
options = { keys = 1 }

[[systems]]
system = "single-kv"

[[systems]]
system = "quorum-kv"
label = "quorum-kv r=1 w=1 (not expected)"
options = { r = 1, w = 1, read-writeback = false, read-repair = false, anti-entropy-ms = 0 }
nemesis = ["partition"]
args = ["--nemesis-interval", "0.5"]

[[systems]]
system = "quorum-kv"
label = "quorum-kv r=1 w=1 (planted)"
options = { r = 1, w = 1, read-writeback = false, read-repair = false, anti-entropy-ms = 0 }
nemesis = ["partition"]
args = ["--nemesis-interval", "0.5"]
expect = "invalid"
expect_models = { linearizable = false }
why = "single-replica reads on an isolated node answer stale values in every partition window"
"#;

/// The mixed suite runs once; several tests read what it left.
fn mixed() -> &'static SuiteRun {
    static RUN: OnceLock<SuiteRun> = OnceLock::new();
    RUN.get_or_init(|| {
        let run = suite("mixed", MIXED, &[]);
        remove_at_exit(run._store.path());
        run
    })
}

/// Removes `dir` when the test process exits: a static is never dropped, so the
/// [`TempDir`] of a run shared through one would otherwise stay behind.
fn remove_at_exit(dir: &Path) {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    extern "C" fn remove() {
        if let Some(dir) = DIR.get() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    if DIR.set(dir.to_path_buf()).is_ok() {
        // SAFETY: `remove` is a plain function that only reads a set `OnceLock`.
        unsafe { libc::atexit(remove) };
    }
}

#[test]
fn a_suite_with_a_valid_an_invalid_and_a_planted_bug_cell_exits_invalid_with_one_junit_case_each() {
    let run = mixed();
    assert_eq!(run.code, Some(1), "the invalid cell fails the suite: {}", run.context());
    assert_eq!(run.results["outcome"], "fail", "{}", run.context());
    assert_eq!(run.cell("single-kv")["outcome"], "pass", "{}", run.context());
    assert_eq!(run.cell("(not expected)")["outcome"], "fail", "{}", run.context());
    let planted = run.cell("(planted)");
    assert_eq!(planted["outcome"], "pass", "{}", run.context());
    assert_eq!(planted["verdict"], "invalid", "{}", run.context());
    let counts = &run.results["counts"];
    assert_eq!((counts["pass"].as_u64(), counts["fail"].as_u64()), (Some(2), Some(1)), "{}", run.context());

    let junit = std::fs::read_to_string(run.dir.join("junit.xml")).unwrap();
    let doc = checked_junit(&junit);
    assert_eq!(doc.matches("<testcase ").count(), 3, "{junit}");
    assert_eq!(doc.matches("<failure ").count(), 1, "{junit}");
    assert!(junit.contains("tests=\"3\" failures=\"1\" errors=\"0\""), "{junit}");
    // The failure carries the witness sentence of the run that broke.
    let witness = run.cell("(not expected)")["witness"].as_str().expect("an invalid cell names its witness");
    assert!(!witness.is_empty());
    assert!(junit.contains(&sunder_report::escape::text(witness)), "{junit}");
    let summary = std::fs::read_to_string(run.dir.join("summary.md")).unwrap();
    assert!(summary.contains("## Sunder suite mixed: fail"), "{summary}");
    // Every cell is an ordinary run folder in the store, with its own report.
    for cell in run.results["cells"].as_array().unwrap() {
        let rel = cell["run"].as_str().expect("a run folder");
        assert!(run.dir.join("../../..").join(rel).join("report.html").is_file(), "{rel}");
    }
}

/// The JUnit text with its XML declaration checked, so a malformed file fails loudly.
fn checked_junit(junit: &str) -> &str {
    assert!(junit.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites "), "{junit}");
    assert!(junit.trim_end().ends_with("</testsuites>"), "{junit}");
    junit
}

#[test]
fn an_expected_invalid_cell_that_comes_out_valid_fails_the_suite() {
    let run = suite(
        "notcaught",
        r#"
name = "notcaught"
[defaults]
time_limit = 3
net = "local"
nemesis = ["none"]
[[workloads]]
workload = "register"
[[systems]]
system = "single-kv"
expect = "invalid"
"#,
        &[],
    );
    assert_eq!(run.code, Some(1), "{}", run.context());
    let cell = run.cell("single-kv");
    assert_eq!(cell["verdict"], "valid", "{}", run.context());
    assert_eq!(cell["outcome"], "fail", "{}", run.context());
    assert!(cell["why"].as_str().unwrap().contains("not caught"), "{}", run.context());
    let junit = std::fs::read_to_string(run.dir.join("junit.xml")).unwrap();
    assert!(junit.contains("type=\"planted-bug-not-caught\""), "{junit}");
}

#[test]
fn the_results_schema_validates_real_suite_output() {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/results-schema.json"))
            .unwrap(),
    )
    .expect("the schema is JSON");
    let run = mixed();
    let mut problems = vec![];
    validate(&schema, &schema, &run.results, "$", &mut problems);
    assert!(problems.is_empty(), "results.json breaks docs/results-schema.json:\n{}", problems.join("\n"));
    // The validator is not vacuous: a wrong outcome and a missing field are caught.
    let mut broken = run.results.clone();
    broken["outcome"] = Value::from("green");
    broken["cells"][0].as_object_mut().unwrap().remove("why");
    let mut caught = vec![];
    validate(&schema, &schema, &broken, "$", &mut caught);
    assert_eq!(caught.len(), 2, "{caught:?}");
}

/// Checks `value` against the subset of JSON Schema `docs/results-schema.json` uses: type,
/// enum, required, properties, additionalProperties, items, minimum, maximum, `$ref` into
/// `$defs`.
fn validate(root: &Value, schema: &Value, value: &Value, at: &str, problems: &mut Vec<String>) {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.strip_prefix("#/$defs/").unwrap_or_else(|| panic!("unsupported $ref {r}"));
        return validate(root, &root["$defs"][name], value, at, problems);
    }
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => panic!("bad type in schema at {at}"),
        };
        let ok = types.iter().any(|t| match *t {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "boolean" => value.is_boolean(),
            "null" => value.is_null(),
            "number" => value.is_number(),
            "integer" => value.is_i64() || value.is_u64(),
            other => panic!("unsupported type {other}"),
        });
        if !ok {
            problems.push(format!("{at}: {value} is not of type {t}"));
            return;
        }
    }
    if let Some(options) = schema["enum"].as_array()
        && !options.contains(value)
    {
        problems.push(format!("{at}: {value} is not one of {options:?}"));
    }
    if let (Some(min), Some(x)) = (schema["minimum"].as_f64(), value.as_f64())
        && x < min
    {
        problems.push(format!("{at}: {x} is below {min}"));
    }
    if let (Some(max), Some(x)) = (schema["maximum"].as_f64(), value.as_f64())
        && x > max
    {
        problems.push(format!("{at}: {x} is above {max}"));
    }
    if let Some(obj) = value.as_object() {
        for key in schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            if !obj.contains_key(key) {
                problems.push(format!("{at}: missing required {key:?}"));
            }
        }
        for (k, v) in obj {
            let at = format!("{at}.{k}");
            match (schema["properties"].get(k), schema.get("additionalProperties")) {
                (Some(s), _) => validate(root, s, v, &at, problems),
                (None, Some(Value::Bool(false))) => problems.push(format!("{at}: not allowed")),
                (None, Some(s)) if s.is_object() => validate(root, s, v, &at, problems),
                _ => {}
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), value.as_array()) {
        for (i, v) in arr.iter().enumerate() {
            validate(root, items, v, &format!("{at}[{i}]"), problems);
        }
    }
}

// Cells whose verdicts cannot depend on timing: single-kv and raft-kv without faults are
// linearizable, and their set and counter runs keep every acknowledged element and add.
const STEADY: &str = r#"
name = "steady"
[defaults]
time_limit = 3
net = "local"
nemesis = ["none"]
args = ["--recovery", "0.5"]
[[workloads]]
workload = "register"
[[workloads]]
workload = "set"
[[workloads]]
workload = "counter"
[[systems]]
system = "single-kv"
[[systems]]
system = "raft-kv"
nodes = 3
workloads = ["register"]
"#;

#[test]
fn two_jobs_give_the_same_verdicts_as_one_on_the_local_backend() {
    let one = suite("jobs1", STEADY, &["--jobs", "1"]);
    let two = suite("jobs2", STEADY, &["--jobs", "2"]);
    assert_eq!(one.results["jobs"], 1);
    assert_eq!(two.results["jobs"], 2);
    assert_eq!(one.verdicts().len(), 4, "{}", one.context());
    assert_eq!(one.verdicts(), two.verdicts(), "jobs 1:\n{}\njobs 2:\n{}", one.context(), two.context());
    assert_eq!((one.code, two.code), (Some(0), Some(0)), "{}\n{}", one.context(), two.context());
}

#[test]
fn bad_suite_file_names_the_key_and_line() {
    let dir = TempDir::new("suite-bad");
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "name = \"bad\"\n\n[[systems]]\nsystem = \"raft-kv\"\nseed = [1]\n").unwrap();
    let out = sunder().arg("suite").arg(&file).arg("--store").arg(dir.path()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("bad.toml") && stderr.contains("seed") && stderr.contains("line 5"), "{stderr}");
}

#[test]
fn the_comparison_page_lists_every_row_and_column_and_opens_in_chromium_without_console_errors() {
    let run = mixed();
    let page = std::fs::read_to_string(run.dir.join("compare.html")).unwrap();
    let rows = ["single-kv", "quorum-kv r=1 w=1 (not expected)", "quorum-kv r=1 w=1 (planted)"];
    for row in rows {
        assert!(page.contains(&format!("<tr data-row=\"{row}\">")), "row {row} missing");
    }
    let mut columns: Vec<String> = vec![];
    for cell in run.results["cells"].as_array().unwrap() {
        for key in ["models", "checkers"] {
            for name in cell[key].as_object().unwrap().keys().filter(|k| *k != "stats") {
                if !columns.contains(name) {
                    columns.push(name.clone());
                }
            }
        }
    }
    assert!(columns.iter().any(|c| c == "linearizable") && columns.len() > 5, "{columns:?}");
    for col in &columns {
        assert!(page.contains(&format!("data-column=\"{col}\"")), "column {col} missing");
    }
    // The broken model links to the breaking run's report.
    assert!(page.contains("class=\"breach\" href=\"../../../"), "no link to a breaking run");

    let Some(exe) = chromium() else {
        assert!(
            std::env::var_os("SUNDER_REQUIRE_BROWSER").is_none(),
            "chromium is missing and SUNDER_REQUIRE_BROWSER is set"
        );
        eprintln!("SKIP (needs chromium): the comparison page was checked as text only");
        return;
    };
    let (dom, console) = browse(&exe, &format!("file://{}", run.dir.join("compare.html").display()));
    assert!(console.is_empty(), "console messages: {console:?}");
    for row in rows {
        assert!(dom.contains(&format!("data-row=\"{row}\"")), "the rendered page lost row {row}");
    }
    assert_eq!(dom.matches("<svg class=\"lattice\"").count(), rows.len(), "one lattice per row");
    assert!(dom.contains("lm-strongest"), "a strongest held model is marked");
}

fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SUNDER_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"].iter().map(PathBuf::from).find(|p| p.exists())
}

/// Headless chromium on `url` with a fresh profile and background networking off: the
/// DOM it dumped and the console lines it logged.
fn browse(exe: &Path, url: &str) -> (String, Vec<String>) {
    let scratch = TempDir::new("suite-chromium");
    let (stdout, stderr) = (scratch.path().join("stdout"), scratch.path().join("stderr"));
    let mut child = Command::new(exe)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--no-proxy-server",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", scratch.path().join("profile").display()))
        .arg(url)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .process_group(0)
        .spawn()
        .expect("chromium starts");
    let deadline = Instant::now() + Duration::from_secs(90);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            // The group was created for this chromium and holds only its helpers.
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            let _ = child.wait();
            panic!("chromium did not finish within 90 s on {url}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = std::fs::read_to_string(&stderr).unwrap_or_default();
    let console = log
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
        .map(str::to_string)
        .collect();
    (std::fs::read_to_string(&stdout).unwrap_or_default(), console)
}

#[test]
fn fail_fast_starts_no_cell_after_the_first_failure() {
    // single-kv is linearizable by construction, so expecting invalid fails at once.
    let run = suite(
        "failfast",
        r#"
name = "failfast"
[defaults]
time_limit = 2
net = "local"
nemesis = ["none"]
seeds = [1, 2, 3]
[[workloads]]
workload = "register"
[[systems]]
system = "single-kv"
expect = "invalid"
"#,
        &["--fail-fast"],
    );
    assert_eq!(run.code, Some(1), "{}", run.context());
    let outcomes: Vec<&str> =
        run.results["cells"].as_array().unwrap().iter().map(|c| c["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["fail", "skipped", "skipped"], "{}", run.context());
    assert_eq!(run.cell("s2")["run"], Value::Null, "a skipped cell has no run folder");
}

#[test]
fn more_jobs_than_cores_and_a_filter_matching_nothing_are_refused_with_exit_3() {
    let dir = TempDir::new("suite-refused");
    let file = dir.path().join("one.toml");
    std::fs::write(
        &file,
        "name = \"one\"\n[[workloads]]\nworkload = \"register\"\n[[systems]]\nsystem = \"single-kv\"\n",
    )
    .unwrap();
    let try_suite = |args: &[&str]| {
        let out =
            sunder().arg("suite").arg(&file).arg("--store").arg(dir.path()).args(args).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, stderr) = try_suite(&["--jobs", "4096"]);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("core") && stderr.contains("measure the machine"), "{stderr}");
    let (code, stderr) = try_suite(&["--filter", "no-such-cell"]);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("no cell") && stderr.contains("no-such-cell"), "{stderr}");
    assert!(!dir.path().join("suites").exists(), "a refused suite leaves no folder");
}
