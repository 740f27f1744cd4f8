//! `--device` and `device:` in a build without the `cuda` feature (the default): asking for a GPU
//! is a clear error that says how to build one, before any output; `auto` runs on the CPU and
//! says so; a command that runs on the CPU only refuses a GPU instead of ignoring it.
mod run;

use run::{enas, stderr};

const ARC: &str = "0 2 0 0 0 4 0 1 0 4 1 1 1 0 0 1 0 2 1 1 1 0 1 0 0 3 0 2 1 1 3 1 1 0 0 4 0 3 1 1";

#[cfg(not(feature = "cuda"))]
#[test]
fn a_gpu_needs_the_cuda_build_and_auto_says_what_it_picked() {
    let dir = tempfile::tempdir().unwrap();
    for (flag, value) in [("--device", "cuda"), ("--set", "device=cuda:1")] {
        let out = dir.path().join("gpu");
        let o = enas(&["search", "--config", "configs/quick.yaml", flag, value, "--out", out.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains("built without CUDA") && stderr(&o).contains("--features cuda"), "{}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
        assert!(!out.exists(), "a refused search left a directory");
    }
    let o = enas(&["search", "--config", "configs/quick.yaml", "--device", "gpu"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("expected cpu, cuda, cuda:N (a GPU ordinal) or auto"), "{}", stderr(&o));
    let out = dir.path().join("auto");
    let o = enas(&[
        "train",
        "--config",
        "configs/quick.yaml",
        "--arc",
        ARC,
        "--device",
        "auto",
        "--epochs",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("device auto: cpu (this build has no CUDA)"), "{}", stderr(&o));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["deploy"]["latency_device"], "cpu");
    let o = enas(&["proxy", "--proxy", "params", "--sample", "2", "--device", "cuda"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("enas proxy runs on the CPU only"), "{}", stderr(&o));
}
