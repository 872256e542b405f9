//! Expands a suite file into its cells: every system entry times each of its workloads,
//! nemesis sets, seeds and repetitions. Each cell is one ordinary `sunder run`, with a test
//! name of its own so cells never share a run folder, even run at once with equal seeds.

use super::file::{SuiteFile, scalar};
use anyhow::{Result, bail};
use std::collections::BTreeMap;

/// What a cell's verdict is expected to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// A correct system: an invalid run fails the suite.
    Valid,
    /// A planted bug: a valid run fails the suite (the bug was not caught).
    Invalid,
    /// A measurement (a comparison suite): any verdict passes.
    Any,
}

impl Expect {
    /// `valid`, `invalid` or `any`.
    pub fn as_str(self) -> &'static str {
        match self {
            Expect::Valid => "valid",
            Expect::Invalid => "invalid",
            Expect::Any => "any",
        }
    }

    /// Reads `valid`, `invalid` or `any`.
    pub fn parse(s: &str) -> Option<Expect> {
        [Expect::Valid, Expect::Invalid, Expect::Any].into_iter().find(|e| e.as_str() == s)
    }
}

/// One run of the matrix, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// Unique within the suite: `row/workload/nemesis/s<seed>` (and `/r<n>` when repeated).
    pub id: String,
    /// The comparison row (system with settings).
    pub row: String,
    /// The system.
    pub system: String,
    /// `-o` settings.
    pub options: BTreeMap<String, String>,
    /// The workload.
    pub workload: String,
    /// `-w` options.
    pub workload_options: BTreeMap<String, String>,
    /// `--nemesis`.
    pub nemesis: String,
    /// `--seed`.
    pub seed: u64,
    /// 1-based repetition.
    pub repetition: u32,
    /// `--time-limit`, if set.
    pub time_limit: Option<f64>,
    /// `--nodes`, if set.
    pub nodes: Option<usize>,
    /// `--net`, if set.
    pub net: Option<String>,
    /// `--concurrency`, if set.
    pub concurrency: Option<usize>,
    /// Extra `sunder run` arguments.
    pub args: Vec<String>,
    /// The verdict the cell expects.
    pub expect: Expect,
    /// Models expected to hold (`true`) or break (`false`).
    pub expect_models: BTreeMap<String, bool>,
    /// Why the expectation holds, from the suite file.
    pub why: Option<String>,
    /// The `--name` of the cell's run: its folder in the store.
    pub test_name: String,
}

impl Cell {
    /// The `sunder run` arguments of this cell, storing into `store`.
    pub fn run_args(&self, store: &std::path::Path) -> Vec<String> {
        let mut a: Vec<String> = vec![
            "run".into(),
            "--quiet".into(),
            "--system".into(),
            self.system.clone(),
            "--workload".into(),
            self.workload.clone(),
            "--nemesis".into(),
            self.nemesis.clone(),
            "--seed".into(),
            self.seed.to_string(),
            "--name".into(),
            self.test_name.clone(),
            "--store".into(),
            store.display().to_string(),
        ];
        for (k, v) in &self.options {
            a.extend(["-o".into(), format!("{k}={v}")]);
        }
        for (k, v) in &self.workload_options {
            a.extend(["-w".into(), format!("{k}={v}")]);
        }
        let mut opt = |flag: &str, v: Option<String>| {
            if let Some(v) = v {
                a.extend([flag.to_string(), v]);
            }
        };
        opt("--time-limit", self.time_limit.map(|t| t.to_string()));
        opt("--nodes", self.nodes.map(|n| n.to_string()));
        opt("--net", self.net.clone());
        opt("--concurrency", self.concurrency.map(|c| c.to_string()));
        a.extend(self.args.iter().cloned());
        a
    }
}

