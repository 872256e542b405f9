//! A real browser opens a rendered report (file://) and the `serve` index (127.0.0.1):
//! Debian's `chromium`, headless, with a fresh profile and background networking off. The
//! page must log nothing to the console (no script error, no blocked resource), its inline
//! script must have rendered the timeline, hostile markup must not have run, the SVG plots
//! must have a non-zero size, and a screenshot is written under the target's temp dir.
//!
//! Without chromium the test prints a loud SKIP, unless `SUNDER_REQUIRE_BROWSER=1`, where
//! it fails instead (CI sets it).

mod scratch_dir;

use scratch_dir::ScratchDir;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use sunder_report::synthetic::SyntheticRun;

const BROWSER_TIMEOUT: Duration = Duration::from_secs(90);

fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SUNDER_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"].iter().map(PathBuf::from).find(|p| p.exists())
}

/// What one headless chromium run printed.
/// Chromium, or `None` after saying loudly that `test` is skipped (a failure instead under
/// `SUNDER_REQUIRE_BROWSER`).
fn chromium_or_skip(test: &str) -> Option<PathBuf> {
    let exe = chromium();
    if exe.is_none() {
        scratch_dir::skip_unless_required(
            test,
            "SUNDER_REQUIRE_BROWSER",
            "chromium is not installed (apt-get install -y chromium, or set SUNDER_CHROMIUM)",
        );
    }
    exe
}

struct BrowserRun {
    dom: String,
    console: Vec<String>,
}

/// Runs chromium on `url` with a fresh profile; `extra` adds e.g. `--dump-dom` or
/// `--screenshot=...`. Kills its whole process group if it outlives the timeout.
fn browse(exe: &Path, url: &str, extra: &[String]) -> BrowserRun {
    let profile = ScratchDir::new("chromium-profile");
    let out = ScratchDir::new("chromium-out");
    let (stdout_path, stderr_path) = (out.path().join("stdout"), out.path().join("stderr"));
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
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).unwrap())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .process_group(0)
        .spawn()
        .expect("chromium starts");
    let deadline = Instant::now() + BROWSER_TIMEOUT;
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            // The group holds chromium's own helpers; it was created for this child.
            // SAFETY: kill(2) on a process group this test created; no memory is involved.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            let _ = child.wait();
            panic!("chromium did not finish within {BROWSER_TIMEOUT:?} on {url}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    BrowserRun {
        dom: std::fs::read_to_string(&stdout_path).unwrap_or_default(),
        console: stderr
            .lines()
            .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
            .map(str::to_string)
            .collect(),
    }
}

/// A store holding one rendered invalid run with hostile markup everywhere.
fn store() -> (ScratchDir, PathBuf) {
    let store = ScratchDir::new("browser-store");
    let run = store.path().join("register").join("20261126T030000Z-s42");
    SyntheticRun { ops: 20_000, invalid: true, hostile: true, ..Default::default() }.write(&run).unwrap();
    sunder_report::render_run(&run).unwrap();
    std::os::unix::fs::symlink(&run, store.path().join("latest")).unwrap();
    (store, run)
}

/// Probe appended to a copy of the report: records each plot's rendered size in the DOM,
/// then pages the timeline, filters it by process and jumps to an op, recording the status
/// line after each step.
const PROBE: &str = r#"<script>
(function () {
  var d = document.documentElement, q = function (id) { return document.getElementById(id); };
  d.setAttribute('data-plot-sizes', Array.from(document.querySelectorAll('.plot svg, svg.witness')).map(function (s) { var r = s.getBoundingClientRect(); return Math.round(r.width) + 'x' + Math.round(r.height); }).join(' '));
  var steps = [];
  q('tl-next').click(); steps.push(q('tl-status').textContent);
  q('tl-last').click(); steps.push(q('tl-status').textContent);
  q('tl-process').value = '3'; q('tl-apply').click(); steps.push(q('tl-status').textContent);
  steps.push(String(Array.from(q('tl-body').rows).every(function (r) { return r.cells[2].textContent === '3'; })));
  q('tl-process').value = ''; q('tl-apply').click();
  q('tl-index').value = '5000'; q('tl-goto').click(); steps.push(q('tl-status').textContent);
  d.setAttribute('data-steps', steps.join(' | '));
})();
</script>"#;

