//! Tabular benchmarks: a CSV file with an architecture column and numeric columns, such as
//! NAS-Bench-201's (`arch`, `valid_acc_12ep`, `test_acc_200ep`, ...). A strategy's query is a
//! lookup; the reward and the reported (final) column are chosen by name.
use crate::error::clip;
use crate::space::Space;
use crate::{Error, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Which columns of a table to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns {
    /// The architecture, in the space's text form.
    pub arch: String,
    /// What a strategy is told (e.g. `valid_acc_12ep`, the benchmark's search-time accuracy).
    pub reward: String,
    /// What is reported for the best-rewarded architecture (e.g. `test_acc_200ep`).
    pub report: String,
}

/// One architecture of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The architecture as the table writes it.
    pub arch: String,
    /// Its vector of choices in the space.
    pub values: Vec<usize>,
    pub reward: f64,
    pub report: f64,
}

/// A loaded table: rows in file order, indexed by choices.
#[derive(Debug, Clone)]
pub struct Table {
    pub path: PathBuf,
    pub space: Space,
    pub columns: Columns,
    pub rows: Vec<Row>,
    index: HashMap<Vec<usize>, usize>,
}

impl Table {
    /// Reads `path`; every error names the file, and for a bad value the row (1-based, header
    /// excluded), the line and the column.
    pub fn load(path: &Path, space: &Space, columns: &Columns) -> Result<Table> {
        let file = std::fs::File::open(path).map_err(|e| Error::io("opening table", path, e))?;
        // The csv reader drops a UTF-8 byte-order mark at the start of the file.
        let mut reader = csv::Reader::from_reader(std::io::BufReader::new(file));
        let header = reader.headers().map_err(|e| Error::csv(path, e))?.clone();
        if header.len() <= 1 && header.iter().all(|h| h.trim().is_empty()) {
            let what = if header.is_empty() { "the file is empty" } else { "the first line is blank" };
            let (a, r, f) = (clip(&columns.arch), clip(&columns.reward), clip(&columns.report));
            let msg =
                format!("{what}: no header line (expected a CSV header naming the columns `{a}`, `{r}` and `{f}`)");
            return Err(Error::format(path, msg));
        }
        let mut seen = HashMap::new();
        for (i, h) in header.iter().enumerate() {
            if let Some(j) = seen.insert(h.trim(), i) {
                return Err(Error::format(
                    path,
                    format!("the header names column `{}` twice (columns {} and {})", clip(h.trim()), j + 1, i + 1),
                ));
            }
        }
        let find = |name: &str| {
            header.iter().position(|h| h.trim() == name).ok_or_else(|| {
                const SHOWN: usize = 20;
                let mut have: Vec<String> = header.iter().take(SHOWN).map(|h| clip(h).into_owned()).collect();
                if header.len() > SHOWN {
                    have.push(format!("and {} more", header.len() - SHOWN));
                }
                Error::format(path, format!("no column `{}`; the columns are: {}", clip(name), have.join(", ")))
            })
        };
        let (ia, ir, ip) = (find(&columns.arch)?, find(&columns.reward)?, find(&columns.report)?);
        let mut rows = Vec::new();
        let mut index = HashMap::new();
        for (k, record) in reader.records().enumerate() {
            let row_no = k + 1;
            let at = |col: &str| format!("row {row_no} (line {}), column `{}`", row_no + 1, clip(col));
            let record = record.map_err(|e| Error::format(path, format!("row {row_no} (line {}): {e}", row_no + 1)))?;
            let field = |i: usize, col: &str| {
                record.get(i).ok_or_else(|| Error::format(path, format!("{}: missing value", at(col))))
            };
            let number = |i: usize, col: &str| -> Result<f64> {
                let text = field(i, col)?.trim();
                match text.parse::<f64>() {
                    Ok(x) if x.is_finite() => Ok(x),
                    _ => Err(Error::format(path, format!("{}: `{}` is not a finite number", at(col), clip(text)))),
                }
            };
            let arch = field(ia, &columns.arch)?.trim().to_string();
            let values = space.parse(&arch).map_err(|e| Error::format(path, format!("{}: {e}", at(&columns.arch))))?;
            let row = Row { reward: number(ir, &columns.reward)?, report: number(ip, &columns.report)?, arch, values };
            if let Some(first) = index.insert(row.values.clone(), rows.len()) {
                // The architecture parsed in the space: its own text, never long, shown whole.
                let msg = format!("row {row_no}: architecture `{}` is also row {}", row.arch, first + 1);
                return Err(Error::format(path, msg));
            }
            rows.push(row);
        }
        if rows.is_empty() {
            return Err(Error::format(path, "the table has a header but no rows"));
        }
        Ok(Table { path: path.to_path_buf(), space: space.clone(), columns: columns.clone(), rows, index })
    }

