//! Clear messages end to end: huge user text is cut, a byte-order mark is no error, each cause of
//! an error is printed once and never with a backtrace, bounds say what they check, and every
//! output file gets the same mode.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
mod run;

use run::{enas, stderr};

const PUBLISHED: &str = "0 2 0 0 0 4 0 1 0 4 1 1 1 0 0 1 0 2 1 1 1 0 1 0 0 3 0 2 1 1 3 1 1 0 0 4 0 3 1 1";
const CELL: &str = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|avg_pool_3x3~2|";
const NB201_OPS: &str = "none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3";
const HEADER: &str = "arch,valid_acc_12ep,test_acc_200ep";

/// A failure as `enas` reports one: exit code 2, one `error: ...` message naming every needle, no
/// panic and no backtrace; returns the message.
fn fails(o: &Output, needles: &[&str]) -> String {
    let err = stderr(o);
    let shown = &err[..err.len().min(3000)];
    assert_eq!(o.status.code(), Some(2), "{shown}");
    assert!(err.starts_with("error: "), "{shown}");
    for bad in ["panicked", "stack backtrace", "backtrace", "unexpected argument"] {
        assert!(!err.contains(bad), "stderr has `{bad}`: {shown}");
    }
    for n in needles {
        assert!(err.contains(n), "stderr lacks `{n}`: {shown}");
    }
    err
}

fn write(dir: &Path, name: &str, text: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A quick one-epoch search into `out`.
fn quick_search(out: &Path) {
    let o = enas(&["search", "--config", "configs/quick.yaml", "--set", "search.epochs=1", "--out", s(out)]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// The search run's checkpoint directory.
fn checkpoint(run: &Path) -> PathBuf {
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("state.json")).unwrap()).unwrap();
    run.join(state["checkpoint"].as_str().unwrap())
}

/// Item 1: one huge token (1 MB in a file, 100 kB in a flag: the limit of one argument is 128 kB)
/// is quoted by its start and its size.
#[test]
fn a_huge_token_is_cut_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let huge = "x".repeat(1_000_000);
    let short = |o: &Output, needles: &[&str]| {
        let err = fails(o, &[&["bytes"], needles].concat());
        assert!(err.len() < 2000, "{} bytes: {}", err.len(), &err[..3000.min(err.len())]);
    };
    let arc = write(d, "arc.txt", format!("0 {huge} 1"));
    short(&enas(&["train", "--arc-file", s(&arc), "--out", s(&d.join("t"))]), &["at position 1"]);
    let archs = write(d, "archs.txt", format!("|{huge}~0|+|none~0|none~1|+|none~0|none~1|none~2|\n"));
    short(&enas(&["proxy", "--proxy", "params", "--archs", s(&archs)]), &["line 1", "on node 1 is unknown"]);
    let good = write(d, "good.txt", format!("{CELL}\n"));
    for (name, table, needle) in [
        ("cell.csv", format!("{HEADER}\n{huge},1,2\n"), "column `arch`"),
        ("number.csv", format!("{HEADER}\n{CELL},1,2{huge}\n"), "is not a finite number"),
        ("header.csv", format!("{huge},valid_acc_12ep,test_acc_200ep\n{CELL},1,2\n"), "no column `arch`"),
    ] {
        let t = write(d, name, table);
        short(&enas(&["proxy", "--proxy", "params", "--archs", s(&good), "--table", s(&t)]), &[name, needle]);
    }
    let cfg = write(d, "c.yaml", format!("child:\n  layers: {huge}\n"));
    short(&enas(&["inspect", "--arc", PUBLISHED, "--config", s(&cfg)]), &["c.yaml", "child.layers", "expected usize"]);
    let big = "x".repeat(100_000);
    for set in
        [format!("child.layers={big}"), format!("{big}=1"), format!("data.spec={big}"), format!("search.space={big}")]
    {
        short(&enas(&["inspect", "--arc", PUBLISHED, "--set", &set]), &["--set"]);
    }
}