/// Every cell of `suite`, in file order, keeping only ids that contain one of `filters`
/// (all cells when `filters` is empty). Unknown systems and workloads are errors naming the
/// entry.
pub fn expand(suite: &SuiteFile, filters: &[String]) -> Result<Vec<Cell>> {
    let mut cells = vec![];
    for (i, entry) in suite.systems.iter().enumerate() {
        let Some(spec) = sunder_systems::catalog::find(&entry.system) else {
            bail!(
                "systems[{i}]: unknown system {:?}; known: {}",
                entry.system,
                sunder_systems::catalog::names().join(", ")
            );
        };
        let settings = entry.settings(&suite.defaults);
        let workloads: Vec<_> = match &entry.workloads {
            Some(names) => names
                .iter()
                .map(|n| {
                    let Some(w) = suite.workloads.iter().find(|w| &w.label() == n) else {
                        bail!("systems[{i}] ({}): workload {n:?} is not a [[workloads]] label", entry.system);
                    };
                    if !spec.supports_workload(&w.workload) {
                        bail!(
                            "systems[{i}] ({}): {} does not implement the {} workload; it supports: {}",
                            entry.system,
                            spec.name,
                            w.workload,
                            spec.capabilities.workloads.join(", ")
                        );
                    }
                    Ok(w)
                })
                .collect::<Result<_>>()?,
            None => suite.workloads.iter().filter(|w| spec.supports_workload(&w.workload)).collect(),
        };
        if workloads.is_empty() {
            bail!("systems[{i}] ({}): no [[workloads]] entry is one this system supports", entry.system);
        }
        for w in &workloads {
            if sunder_workloads::catalog::find(&w.workload).is_none() {
                bail!(
                    "workload {:?} is unknown; known: {}",
                    w.workload,
                    sunder_workloads::catalog::names().join(", ")
                );
            }
        }
        let nemeses = settings.nemesis.clone().unwrap_or_else(|| vec![spec.default_nemesis.to_string()]);
        let seeds = settings.seeds.clone().unwrap_or_else(|| vec![1]);
        let repetitions = settings.repetitions.unwrap_or(1);
        if repetitions == 0 || seeds.is_empty() || nemeses.is_empty() {
            bail!(
                "systems[{i}] ({}): seeds, nemesis and repetitions must not be empty or zero",
                entry.system
            );
        }
        let row = entry.label();
        let options: BTreeMap<String, String> =
            entry.options.iter().map(|(k, v)| (k.clone(), scalar(v))).collect();
        for w in &workloads {
            for nemesis in &nemeses {
                for &seed in &seeds {
                    for repetition in 1..=repetitions {
                        let mut id = format!("{row}/{}/{nemesis}/s{seed}", w.label());
                        if repetitions > 1 {
                            id += &format!("/r{repetition}");
                        }
                        cells.push(Cell {
                            test_name: String::new(),
                            row: row.clone(),
                            system: entry.system.clone(),
                            options: options.clone(),
                            workload: w.workload.clone(),
                            workload_options: w.options.iter().map(|(k, v)| (k.clone(), scalar(v))).collect(),
                            nemesis: nemesis.clone(),
                            seed,
                            repetition,
                            time_limit: settings.time_limit,
                            nodes: settings.nodes,
                            net: settings.net.clone(),
                            concurrency: settings.concurrency,
                            args: settings.args.clone().unwrap_or_default(),
                            expect: entry
                                .expect
                                .as_deref()
                                .or(suite.expect.as_deref())
                                .and_then(Expect::parse)
                                .unwrap_or(Expect::Valid),
                            expect_models: entry.expect_models.clone(),
                            why: entry.why.clone(),
                            id,
                        });
                    }
                }
            }
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for c in &cells {
        if !seen.insert(c.id.clone()) {
            bail!("two cells share the id {:?}: give one of their system entries a distinct label", c.id);
        }
    }
    cells.retain(|c| filters.is_empty() || filters.iter().any(|f| c.id.contains(f.as_str())));
    for (n, c) in cells.iter_mut().enumerate() {
        c.test_name = format!("{}.{:03}-{}", suite.name, n + 1, slug(&c.id));
    }
    Ok(cells)
}

/// `id` as a folder name: characters other than letters, digits, `.`, `_`, `-` become `_`.
fn slug(id: &str) -> String {
    let s: String = id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "._-=".contains(c) { c } else { '_' })
        .take(120)
        .collect();
    s.trim_start_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::file::parse;

    const SUITE: &str = r#"
name = "t"
[defaults]
seeds = [1, 2]
nemesis = ["none"]
[[workloads]]
workload = "register"
[[workloads]]
workload = "bank"
[[systems]]
system = "quorum-kv"
[[systems]]
system = "raft-kv"
options = { reads = "local" }
expect = "invalid"
seeds = [7]
"#;

    #[test]
    fn expands_each_system_over_the_workloads_it_supports_nemeses_and_seeds() {
        let cells = expand(&parse(SUITE).unwrap(), &[]).unwrap();
        let ids: Vec<&str> = cells.iter().map(|c| c.id.as_str()).collect();
        // quorum-kv has no bank workload; raft-kv's own seeds replace the defaults.
        assert_eq!(
            ids,
            [
                "quorum-kv/register/none/s1",
                "quorum-kv/register/none/s2",
                "raft-kv[reads=local]/register/none/s7",
                "raft-kv[reads=local]/bank/none/s7"
            ]
        );
        assert_eq!(cells[2].expect, Expect::Invalid);
        assert_eq!(cells[0].expect, Expect::Valid);
        assert!(cells[2].run_args(std::path::Path::new("s")).windows(2).any(|w| w == ["-o", "reads=local"]));
        let names: std::collections::BTreeSet<_> = cells.iter().map(|c| &c.test_name).collect();
        assert_eq!(names.len(), cells.len(), "every cell has its own store folder");
    }

    #[test]
    fn filter_keeps_only_matching_cells() {
        let cells = expand(&parse(SUITE).unwrap(), &["bank".to_string()]).unwrap();
        assert_eq!(cells.len(), 1);
        assert_eq!(cells[0].system, "raft-kv");
    }

    #[test]
    fn unknown_key_is_an_error_naming_key_and_line() {
        let err =
            parse("name = \"t\"\n[[systems]]\nsystem = \"raft-kv\"\nexpcet = \"invalid\"\n").unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("expcet") && msg.contains("line 4"), "{msg}");
    }

    #[test]
    fn unknown_system_is_an_error_naming_the_entry() {
        let suite =
            parse("name = \"t\"\n[[workloads]]\nworkload = \"register\"\n[[systems]]\nsystem = \"nope\"\n")
                .unwrap();
        let msg = format!("{:#}", expand(&suite, &[]).unwrap_err());
        assert!(msg.contains("systems[0]") && msg.contains("nope"), "{msg}");
    }
}
