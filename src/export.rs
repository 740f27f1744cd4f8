//! `enas export`: a run's sampled architectures as CSV, optionally the best K and/or one row per
//! distinct arc (its best-scoring row).
use crate::cli::ExportArgs;
use crate::run::{read_table, RunDir};
use anyhow::{Context, Result};
use enas_shared::export::write_csv;
use std::collections::HashSet;

pub fn run(a: &ExportArgs) -> Result<()> {
    anyhow::ensure!(a.top != Some(0), "--top must be at least 1 (it keeps the K best rows; leave it out for all)");
    let dir = RunDir::open(&a.run)?;
    let path = dir.file("architectures.csv");
    crate::run::refuse_overwriting_input(&a.out, &path, "--run's architectures.csv")?;
    let (header, mut rows) = read_table(&path)?;
    let col = |name: &str| {
        header.iter().position(|h| h == name).with_context(|| format!("{}: no `{name}` column", path.display()))
    };
    let (arc, acc) = (col("arc")?, col("valid_acc")?);
    for (i, r) in rows.iter().enumerate() {
        anyhow::ensure!(
            r.get(acc).is_some_and(|v| v.parse::<f64>().is_ok()) && r.get(arc).is_some(),
            "{}: line {}: valid_acc `{}` is not a number",
            path.display(),
            i + 2,
            r.get(acc).map(String::as_str).unwrap_or("")
        );
    }
    let score = |r: &Vec<String>| r[acc].parse::<f64>().unwrap_or(f64::NEG_INFINITY);
    if a.top.is_some() || a.unique {
        // Best first (stable: ties keep their order in the run).
        rows.sort_by(|x, y| score(y).total_cmp(&score(x)));
    }
    if a.unique {
        let mut seen = HashSet::new();
        rows.retain(|r| seen.insert(r[arc].clone()));
    }
    if let Some(k) = a.top {
        rows.truncate(k);
    }
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    write_csv(&a.out, &header, &rows)?;
    println!("wrote {} architectures to {}", rows.len(), a.out.display());
    Ok(())
}