/// Item 2: a UTF-8 byte-order mark at the start of an arc file, an `--archs` file, a table or a
/// config is dropped.
#[test]
fn a_byte_order_mark_is_no_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let arc = write(d, "arc.txt", format!("\u{feff}{PUBLISHED}\n"));
    let o = enas(&["train", "--config", "configs/quick.yaml", "--arc-file", s(&arc), "--out", s(&d.join("t"))]);
    assert!(o.status.success(), "{}", stderr(&o));
    let archs = write(d, "archs.txt", format!("\u{feff}# one cell\n{CELL}\n"));
    let table = write(d, "t.csv", format!("\u{feff}{HEADER}\n{CELL},80,90\n"));
    let o = enas(&["proxy", "--proxy", "params", "--archs", s(&archs), "--table", s(&table)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let cfg = write(d, "c.yaml", "\u{feff}child:\n  layers: 3\n");
    let o = enas(&["inspect", "--arc", PUBLISHED, "--config", s(&cfg)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("\"layers\": 3"));
}

/// Item 3: an arc that starts with `-` reaches the arc parser, in every command with `--arc`.
#[test]
fn an_arc_starting_with_a_hyphen_is_answered_by_the_arc_parser() {
    for cmd in ["train", "inspect", "bench-step"] {
        fails(&enas(&[cmd, "--arc", "-1 2 0 0"]), &["--arc", "`-1` at position 0 is not a non-negative integer"]);
    }
}

/// Item 4: a bad op in a NAS-Bench-201 cell (of a table or an `--archs` file) is answered with
/// the benchmark's five ops, not ENAS's.
#[test]
fn a_bad_nb201_op_is_answered_with_the_benchmarks_ops() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = write(d, "good.txt", format!("{CELL}\n"));
    for op in ["max_pool_3x3", "conv_9x9", "sep_conv_5x5"] {
        let cell = CELL.replace("avg_pool_3x3", op);
        let table = write(d, "t.csv", format!("{HEADER}\n{CELL},80,90\n{cell},70,80\n"));
        let err =
            fails(&enas(&["proxy", "--proxy", "params", "--archs", s(&good), "--table", s(&table)]), &[NB201_OPS]);
        assert!(err.contains(&format!("op `{op}` on node 3")) && !err.contains("dil_conv"), "{err}");
        let archs = write(d, "a.txt", format!("{cell}\n"));
        let err = fails(&enas(&["proxy", "--proxy", "params", "--archs", s(&archs)]), &[NB201_OPS]);
        assert!(!err.contains("identity") && !err.contains("sep_conv_3x3"), "{err}");
    }
}

/// Item 5: an empty table says it is empty; a header alone says it has no rows.
#[test]
fn an_empty_table_says_it_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = write(d, "good.txt", format!("{CELL}\n"));
    let proxy = |t: &Path| enas(&["proxy", "--proxy", "params", "--archs", s(&good), "--table", s(t)]);
    for text in ["", "\n\n", "\u{feff}"] {
        let err = fails(&proxy(&write(d, "e.csv", text)), &["e.csv", "the file is empty: no header line"]);
        assert!(!err.contains("the columns are"), "{err}");
    }
    fails(&proxy(&write(d, "h.csv", format!("{HEADER}\n"))), &["h.csv", "a header but no rows"]);
}

/// Item 6: a `state.json` that is not text, or not a file, is not called missing.
#[test]
fn an_unreadable_state_file_is_not_called_missing() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    quick_search(&run);
    // A stopped run: a finished one (summary.json) is refused before its state is read.
    std::fs::remove_file(run.join("summary.json")).unwrap();
    let state = run.join("state.json");
    std::fs::write(&state, [0xff, 0xfe, 0x00, 0x9c, 0x80, 0x01]).unwrap();
    let err = fails(&enas(&["search", "--resume", s(&run)]), &["state.json", "not a valid checkpoint", "not UTF-8"]);
    assert!(!err.contains("missing"), "{err}");
    std::fs::remove_file(&state).unwrap();
    std::fs::create_dir(&state).unwrap();
    let err = fails(&enas(&["search", "--resume", s(&run)]), &["state.json", "Is a directory"]);
    assert!(!err.contains("missing"), "{err}");
}

/// Item 7: a directory where a file belongs names the cause once.
#[test]
fn each_cause_is_printed_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = s(dir.path());
    for args in [
        vec!["inspect", "--arc", PUBLISHED, "--config", d],
        vec!["train", "--arc-file", d],
        vec!["bench", "--table", d],
        vec!["proxy", "--proxy", "params", "--archs", d],
        vec!["proxy", "--proxy", "params", "--sample", "2", "--table", d],
    ] {
        let err = fails(&enas(&args), &[d, "Is a directory"]);
        assert_eq!(err.matches("Is a directory").count(), 1, "{args:?}: {err}");
    }
}

