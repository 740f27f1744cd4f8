//! Tabular benchmarks: the NAS-Bench-201 space against the real table, and clear errors for
//! malformed tables.
mod common;

use common::real_data;
use enas_shared::table::{Columns, Table};
use enas_shared::{Nb201, Space};

fn nb201_columns() -> Columns {
    Columns { arch: "arch".into(), reward: "valid_acc_12ep".into(), report: "test_acc_200ep".into() }
}

#[test]
fn every_nb201_string_of_the_table_round_trips() {
    let Some(path) = real_data("nb201/cifar10.csv") else { return };
    let space = Space::Nb201(Nb201);
    let table = Table::load(&path, &space, &nb201_columns()).unwrap();
    assert_eq!(table.rows.len(), 15_625);
    let mut seen = std::collections::HashSet::new();
    for row in &table.rows {
        assert_eq!(space.format(&row.values).unwrap(), row.arch);
        assert!(seen.insert(row.values.clone()), "{} twice", row.arch);
    }
    assert_eq!(seen.len() as f64, space.size());
    // The data README: the table's best 200-epoch test accuracy is 94.37; the all-skip cell 54.30.
    assert!((table.optimum() - 94.37).abs() < 0.01, "{}", table.optimum());
    let all_skip =
        Nb201.parse("|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|");
    let row = table.get(&all_skip.unwrap()).unwrap();
    assert!((row.report - 54.30).abs() < 0.01, "{}", row.report);
}

/// Writes `text` as a table and loads it, returning the error message.
fn load_error(text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.csv");
    std::fs::write(&path, text).unwrap();
    Table::load(&path, &Space::Nb201(Nb201), &nb201_columns()).unwrap_err().to_string()
}

const GOOD: &str = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|avg_pool_3x3~2|";

#[test]
fn malformed_tables_name_the_row_and_column() {
    let err = load_error(&format!("arch,valid_acc_12ep\n{GOOD},80.0\n"));
    assert!(
        err.contains("t.csv") && err.contains("no column `test_acc_200ep`") && err.contains("arch, valid_acc_12ep"),
        "{err}"
    );
    let err = load_error(&format!("arch,valid_acc_12ep,test_acc_200ep\n{GOOD},80.0,90.0\n{GOOD},abc,90.0\n"));
    assert!(err.contains("row 2 (line 3), column `valid_acc_12ep`: `abc` is not a finite number"), "{err}");
    let bad_op = GOOD.replace("avg_pool_3x3", "max_pool_3x3");
    let err = load_error(&format!("arch,valid_acc_12ep,test_acc_200ep\n{GOOD},80.0,90.0\n{bad_op},80.0,90.0\n"));
    assert!(err.contains("row 2 (line 3), column `arch`") && err.contains("`max_pool_3x3` on node 3"), "{err}");
    let err = load_error(&format!("arch,valid_acc_12ep,test_acc_200ep\n{GOOD},80.0\n"));
    assert!(err.contains("row 1 (line 2)"), "{err}");
    let err = load_error(&format!("arch,valid_acc_12ep,test_acc_200ep\n{GOOD},80.0,90.0\n{GOOD},81.0,91.0\n"));
    assert!(err.contains("row 2") && err.contains("also row 1"), "{err}");
    let err = load_error("arch,valid_acc_12ep,test_acc_200ep\n");
    assert!(err.contains("no rows"), "{err}");
    let err = load_error("");
    assert!(err.contains("the file is empty: no header line") && err.contains("`test_acc_200ep`"), "{err}");
    let huge = "x".repeat(1_000_000);
    let err = load_error(&format!("arch,valid_acc_12ep,test_acc_200ep\n{GOOD},80.0,{huge}\n"));
    assert!(
        err.len() < 400 && err.contains("... (1000000 bytes)` is not a finite number"),
        "{}",
        &err[..err.len().min(2000)]
    );
}

/// A UTF-8 byte-order mark before the header is no part of the first column's name.
#[test]
fn a_byte_order_mark_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.csv");
    std::fs::write(&path, format!("\u{feff}arch,valid_acc_12ep,test_acc_200ep\n{GOOD},80.0,90.0\n")).unwrap();
    assert_eq!(Table::load(&path, &Space::Nb201(Nb201), &nb201_columns()).unwrap().rows.len(), 1);
}

/// A header that repeats a column would be read by its first copy, silently: refused, naming it.
#[test]
fn a_repeated_column_name_is_refused() {
    let err = load_error(&format!("arch,test_acc_200ep,valid_acc_12ep,test_acc_200ep\n{GOOD},90.0,80.0,10.0\n"));
    assert!(err.contains("t.csv") && err.contains("`test_acc_200ep` twice (columns 2 and 4)"), "{err}");
}
