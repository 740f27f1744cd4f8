//! `enas derive --run DIR --rank-check N`: how well the supernet ranks architectures, the known
//! weak point of weight sharing. N cells drawn uniformly (distinct) from a fixed stream, the same
//! N for every run, are each scored on the whole validation split with the shared weights; the
//! Kendall τ-b and Spearman ρ of those accuracies against the table's final column say how far
//! the supernet's order is the benchmark's.
use crate::derive::valid_accuracy;
use crate::search::Search;
use anyhow::Result;
use enas_controller::strategy::uniform;
use enas_shared::rank::{kendall_tau_b, spearman};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// The seed of the fixed cells: independent of the run's seed, so every run scores the same ones.
const RANK_CHECK_SEED: u64 = 201;

/// A row of `rank_check.csv`.
#[derive(Serialize, Deserialize)]
struct Row {
    cell: usize,
    arc: String,
    valid_acc: f64,
    table_acc: f64,
}

pub fn run(search: &Search, n: usize) -> Result<()> {
    anyhow::ensure!(n >= 2, "--rank-check needs at least 2 cells, got {n}");
    anyhow::ensure!(
        search.table.is_some(),
        "--rank-check compares with a benchmark table, and this run has none (search.table); \
         the space must be nb201 and the search started with --table FILE"
    );
    let space = search.net.space();
    anyhow::ensure!((n as f64) <= space.size(), "--rank-check {n}: the space has only {} architectures", space.size());
    let mut rng = ChaCha8Rng::seed_from_u64(RANK_CHECK_SEED);
    let mut seen = HashSet::new();
    let mut cells = Vec::with_capacity(n);
    while cells.len() < n {
        let values = uniform(&space.decisions(), &mut rng);
        if seen.insert(values.clone()) {
            cells.push(values);
        }
    }
    let mut rows = Vec::with_capacity(n);
    for (i, values) in cells.iter().enumerate() {
        anyhow::ensure!(!crate::runtime::interrupted(), "interrupted");
        let table_acc = search.table_acc(values)?.expect("checked: the run has a table");
        rows.push(Row {
            cell: i + 1,
            arc: space.format(values)?,
            valid_acc: valid_accuracy(search, values)?,
            table_acc,
        });
    }
    let acc: Vec<f64> = rows.iter().map(|r| r.valid_acc).collect();
    let table: Vec<f64> = rows.iter().map(|r| r.table_acc).collect();
    let (tau, rho) = (kendall_tau_b(&acc, &table), spearman(&acc, &table));
    search.dir.write_rows("rank_check.csv", &rows)?;
    let column = &search.cfg.bench.final_column;
    let report = serde_json::json!({
        "cells": n,
        "seed": RANK_CHECK_SEED,
        "valid_images": search.valid.len(),
        "table_column": column,
        "kendall_tau": tau,
        "spearman": rho,
    });
    search.dir.write_json("rank_check.json", &report)?;
    println!(
        "{n} fixed random cells on {} validation images: Kendall tau {tau:.3}, Spearman rho {rho:.3} against the table's {column}",
        search.valid.len()
    );
    println!(
        "wrote {} and {}",
        search.dir.file("rank_check.csv").display(),
        search.dir.file("rank_check.json").display()
    );
    Ok(())
}
