//! Made-up NAS-Bench-201 tables for the `enas bench` tests.
#![allow(dead_code)]
use enas_shared::Nb201;
use std::path::Path;

/// The values of cell `i` in value order (decision k is digit k of `i` in base 5).
pub fn cell(i: usize) -> Vec<usize> {
    (0..6).map(|k| (i / 5usize.pow(k as u32)) % 5).collect()
}

/// A table of the first `n` NAS-Bench-201 cells (in value order) with a made-up accuracy: more
/// 3x3 convs score higher; `final` is the reward plus a fixed offset.
pub fn write_table(path: &Path, n: usize) {
    let mut text = String::from("index,arch,valid_acc_12ep,test_acc_200ep\n");
    for i in 0..n {
        let values = cell(i);
        text.push_str(&format!("{i},{},{},{}\n", Nb201.format(&values).unwrap(), acc(i), acc(i) + 10.0));
    }
    std::fs::write(path, text).unwrap();
}

/// The reward of cell `i` in `write_table`.
pub fn acc(i: usize) -> f64 {
    50.0 + 5.0 * cell(i).iter().filter(|&&v| v == 3).count() as f64 + (i % 7) as f64 * 0.1
}

/// The cost of cell `i` in `write_costs`: `((i * 7919) % 1000 + 1) / 10` ms, 0.1 to 100 (a cost
/// is above 0).
pub fn cost(i: usize) -> f64 {
    ((i * 7919) % 1000 + 1) as f64 / 10.0
}

/// A cost per cell of `write_table`'s first `n`, column `latency_ms`, written in `order`.
pub fn write_costs(path: &Path, n: usize, order: &[usize]) {
    let mut text = String::from("index,arch,latency_ms\n");
    for &i in order.iter().filter(|&&i| i < n) {
        text.push_str(&format!("{i},{},{}\n", Nb201.format(&cell(i)).unwrap(), cost(i)));
    }
    std::fs::write(path, text).unwrap();
}