#[test]
fn chromium_opens_report_and_serve_index_without_console_errors() {
    let Some(exe) = chromium_or_skip("chromium_opens_report_and_serve_index_without_console_errors") else {
        return;
    };
    let (store, run) = store();
    let report = run.join("report.html");

    // The report itself, from file://: script ran, hostile markup did not, console silent.
    let opened = browse(&exe, &format!("file://{}", report.display()), &["--dump-dom".to_string()]);
    assert!(opened.console.is_empty(), "console output: {:#?}", opened.console);
    assert!(opened.dom.contains("data-rendered=\""), "the timeline script did not run");
    assert!(opened.dom.contains("rows 1–200 of "), "the first timeline page is not shown");
    assert!(!opened.dom.contains("data-pwned=\"1\""), "hostile markup ran");

    // Plot sizes, measured by the browser in a probed copy.
    let probed = run.join("probed.html");
    let html = std::fs::read_to_string(&report).unwrap();
    std::fs::write(&probed, html.replace("</body>", &format!("{PROBE}</body>"))).unwrap();
    let measured = browse(&exe, &format!("file://{}", probed.display()), &["--dump-dom".to_string()]);
    let sizes = measured
        .dom
        .split("data-plot-sizes=\"")
        .nth(1)
        .expect("probe ran")
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let sizes: Vec<&str> = sizes.split(' ').collect();
    assert!(sizes.len() >= 4, "3 plots and at least one witness: {sizes:?}");
    for s in &sizes {
        let (w, h) = s.split_once('x').unwrap();
        assert!(w.parse::<u32>().unwrap() > 100 && h.parse::<u32>().unwrap() > 20, "plot rendered as {s}");
    }
    assert!(measured.console.is_empty(), "console output while paging: {:#?}", measured.console);
    let steps =
        measured.dom.split("data-steps=\"").nth(1).expect("paging probe ran").split('"').next().unwrap();
    let steps: Vec<&str> = steps.split(" | ").collect();
    eprintln!("timeline probe: {steps:?}");
    assert!(steps[0].starts_with("rows 201–400 of "), "{steps:?}");
    assert!(steps[1].contains("(page ") && !steps[1].starts_with("rows 1–"), "{steps:?}");
    assert!(steps[2].starts_with("rows 1–") && steps[3] == "true", "filter by process: {steps:?}");
    assert!(steps[4].contains("(page "), "{steps:?}");

    // A screenshot a person can look at.
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report-screenshot.png");
    let _ = std::fs::remove_file(&shot);
    browse(
        &exe,
        &format!("file://{}", report.display()),
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1200,2400".to_string(),
            "--hide-scrollbars".to_string(),
        ],
    );
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(png.len() > 10_000 && png.starts_with(b"\x89PNG"), "screenshot is a real PNG");
    eprintln!("screenshot: {}", shot.display());

    // The serve index and the report through it, over loopback.
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    let app = sunder_report::serve::router(store.path().to_path_buf());
    rt.spawn(async move { axum::serve(listener, app).await });
    let index = browse(&exe, &format!("http://{addr}/"), &["--dump-dom".to_string()]);
    assert!(index.console.is_empty(), "console output on the index: {:#?}", index.console);
    assert!(index.dom.contains("<tr class=\"run"), "index lists the run: {}", index.dom);
    assert!(index.dom.contains("v-invalid"));
    assert!(!index.dom.contains("data-pwned=\"1\""));
    let index_shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("serve-index-screenshot.png");
    browse(
        &exe,
        &format!("http://{addr}/"),
        &[format!("--screenshot={}", index_shot.display()), "--window-size=1200,500".to_string()],
    );
    assert!(
        std::fs::metadata(&index_shot).map(|m| m.len() > 1000).unwrap_or(false),
        "index screenshot written"
    );
    let served = browse(&exe, &format!("http://{addr}/runs/latest/report.html"), &["--dump-dom".to_string()]);
    assert!(served.console.is_empty(), "console output on the served report: {:#?}", served.console);
    assert!(served.dom.contains("data-rendered=\""), "the served report's script did not run");
    rt.shutdown_background();
}

/// A history whose timeline data passes [`sunder_report::packed::PACK_ABOVE`] is packed
/// into the page, and the page unpacks it and shows the same rows as a plain one would.
#[test]
fn chromium_unpacks_the_packed_timeline_of_a_long_history() {
    let Some(exe) = chromium_or_skip("chromium_unpacks_the_packed_timeline_of_a_long_history") else {
        return;
    };
    let dir = ScratchDir::new("packed-timeline");
    let run = dir.path().join("run");
    SyntheticRun { ops: 400_000, hostile: true, ..Default::default() }.write(&run).unwrap();
    let summary = sunder_report::render_run(&run).unwrap();
    let html = std::fs::read_to_string(&summary.report).unwrap();
    let block = html
        .split("id=\"timeline-data\" data-encoding=\"zlib-base64\">")
        .nth(1)
        .expect("the timeline is packed");
    let packed = block.split("</script>").next().unwrap();
    let data = sunder_report::packed::unpack(packed).expect("the block unpacks");
    assert!(
        data.len() > sunder_report::packed::PACK_ABOVE && data.starts_with("{\"pageSize\":"),
        "{}",
        &data[..80]
    );
    assert!(!data.contains("</"), "the unpacked data keeps its script escaping");

    let opened = browse(
        &exe,
        &format!("file://{}", summary.report.display()),
        &["--dump-dom".to_string(), "--virtual-time-budget=20000".to_string()],
    );
    assert!(opened.console.is_empty(), "console output: {:#?}", opened.console);
    let rows = html.split("data-rows=\"").nth(1).unwrap().split('"').next().unwrap();
    assert!(
        opened.dom.contains(&format!("rows 1–200 of {rows} ")),
        "the first page of the unpacked timeline is not shown"
    );
    assert!(!opened.dom.contains("data-pwned=\"1\""), "hostile markup ran");
}