/// Item 8: the channel keys refuse exactly the values their message names.
#[test]
fn channel_bounds_say_what_they_check() {
    for key in ["child.channels", "train.channels"] {
        for v in 0..=2 {
            let set = format!("{key}={v}");
            let o = enas(&["inspect", "--arc", PUBLISHED, "--set", &set]);
            if v < 2 {
                fails(&o, &[&format!("{key}: must be at least 2"), &format!("got {v}")]);
            } else {
                assert!(o.status.success(), "{set}: {}", stderr(&o));
            }
        }
    }
}

/// Item 9: an image of size 0 is refused.
#[test]
fn an_image_of_size_zero_is_refused() {
    fails(&enas(&["inspect", "--arc", PUBLISHED, "--image", "0"]), &["--image", "at least 1"]);
    fails(&enas(&["bench-step", "--image", "0"]), &["--image", "at least 1"]);
}

/// What the DARTS step does not time is refused, not timed as the first-order step it is (it
/// reported `"order": 1` timings for `darts.order=2` and dropped --curve and --arc).
#[test]
fn bench_step_refuses_what_it_would_not_time() {
    fails(&enas(&["bench-step", "--space", "darts", "--set", "darts.order=2"]), &["darts.order 2", "first-order"]);
    fails(&enas(&["bench-step", "--space", "darts", "--curve"]), &["--arc and --curve"]);
    let o = enas(&["bench-step", "--space", "nb201"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("[possible values: enas_micro, darts]"), "{}", stderr(&o));
}

/// Item 10: models and checkpoints get the mode of every other output (and of `File::create`).
#[cfg(unix)]
#[test]
fn every_output_file_gets_the_same_mode() {
    use std::os::unix::fs::PermissionsExt;
    let mode =
        |p: &Path| std::fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).permissions().mode() & 0o777;
    let dir = tempfile::tempdir().unwrap();
    let plain = write(dir.path(), "plain", "");
    let train = dir.path().join("train");
    let o = enas(&["train", "--config", "configs/quick.yaml", "--arc", PUBLISHED, "--out", s(&train)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let run = dir.path().join("run");
    quick_search(&run);
    let ck = checkpoint(&run);
    let want = mode(&plain);
    if want == 0o600 {
        eprintln!("the umask makes created files 0600, as safetensors' own are: run this test under umask 022");
    }
    for p in [
        train.join("metrics.csv"),
        train.join("config.yaml"),
        train.join("model.safetensors"),
        run.join("config.yaml"),
        ck.join("supernet.safetensors"),
        ck.join("child_optimizer.safetensors"),
    ] {
        assert_eq!(mode(&p), want, "{}: {:o}, a created file {want:o}", p.display(), mode(&p));
    }
}

/// Item 11: with RUST_BACKTRACE=1 an error is still its message alone.
#[test]
fn rust_backtrace_does_not_add_a_backtrace_to_errors() {
    let enas_bt = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_enas"))
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("RAYON_NUM_THREADS", "2")
            .env("RUST_BACKTRACE", "1")
            .env_remove("RUST_LIB_BACKTRACE")
            .output()
            .unwrap()
    };
    let one_line = |o: &Output, needles: &[&str]| {
        let err = fails(o, needles);
        assert!(err.len() < 1000 && err.trim_end().lines().count() == 1, "{err}");
        assert!(!err.contains("candle_core::") && !err.contains(" at ./"), "{err}");
    };
    one_line(&enas_bt(&["bench", "--table", "/nonexistent/t.csv"]), &["/nonexistent/t.csv", "No such file"]);
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    quick_search(&run);
    let ck = checkpoint(&run);
    // A valid safetensors file with other tensors, and a truncated one.
    std::fs::copy(ck.join("child_optimizer.safetensors"), ck.join("supernet.safetensors")).unwrap();
    one_line(&enas_bt(&["derive", "--run", s(&run)]), &["supernet.safetensors", "tensors, this network has"]);
    let bytes = std::fs::read(ck.join("child_optimizer.safetensors")).unwrap();
    std::fs::write(ck.join("supernet.safetensors"), &bytes[..bytes.len() / 2]).unwrap();
    one_line(&enas_bt(&["derive", "--run", s(&run)]), &["cannot restore the supernet"]);
}
