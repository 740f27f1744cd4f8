//! What a resumable run needs of its config: paths that hold from any working directory, and a
//! comparison that names the keys where two resolved configs differ (a resumed run must continue
//! the run it started, not a changed one).
use crate::config::Config;
use crate::data::DataSpec;
use std::path::Path;

impl Config {
    /// The config with its file paths (the data directory, the benchmark table) made absolute
    /// against the current directory, so the run directory's `config.yaml` still finds them when
    /// the run is resumed from elsewhere. A path that does not exist is left to fail where read.
    pub fn with_absolute_paths(&self) -> Config {
        let mut cfg = self.clone();
        let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        if let Ok(spec) = DataSpec::parse(&cfg.data.spec) {
            let spec = match spec {
                DataSpec::Synthetic => DataSpec::Synthetic,
                DataSpec::Cifar10(d) => DataSpec::Cifar10(abs(&d)),
                DataSpec::Mnist(d) => DataSpec::Mnist(abs(&d)),
                DataSpec::Optdigits(d) => DataSpec::Optdigits(abs(&d)),
            };
            cfg.data.spec = spec.to_string();
        }
        cfg.search.table = cfg.search.table.as_deref().map(abs);
        cfg.objective.cost_table = cfg.objective.cost_table.as_deref().map(abs);
        cfg
    }

    /// The keys (dotted paths) where `self` and `other` differ, each with both values as YAML
    /// text (`self`'s first); empty when they are the same config.
    pub fn differing_keys(&self, other: &Config) -> Vec<(String, String, String)> {
        let to_value = |c: &Config| serde_yaml::to_value(c).expect("a Config always serialises");
        let mut out = Vec::new();
        diff("", &to_value(self), &to_value(other), &mut out);
        out
    }
}

fn diff(prefix: &str, a: &serde_yaml::Value, b: &serde_yaml::Value, out: &mut Vec<(String, String, String)>) {
    use serde_yaml::Value;
    if let (Value::Mapping(ma), Value::Mapping(mb)) = (a, b) {
        let mut keys: Vec<&Value> = ma.keys().chain(mb.keys().filter(|k| !ma.contains_key(*k))).collect();
        keys.dedup();
        for k in keys {
            let name = k.as_str().map(String::from).unwrap_or_else(|| format!("{k:?}"));
            let path = if prefix.is_empty() { name } else { format!("{prefix}.{name}") };
            diff(&path, ma.get(k).unwrap_or(&Value::Null), mb.get(k).unwrap_or(&Value::Null), out);
        }
    } else if a != b {
        let text = |v: &Value| serde_yaml::to_string(v).unwrap_or_default().trim().replace('\n', " ");
        out.push((prefix.to_string(), text(a), text(b)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differing_keys_name_every_changed_leaf() {
        let a = Config::default();
        assert!(a.differing_keys(&a.clone()).is_empty());
        let mut b = a.clone();
        b.seed = 3;
        b.data.spec = "cifar10:/x".into();
        b.controller.lr = 0.5;
        let keys: Vec<String> = a.differing_keys(&b).into_iter().map(|(k, _, _)| k).collect();
        assert_eq!(keys, ["seed", "data.spec", "controller.lr"]);
        let (_, was, now) = &a.differing_keys(&b)[0];
        assert_eq!((was.as_str(), now.as_str()), ("0", "3"));
    }

    #[test]
    fn paths_become_absolute_and_synthetic_stays() {
        let mut c = Config::default();
        assert_eq!(c.with_absolute_paths().data.spec, "synthetic");
        c.data.spec = "cifar10:data/cif".into();
        c.search.table = Some("t.csv".into());
        let abs = c.with_absolute_paths();
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(abs.data.spec, format!("cifar10:{}", cwd.join("data/cif").display()));
        assert_eq!(abs.search.table, Some(cwd.join("t.csv")));
    }
}
