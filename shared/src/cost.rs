//! Costs to minimise beside the reward (hardware-aware search): a table column joined on the
//! architecture column, e.g. HELP's measured Pixel 3 latencies of every NAS-Bench-201 cell
//! (`../shared/data/nb201/latency_pixel3.csv`, column `latency_pixel3_ms`). A cost lookup is
//! free: it is not a query.
use crate::error::clip;
use crate::table::{Columns, Table};
use crate::{Error, Result, Space};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// One named cost per architecture.
#[derive(Debug, Clone)]
pub struct Costs {
    pub path: PathBuf,
    /// The column read (`latency_pixel3_ms`).
    pub column: String,
    space: Space,
    by_values: HashMap<Vec<usize>, f64>,
}

impl Costs {
    /// Reads `column` of `path`, keyed by its `arch_column` parsed in `space` (so the join does not
    /// depend on row order or on how the text is spaced); a row that repeats an architecture, a
    /// missing column, or a value that is not a finite number above 0 is an error naming the file
    /// and row. (A cost is a count or a time; at 0 or below MnasNet's `(cost / target)^w` is
    /// infinite or not a number, and the Pareto budgets mean nothing.)
    pub fn load(path: &Path, space: &Space, arch_column: &str, column: &str) -> Result<Costs> {
        let columns = Columns { arch: arch_column.to_string(), reward: column.to_string(), report: column.to_string() };
        let table = Table::load(path, space, &columns)?;
        if let Some((i, r)) = table.rows.iter().enumerate().find(|(_, r)| r.reward <= 0.0) {
            return Err(Error::format(
                path,
                format!(
                    "row {} (architecture `{}`), column `{}`: cost {} is not above 0 (a cost is a count or a time)",
                    i + 1,
                    r.arch,
                    clip(column),
                    r.reward
                ),
            ));
        }
        let by_values = table.rows.into_iter().map(|r| (r.values, r.reward)).collect();
        Ok(Costs { path: path.to_path_buf(), column: column.to_string(), space: space.clone(), by_values })
    }

    /// The cost of a vector of choices; an architecture the table lacks is an error naming it.
    pub fn get(&self, values: &[usize]) -> Result<f64> {
        self.by_values.get(values).copied().ok_or_else(|| {
            let arch = self.space.format(values).unwrap_or_else(|_| format!("{values:?}"));
            Error::format(
                &self.path,
                // The space's own text, never long: shown whole.
                format!("no row for architecture `{arch}` (column `{}`)", clip(&self.column)),
            )
        })
    }

    /// How many architectures have a cost.
    pub fn len(&self) -> usize {
        self.by_values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_values.is_empty()
    }

    /// The least cost of any architecture.
    pub fn least(&self) -> f64 {
        self.by_values.values().copied().fold(f64::INFINITY, f64::min)
    }

    /// The cost of every row of `table`, in its order: every architecture there must have one.
    pub fn for_table(&self, table: &Table) -> Result<Vec<f64>> {
        table.rows.iter().map(|r| self.get(&r.values)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Nb201;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    const A: &str = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|";
    const B: &str = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|";

    #[test]
    fn costs_join_on_the_architecture_and_name_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let space = Space::Nb201(Nb201);
        let p = write(dir.path(), "c.csv", &format!("arch,ms\n{A},2.5\n{B},0.5\n"));
        let c = Costs::load(&p, &space, "arch", "ms").unwrap();
        assert_eq!(c.get(&space.parse(A).unwrap()).unwrap(), 2.5);
        assert_eq!(c.get(&space.parse(B).unwrap()).unwrap(), 0.5);
        let other = "|avg_pool_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|";
        let e = c.get(&space.parse(other).unwrap()).unwrap_err().to_string();
        assert!(e.contains("c.csv") && e.contains(other) && e.contains("`ms`"), "{e}");
        let e = Costs::load(&p, &space, "arch", "latency").unwrap_err().to_string();
        assert!(e.contains("no column `latency`"), "{e}");
        let bad = write(dir.path(), "bad.csv", &format!("arch,ms\n{A},fast\n"));
        let e = Costs::load(&bad, &space, "arch", "ms").unwrap_err().to_string();
        assert!(e.contains("row 1") && e.contains("`fast`"), "{e}");
        for v in ["0", "-3.5"] {
            let bad = write(dir.path(), "neg.csv", &format!("arch,ms\n{A},2.5\n{B},{v}\n"));
            let e = Costs::load(&bad, &space, "arch", "ms").unwrap_err().to_string();
            assert!(
                e.contains("neg.csv") && e.contains("row 2") && e.contains(&format!("cost {v} is not above 0")),
                "{e}"
            );
        }
    }
}
