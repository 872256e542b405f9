//! The comparison page and the suites table of `serve`, from a hand-made suite record: every
//! row and column shown, shares and colours right, breaking runs linked, the strongest held
//! model marked in the lattice, and hostile names from a suite or a history escaped.

mod scratch_dir;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use scratch_dir::ScratchDir;
use std::collections::BTreeMap;
use sunder_check::verdict::Validity;
use sunder_report::compare::record::{CellRecord, Counts, Outcome, RunMetrics, SUITE_SCHEMA, SuiteRecord};
use tower::ServiceExt;

const HOSTILE: &str = "<script>alert(1)</script>\"'&";

fn cell(row: &str, seed: u64, models: &[(&str, Validity)], outcome: Outcome) -> CellRecord {
    let broke = models.iter().any(|(_, v)| *v == Validity::Invalid);
    CellRecord {
        id: format!("{row}/register/partition/s{seed}"),
        row: row.to_string(),
        system: "raft-kv".into(),
        options: BTreeMap::new(),
        workload: "register".into(),
        workload_options: BTreeMap::new(),
        nemesis: "partition".into(),
        seed,
        repetition: 1,
        expect: "valid".into(),
        expect_models: BTreeMap::new(),
        expect_why: None,
        verdict: if broke { "invalid" } else { "valid" }.into(),
        outcome,
        why: if broke { format!("invalid: stale read of {HOSTILE}") } else { "valid, as expected".into() },
        run: Some(format!("t-{seed}/20261201T000000.000Z-s{seed}")),
        exit_code: Some(i32::from(broke)),
        wall_s: 5.0,
        models: models.iter().map(|(m, v)| (m.to_string(), *v)).collect(),
        checkers: [("stats".to_string(), Validity::Valid)].into_iter().collect(),
        strongest_held: None,
        witness: broke.then(|| format!("read of {HOSTILE} was stale")),
        anomaly_kinds: vec![],
        metrics: Some(RunMetrics {
            calls: 100,
            availability_in_faults: Some(0.5),
            availability: Some(0.9),
            p50_ms: Some(2.0),
            p99_ms: Some(40.0),
        }),
    }
}

fn record() -> SuiteRecord {
    use Validity::*;
    let lin_seq = |l, s| vec![("linearizable", l), ("sequential", s), ("pram", Valid)];
    let cells = vec![
        cell("raft-kv", 1, &lin_seq(Valid, Valid), Outcome::Pass),
        cell("raft-kv", 2, &lin_seq(Valid, Valid), Outcome::Pass),
        cell(HOSTILE, 3, &lin_seq(Invalid, Valid), Outcome::Fail),
        cell(HOSTILE, 4, &lin_seq(Valid, Valid), Outcome::Pass),
    ];
    SuiteRecord {
        schema: SUITE_SCHEMA.into(),
        suite: "map".into(),
        file: "suites/map.toml".into(),
        started_at: "2026-12-01T00:00:00.000Z".into(),
        finished_at: "2026-12-01T00:01:00.000Z".into(),
        wall_s: 60.0,
        jobs: 1,
        outcome: Outcome::Fail,
        exit_code: 1,
        counts: Counts::of(&cells),
        cells,
    }
}

#[test]
fn comparison_shows_each_rows_share_links_breaking_runs_and_escapes_names() {
    let page = sunder_report::compare::render(&record(), "../../../");
    assert!(!page.contains("<script>"), "a hostile row name must be text");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    for col in ["linearizable", "sequential", "pram"] {
        assert!(page.contains(&format!("data-column=\"{col}\"")), "column {col}");
    }
    assert!(!page.contains("data-column=\"stats\""), "stats judges nothing");
    // The hostile row: linearizable held in one run of two, and the breaking run is linked.
    let row =
        page.split("<tr data-row=\"&lt;script").nth(1).expect("hostile row").split("</tr>").next().unwrap();
    assert!(row.contains("s-some") && row.contains(">50%"), "{row}");
    assert!(row.contains("href=\"../../../t-3/20261201T000000.000Z-s3/report.html\""), "{row}");
    assert!(row.contains(">50%</td>"), "availability during faults: {row}");
    // raft-kv held linearizable in every run: its lattice stars linearizable.
    let lattice = page.split("raft-kv: strongest held").nth(1).unwrap();
    assert!(lattice.starts_with(" linearizable"), "{}", &lattice[..60]);
    let strongest = lattice.split("lm-strongest").nth(1).expect("a marked model");
    assert!(strongest.starts_with("\" data-model=\"linearizable\""), "{}", &strongest[..60]);
    // The hostile row broke linearizable once: its strongest held is sequential.
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;: strongest held sequential")
    );
}

#[test]
fn serve_lists_suites_beside_runs_with_a_link_to_the_comparison() {
    let store = ScratchDir::new("suite-store");
    let dir = store.path().join("suites/map/20261201T000000.000Z");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("results.json"), serde_json::to_string(&record()).unwrap()).unwrap();
    std::fs::write(dir.join("compare.html"), sunder_report::compare::render(&record(), "../../../")).unwrap();
    let listed = sunder_report::serve::list_suites(store.path());
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].rel, "suites/map/20261201T000000.000Z");
    assert!(sunder_report::serve::list_runs(store.path()).is_empty(), "a suite folder is not a run");

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let app = sunder_report::serve::router(store.path().to_path_buf());
    let (status, body) = rt.block_on(async {
        let req = Request::builder().uri("/").body(Body::empty()).unwrap();
        let resp = app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    });
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("<table id=\"suites\">"), "{body}");
    assert!(body.contains("href=\"/runs/suites/map/20261201T000000.000Z/compare.html\">map</a>"), "{body}");
    let page = rt.block_on(async {
        let req = Request::builder()
            .uri("/runs/suites/map/20261201T000000.000Z/compare.html")
            .body(Body::empty())
            .unwrap();
        app.oneshot(req).await.unwrap().status()
    });
    assert_eq!(page, StatusCode::OK);
}
