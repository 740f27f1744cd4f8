//! `--set section.key=value` overrides, and the merge of a YAML file over the defaults.
use crate::error::{clip, clip_message};
use crate::{Config, Error, Result};
use serde_yaml::Value;

/// Writes `over` into `base`, mapping by mapping; any other value replaces the base's.
pub(crate) fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Mapping(b), Value::Mapping(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// Applies one `section.key=value` override to a YAML tree. The key must exist in the config
/// (checked against the defaults), the value is read as a YAML scalar (`6`, `0.1`, `true`, `cpu`).
pub fn apply_override(root: &mut Value, text: &str) -> Result<()> {
    let origin = format!("--set {}", clip(text));
    let err = |msg: String| Error::Config { origin: origin.clone(), msg };
    let (key, raw) =
        text.split_once('=').ok_or_else(|| err("expected `section.key=value`, e.g. `child.layers=6`".into()))?;
    let path: Vec<&str> = key.trim().split('.').collect();
    let defaults = serde_yaml::to_value(Config::default()).expect("defaults serialise");
    let mut known = &defaults;
    for (i, part) in path.iter().enumerate() {
        known = known.get(part).ok_or_else(|| {
            let parent = path[..i].join(".");
            let Some(section) = known.as_mapping() else {
                // `train.layers.x`: the parent is a value, not a section.
                return err(format!("`{parent}` is a value, not a section: it has no key `{}`", clip(part)));
            };
            let keys = section.keys().filter_map(|k| k.as_str()).collect::<Vec<_>>().join(", ");
            err(format!(
                "unknown key `{}`{}; known keys there: {keys}",
                clip(key.trim()),
                if parent.is_empty() { String::new() } else { format!(" (under `{parent}`)") }
            ))
        })?;
    }
    if known.is_mapping() {
        return Err(err(format!(
            "`{}` is a section; set one of its keys, e.g. `{}.<key>=...`",
            clip(key.trim()),
            clip(key.trim())
        )));
    }
    let value: Value = serde_yaml::from_str(raw.trim())
        .map_err(|e| err(format!("value `{}` is not YAML: {}", clip(raw), clip_message(&e.to_string()))))?;
    let mut node = root;
    for part in &path[..path.len() - 1] {
        if !node.is_mapping() {
            *node = Value::Mapping(Default::default());
        }
        let map = node.as_mapping_mut().expect("just made a mapping");
        node = map.entry(Value::from(*part)).or_insert_with(|| Value::Mapping(Default::default()));
    }
    if !node.is_mapping() {
        *node = Value::Mapping(Default::default());
    }
    node.as_mapping_mut()
        .expect("just made a mapping")
        .insert(Value::from(*path.last().expect("split gives one part")), value);
    Ok(())
}
