//! Printing figures: one system's as a table or JSON array, and two
//! systems' side by side with the ratio Zya / JetStream.

use std::collections::BTreeMap;

use serde::Serialize;

use super::figures::{Better, Figure, Mode, Path};

pub fn print_figures(figures: &[Figure], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(figures)?);
        return Ok(());
    }
    println!(
        "{:<34} {:>6} {:>8} {:<10} {:<8} {:>12} {:<6}",
        "figure", "size", "replicas", "path", "mode", "value", "unit"
    );
    for f in figures {
        println!(
            "{:<34} {:>6} {:>8} {:<10} {:<8} {:>12} {:<6}",
            f.figure,
            f.size,
            f.replicas,
            f.path,
            f.mode,
            value(f.value),
            f.unit
        );
    }
    Ok(())
}

/// One row of the side-by-side comparison.
#[derive(Debug, Serialize)]
pub struct Row {
    pub figure: String,
    pub size: usize,
    pub replicas: u32,
    pub path: Path,
    pub mode: Mode,
    pub unit: &'static str,
    pub zya: Option<f64>,
    pub jetstream: Option<f64>,
    /// Zya / JetStream.
    pub ratio: Option<f64>,
    /// Whether the ratio favours Zya (higher throughput, lower latency).
    pub zya_leads: Option<bool>,
}

/// Joins both systems' figures on (figure, size, replicas, path, mode), in
/// Zya's order, then figures only JetStream has.
pub fn join(zya: &[Figure], jetstream: &[Figure]) -> Vec<Row> {
    let js: BTreeMap<_, &Figure> = jetstream.iter().map(|f| (f.key(), f)).collect();
    let mut rows = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for f in zya {
        let other = js.get(&f.key()).map(|j| j.value);
        seen.insert(f.key());
        rows.push(row(f, Some(f.value), other));
    }
    for f in jetstream.iter().filter(|f| !seen.contains(&f.key())) {
        rows.push(row(f, None, Some(f.value)));
    }
    rows
}

fn row(f: &Figure, zya: Option<f64>, jetstream: Option<f64>) -> Row {
    let ratio = match (zya, jetstream) {
        (Some(z), Some(j)) if j != 0.0 => Some(z / j),
        _ => None,
    };
    let zya_leads = ratio.map(|r| match f.better() {
        Better::Higher => r > 1.0,
        Better::Lower => r < 1.0,
    });
    Row {
        figure: f.figure.clone(),
        size: f.size,
        replicas: f.replicas,
        path: f.path,
        mode: f.mode,
        unit: f.unit,
        zya,
        jetstream,
        ratio,
        zya_leads,
    }
}

pub fn print_rows(rows: &[Row], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(rows)?);
        return Ok(());
    }
    println!(
        "{:<34} {:>6} {:>3} {:<10} {:<8} {:<6} {:>12} {:>12} {:>8}",
        "figure", "size", "rf", "path", "mode", "unit", "zya", "jetstream", "ratio"
    );
    for r in rows {
        let opt = |v: Option<f64>| v.map(value).unwrap_or_else(|| "-".into());
        let ratio = match (r.ratio, r.zya_leads) {
            (Some(x), Some(true)) => format!("{x:.2}x +"),
            (Some(x), _) => format!("{x:.2}x"),
            _ => "-".into(),
        };
        println!(
            "{:<34} {:>6} {:>3} {:<10} {:<8} {:<6} {:>12} {:>12} {:>8}",
            r.figure,
            r.size,
            r.replicas,
            r.path,
            r.mode,
            r.unit,
            opt(r.zya),
            opt(r.jetstream),
            ratio
        );
    }
    println!("(ratio = zya / jetstream; \"+\" where Zya leads: higher throughput, lower latency, time, CPU or memory)");
    Ok(())
}

fn value(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}
