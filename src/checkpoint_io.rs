//! What every resumable command's checkpoint shares: optimiser state as indexed tensors, and the
//! check that a run's `config.yaml` is still the config its checkpoint was made with.
use anyhow::{Context, Result};
use candle_core::Tensor;
use std::collections::HashMap;
use std::path::Path;

/// Refuses a run's `config.yaml` that differs from the config its checkpoint was made with
/// (`started`, YAML), naming each differing key with both values.
pub fn check_unchanged(cfg: &enas_shared::Config, started: &str, path: &Path, command: &str) -> Result<()> {
    let started: enas_shared::Config = serde_yaml::from_str(started)
        .with_context(|| format!("{}: the config stored in the checkpoint cannot be read back", path.display()))?;
    let keys = started.differing_keys(cfg);
    if keys.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = keys.iter().map(|(k, was, now)| format!("{k}: {was} -> {now}")).collect();
    anyhow::bail!(
        "{} changed since the run started ({}); a resumed run continues the run it started: restore those \
         keys, or start a new run with `enas {command} --config {} --out NEW_DIR`",
        path.display(),
        list.join("; "),
        crate::run::shell_quote(path)
    )
}

/// Saves optional tensors by index (`t.<i>`), for optimiser state.
pub fn save_tensors(path: &Path, tensors: &[Option<Tensor>]) -> Result<()> {
    let map: HashMap<String, Tensor> =
        tensors.iter().enumerate().filter_map(|(i, t)| t.as_ref().map(|t| (format!("t.{i}"), t.clone()))).collect();
    Ok(enas_shared::export::save_safetensors(path, &map)?)
}

/// Loads tensors saved by `save_tensors`; indices must be below `n`.
pub fn load_tensors(path: &Path, n: usize) -> Result<Vec<Option<Tensor>>> {
    let map = candle_core::safetensors::load(path, &candle_core::Device::Cpu)?;
    let mut out = vec![None; n];
    for (k, t) in map {
        let i: usize = k
            .strip_prefix("t.")
            .and_then(|i| i.parse().ok())
            .with_context(|| format!("{}: unexpected tensor `{k}`", path.display()))?;
        anyhow::ensure!(i < n, "{}: tensor index {i} is beyond {n} variables", path.display());
        out[i] = Some(t);
    }
    Ok(out)
}
