//! The models as the lattice they form, drawn as SVG: strict serializable at the top, the
//! transactional ladder down to read uncommitted on one side, linearizable down to PRAM
//! and the session guarantees on the other (the names and order of
//! `docs/consistency-models.md` and the transaction checker). One drawing per row of the
//! comparison, each model coloured by how it fared and the row's strongest held model
//! outlined.

use super::tally::{Row, Tally};
use crate::escape::text;
use std::fmt::Write;

/// Every lattice model, strongest first within each branch (the order a row's strongest
/// held model is chosen in, and the comparison's column order).
pub const MODEL_ORDER: [&str; 19] = [
    "strict-serializable",
    "linearizable",
    "strong-session-serializable",
    "sequential",
    "serializable",
    "snapshot-isolation",
    "repeatable-read",
    "causal-convergence",
    "causal-memory",
    "causal",
    "monotonic-atomic-view",
    "pram",
    "read-committed",
    "writes-follow-reads",
    "monotonic-writes",
    "monotonic-reads",
    "read-your-writes",
    "read-uncommitted",
    "convergence",
];

/// Where each model sits: (name, x centre, level).
const NODES: [(&str, u32, u32); 18] = [
    ("strict-serializable", 410, 0),
    ("linearizable", 210, 1),
    ("strong-session-serializable", 630, 1),
    ("sequential", 210, 2),
    ("serializable", 630, 2),
    ("causal-convergence", 130, 3),
    ("causal-memory", 290, 3),
    ("snapshot-isolation", 550, 3),
    ("repeatable-read", 710, 3),
    ("causal", 210, 4),
    ("monotonic-atomic-view", 630, 4),
    ("pram", 130, 5),
    ("writes-follow-reads", 320, 5),
    ("read-committed", 630, 5),
    ("monotonic-writes", 70, 6),
    ("monotonic-reads", 200, 6),
    ("read-your-writes", 330, 6),
    ("read-uncommitted", 630, 6),
];

/// Stronger to weaker: each edge means "implies".
const EDGES: [(&str, &str); 19] = [
    ("strict-serializable", "linearizable"),
    ("strict-serializable", "strong-session-serializable"),
    ("linearizable", "sequential"),
    ("sequential", "causal-convergence"),
    ("sequential", "causal-memory"),
    ("causal-convergence", "causal"),
    ("causal-memory", "causal"),
    ("causal", "pram"),
    ("causal", "writes-follow-reads"),
    ("pram", "monotonic-writes"),
    ("pram", "monotonic-reads"),
    ("pram", "read-your-writes"),
    ("strong-session-serializable", "serializable"),
    ("serializable", "snapshot-isolation"),
    ("serializable", "repeatable-read"),
    ("snapshot-isolation", "monotonic-atomic-view"),
    ("repeatable-read", "monotonic-atomic-view"),
    ("monotonic-atomic-view", "read-committed"),
    ("read-committed", "read-uncommitted"),
];

const WIDTH: u32 = 820;
const LEVEL_GAP: u32 = 50;
const BOX_H: u32 = 24;
const TOP: u32 = 8;

fn box_width(name: &str) -> u32 {
    (name.len() as u32 * 7 + 18).max(100)
}

fn place(name: &str) -> Option<(u32, u32)> {
    NODES.iter().find(|n| n.0 == name).map(|n| (n.1, TOP + n.2 * LEVEL_GAP))
}

/// The CSS class of a model's box: how it fared in the row's runs.
fn class_of(t: Option<&Tally>) -> &'static str {
    match t {
        None => "lm-none",
        Some(t) if t.judged() == 0 => "lm-none",
        Some(t) if t.always_held() => "lm-held",
        Some(t) if t.broke > 0 => "lm-broke",
        Some(_) => "lm-unknown",
    }
}

/// Draws `row`'s lattice as an inline SVG.
pub fn draw(row: &Row) -> String {
    let height = TOP + 6 * LEVEL_GAP + BOX_H + 8;
    let mut s = format!(
        "<svg class=\"lattice\" viewBox=\"0 0 {WIDTH} {height}\" width=\"{WIDTH}\" height=\"{height}\" role=\"img\" aria-label=\"{}\">",
        text(&format!("consistency lattice of {}", row.label))
    );
    for (from, to) in EDGES {
        if let (Some((x1, y1)), Some((x2, y2))) = (place(from), place(to)) {
            let _ = write!(s, "<line x1=\"{x1}\" y1=\"{}\" x2=\"{x2}\" y2=\"{y2}\"/>", y1 + BOX_H);
        }
    }
    for (name, _, _) in NODES {
        let Some((x, y)) = place(name) else { continue };
        let t = row.columns.get(name);
        let strongest = row.strongest_held.as_deref() == Some(name);
        let w = box_width(name);
        let tip = match t {
            Some(t) if t.judged() > 0 => {
                format!("{name}: held in {} of {} runs ({} unknown)", t.held, t.judged(), t.unknown)
            }
            _ => format!("{name}: not judged by these runs"),
        };
        let _ = write!(
            s,
            "<g class=\"lm {}{}\" data-model=\"{}\"><title>{}</title><rect x=\"{}\" y=\"{y}\" width=\"{w}\" height=\"{BOX_H}\" rx=\"4\"/><text x=\"{x}\" y=\"{}\">{}{}</text></g>",
            class_of(t),
            if strongest { " lm-strongest" } else { "" },
            text(name),
            text(&tip),
            x - w / 2,
            y + 16,
            if strongest { "\u{2605} " } else { "" },
            text(name)
        );
    }
    s.push_str("</svg>");
    s
}