    /// The row of a vector of choices, if the table has it.
    pub fn get(&self, values: &[usize]) -> Option<&Row> {
        self.index.get(values).map(|&i| &self.rows[i])
    }

    /// The best value of the reported column over the whole table.
    pub fn optimum(&self) -> f64 {
        self.rows.iter().map(|r| r.report).fold(f64::NEG_INFINITY, f64::max)
    }
}

/// What an evaluator says about one architecture.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evaluation {
    /// The value the strategy is told (higher is better).
    pub reward: f64,
    /// A value reported beside it, where the evaluator has one (a table's final column).
    pub report: Option<f64>,
    /// A cost to minimise, where the evaluator knows one (a cost table's column); not a query.
    pub cost: Option<f64>,
}

/// Scores architectures for a strategy: a table lookup, or a network evaluated with shared
/// weights. One query is one call of `evaluate`.
pub trait Evaluator {
    fn evaluate(&mut self, values: &[usize]) -> Result<Evaluation>;

    /// `Some(cost)` when the architecture is refused without a query: its free cost breaks a
    /// hard constraint of the objective ([`ObjectiveEvaluator`]).
    fn refuses(&self, _values: &[usize]) -> Result<Option<f64>> {
        Ok(None)
    }
}

/// An evaluator whose reward is the objective's value of the inner evaluator's reward and cost:
/// MnasNet's soft reward, or the reward where a constraint holds; an architecture the objective
/// refuses is refused before any query (its cost is a free lookup).
pub struct ObjectiveEvaluator<'a> {
    pub inner: &'a mut dyn Evaluator,
    pub objective: &'a dyn crate::objective::Objective,
    /// The free cost of an architecture (the cost table), where the objective reads one.
    pub costs: Option<&'a crate::cost::Costs>,
}

impl Evaluator for ObjectiveEvaluator<'_> {
    fn evaluate(&mut self, values: &[usize]) -> Result<Evaluation> {
        let mut e = self.inner.evaluate(values)?;
        if e.cost.is_none() {
            e.cost = self.costs.map(|c| c.get(values)).transpose()?;
        }
        e.reward = self.objective.value(e.reward, e.cost).ok_or_else(|| {
            Error::Arch(format!("an architecture the objective refuses was queried: {values:?} (a loop bug)"))
        })?;
        Ok(e)
    }

    fn refuses(&self, values: &[usize]) -> Result<Option<f64>> {
        let cost = self.costs.map(|c| c.get(values)).transpose()?;
        Ok(cost.filter(|_| self.objective.value(0.0, cost).is_none()))
    }
}

/// A table as an evaluator, with costs from a cost table when given.
pub struct TableEvaluator<'a> {
    pub table: &'a Table,
    pub costs: Option<&'a crate::cost::Costs>,
}

impl Evaluator for TableEvaluator<'_> {
    fn evaluate(&mut self, values: &[usize]) -> Result<Evaluation> {
        let row = self.table.get(values).ok_or_else(|| {
            let t = self.table;
            let arch = t.space.format(values).unwrap_or_else(|_| format!("{values:?}"));
            Error::format(
                &t.path,
                format!(
                    "no row for architecture `{arch}`: a strategy may query any of the space's {} architectures, \
                     the table has {}",
                    t.space.size(),
                    t.rows.len()
                ),
            )
        })?;
        let cost = self.costs.map(|c| c.get(values)).transpose()?;
        Ok(Evaluation { reward: row.reward, report: Some(row.report), cost })
    }
}
