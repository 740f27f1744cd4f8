//! What a search reports from a benchmark table (`search.table`): the table accuracy of the cell
//! the method would return after each epoch and of the derived cell, and the supernet's rank
//! quality. The method never sees the table; only these reports read it.
use super::Search;
use anyhow::{Context, Result};
use enas_shared::table::{Columns, Table};
use enas_shared::{Config, Space};

/// The table of `cfg.search.table`, its `bench.final_column` read for reports.
pub fn load_table(cfg: &Config, space: &Space) -> Result<Option<Table>> {
    let Some(path) = &cfg.search.table else { return Ok(None) };
    anyhow::ensure!(
        matches!(space, Space::Nb201(_)),
        "search.table: a benchmark table reports on the nb201 space; this search's space is {}",
        space.name()
    );
    let b = &cfg.bench;
    let columns =
        Columns { arch: b.arch_column.clone(), reward: b.final_column.clone(), report: b.final_column.clone() };
    Ok(Some(Table::load(path, space, &columns).context("search.table")?))
}

impl Search {
    /// The table's final-column accuracy of `values`, when the search has a table.
    pub fn table_acc(&self, values: &[usize]) -> Result<Option<f64>> {
        let Some(table) = &self.table else { return Ok(None) };
        let row = table.get(values).with_context(|| {
            format!("{}: no row for {}", table.path.display(), self.net.space().format(values).unwrap_or_default())
        })?;
        Ok(Some(row.report))
    }

    /// The table's final-column accuracy of an arc in the space's text form.
    pub fn table_acc_of(&self, arc: &str) -> Result<Option<f64>> {
        if self.table.is_none() {
            return Ok(None);
        }
        self.table_acc(&self.net.space().parse(arc)?)
    }

    /// The best final-column accuracy in the table.
    pub fn table_optimum(&self) -> Option<f64> {
        self.table.as_ref().map(|t| t.optimum())
    }
}
