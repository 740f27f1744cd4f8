//! Zero-cost proxy scores of NAS-Bench-201 cells, computed on demand and kept: the engine behind
//! `enas proxy` and the proxy-guided strategies of `enas bench`. Each score carries the seconds its
//! computation took on one thread, so a run that reuses a score still reports what it cost.
use anyhow::{Context, Result};
use candle_core::{Device, Tensor};
use enas_child::proxy::{score_all, ProxyBatch, ProxyContext};
use enas_shared::data::{load_splits, DataConfig};
use enas_shared::error::clip;
use enas_shared::export::csv_f64::shortest;
use enas_shared::export::{columns, csv_bytes, field_error};
use enas_shared::space::nb201::NB201_OPS;
use enas_shared::{Config, OpKind, ProxyKind};
use rand::seq::index::sample;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

/// A proxy's score of one architecture and the single-thread seconds it cost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    pub score: f64,
    pub seconds: f64,
}

pub struct ProxyEngine {
    ctx: ProxyContext,
    /// The settings a score depends on (seed, minibatch), written in and checked against a file.
    settings: String,
    cache: Mutex<HashMap<(ProxyKind, Vec<usize>), Scored>>,
}

/// A minibatch of `size` training images (normalised as training normalises them), drawn without
/// replacement with `seed`, and the data's class count.
pub fn load_batch(data: &DataConfig, size: usize, seed: u64) -> Result<(ProxyBatch, usize)> {
    let splits = load_splits(data).with_context(|| format!("loading {} for the data proxies", data.spec))?;
    let train = &splits.train;
    anyhow::ensure!(
        train.len() >= size,
        "{}: the training split has {} images, fewer than strategy.proxy.batch_size = {size}",
        data.spec,
        train.len()
    );
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let picked = train.subset(&sample(&mut rng, train.len(), size).into_vec());
    let shape = (size, picked.channels, picked.height, picked.width);
    let batch = ProxyBatch {
        images: Tensor::from_vec(picked.images, shape, &Device::Cpu)?,
        labels: Tensor::from_vec(picked.labels, size, &Device::Cpu)?,
    };
    Ok((batch, picked.classes))
}

/// FNV-1a of the minibatch's pixels and labels: the cache key of the data the scores saw.
fn batch_hash(batch: &ProxyBatch) -> Result<u64> {
    let mut h = enas_shared::fingerprint::Fnv64::default();
    for x in batch.images.flatten_all()?.to_vec1::<f32>()? {
        h.update(&x.to_bits().to_le_bytes());
    }
    for y in batch.labels.to_vec1::<u32>()? {
        h.update(&y.to_le_bytes());
    }
    Ok(h.finish())
}

/// Bumped when a proxy's definition changes, so scores saved by an older build are not reused.
const CACHE_FORMAT: u32 = 1;

/// A row of the proxy cache: `# <settings>` on line 1, then a CSV table of these, the header
/// `values,proxy,score,seconds` on line 2. Numbers are written as they are (shortest text).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct CacheRow {
    /// The NAS-Bench-201 vector of choices, space-separated (`0 1 4 2 0 3`).
    #[serde(serialize_with = "spaced", deserialize_with = "nb201_values")]
    values: Vec<usize>,
    proxy: ProxyKind,
    #[serde(with = "shortest")]
    score: f64,
    #[serde(with = "shortest")]
    seconds: f64,
}

fn spaced<S: Serializer>(values: &[usize], s: S) -> std::result::Result<S::Ok, S::Error> {
    let text: Vec<String> = values.iter().map(|v| v.to_string()).collect();
    s.serialize_str(&text.join(" "))
}

/// Six space-separated choices, each an NB201 op index.
fn nb201_values<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Vec<usize>, D::Error> {
    let text = String::deserialize(d)?;
    let values: Option<Vec<usize>> = text.split(' ').map(|v| v.parse().ok()).collect();
    match values {
        Some(v) if v.len() == 6 && v.iter().all(|&x| x < NB201_OPS.len()) => Ok(v),
        _ => Err(serde::de::Error::custom(format!(
            "values {text:?} are not 6 space-separated NAS-Bench-201 op indices (0..{})",
            NB201_OPS.len()
        ))),
    }
}

impl ProxyEngine {
    /// The engine for a run's config: the benchmark's CIFAR-10 network for the data-free proxies;
    /// with `needs_data`, one minibatch of `strategy.proxy.batch_size` images of `data.spec`, the
    /// network sized for them. Generated (`synthetic`) images are refused unless `--data` named them.
    pub fn for_config(cfg: &Config, needs_data: bool, data_given: bool) -> Result<ProxyEngine> {
        if !needs_data {
            let settings = format!("format={CACHE_FORMAT} seed={} data=none", cfg.seed);
            return Ok(ProxyEngine::new(ProxyContext::cifar10(cfg.seed, None), settings));
        }
        anyhow::ensure!(
            data_given || cfg.data.spec.trim() != "synthetic",
            "the data proxies need images: give --data SPEC (data.spec is `synthetic`, generated images; \
             `--data synthetic` uses them anyway)"
        );
        let size = cfg.strategy.proxy.batch_size;
        eprintln!("data proxies: one minibatch of {size} training images of {} (seed {})", cfg.data.spec, cfg.seed);
        let (batch, classes) = load_batch(&cfg.data, size, cfg.seed)?;
        let settings =
            format!("format={CACHE_FORMAT} seed={} batch={size} images={:016x}", cfg.seed, batch_hash(&batch)?);
        Ok(ProxyEngine::new(ProxyContext::for_batch(cfg.seed, batch, classes)?, settings))
    }

    /// What the scores depend on besides the architecture (seed, data, batch size).
    pub fn settings(&self) -> &str {
        &self.settings
    }

    /// `settings` describes what the scores depend on besides the architecture (seed, data,
    /// batch size); saved scores are only reused under the same settings.
    pub fn new(ctx: ProxyContext, settings: String) -> ProxyEngine {
        ProxyEngine { ctx, settings, cache: Mutex::new(HashMap::new()) }
    }

    /// The scores of `values` (a NAS-Bench-201 vector of choices) by each of `proxies`, from the
    /// cache or computed on this thread. Proxies computed together split their measured time
    /// evenly: `synflow` alone, the data proxies in one shared pass, `params` and `flops` each.
    pub fn evaluate(&self, proxies: &[ProxyKind], values: &[usize]) -> Result<Vec<Scored>> {
        let cached = |p: ProxyKind| self.cache.lock().expect("cache lock").get(&(p, values.to_vec())).copied();
        let missing: Vec<ProxyKind> = proxies.iter().copied().filter(|&p| cached(p).is_none()).collect();
        if !missing.is_empty() {
            anyhow::ensure!(
                self.ctx.batch.is_some() || !missing.iter().any(|p| p.needs_data()),
                "proxy `{}` needs a minibatch: give --data",
                missing.iter().find(|p| p.needs_data()).expect("a data proxy")
            );
            let cell: Vec<OpKind> = values.iter().map(|&v| NB201_OPS[v]).collect();
            let data: Vec<ProxyKind> = missing.iter().copied().filter(|p| p.needs_data()).collect();
            let mut groups: Vec<Vec<ProxyKind>> =
                missing.iter().filter(|p| !p.needs_data()).map(|&p| vec![p]).collect();
            if !data.is_empty() {
                groups.push(data);
            }
            for group in groups {
                let started = Instant::now();
                let scores = score_all(&group, &cell, &self.ctx)?;
                let seconds = started.elapsed().as_secs_f64() / group.len() as f64;
                let mut cache = self.cache.lock().expect("cache lock");
                for (p, score) in group.into_iter().zip(scores) {
                    cache.insert((p, values.to_vec()), Scored { score, seconds });
                }
            }
        }
        Ok(proxies.iter().map(|&p| cached(p).expect("scored above")).collect())
    }

    /// Reads scores saved by [`ProxyEngine::save`] (`values,proxy,score,seconds`); a missing
    /// file is an empty cache. The file must come from the same seed and minibatch settings.
    pub fn load(&self, path: &Path) -> Result<usize> {
        if !path.exists() {
            return Ok(0);
        }
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        // A byte-order mark or CRLF line ends (an editor's) change nothing.
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        anyhow::ensure!(
            !text.trim().is_empty(),
            "{}: the file is empty; a proxy cache starts with a `# <settings>` line (remove the file to start anew)",
            path.display()
        );
        let (head, table) = text.split_once('\n').unwrap_or((text, ""));
        let head = head.trim_end_matches('\r');
        let want = format!("# {}", self.settings);
        anyhow::ensure!(
            head == want,
            "{}: scores computed under other settings ({:?}); this run has {want:?}: remove the file or use another",
            path.display(),
            clip(head)
        );
        let mut r = csv::Reader::from_reader(table.as_bytes());
        let header = r.headers().with_context(|| format!("{}: line 2 is not CSV", path.display()))?.clone();
        let expected = columns::<CacheRow>().join(",");
        let columns: Vec<&str> = header.iter().collect();
        anyhow::ensure!(
            columns.join(",") == expected,
            "{}: line 2 is {:?}, expected {expected:?}",
            path.display(),
            clip(&columns.join(","))
        );
        let mut cache = self.cache.lock().expect("cache lock");
        let mut n = 0;
        for record in r.records() {
            // Line numbers count the settings line above the table.
            let record = record.map_err(|e| {
                let line = e.position().map_or(0, |p| p.line() + 1);
                anyhow::anyhow!("{}: line {line}: {}", path.display(), field_error(&e, &header, &Default::default()))
            })?;
            let row: CacheRow = record.deserialize(Some(&header)).map_err(|e| {
                let fields: Vec<&str> = record.iter().collect();
                anyhow::anyhow!(
                    "{}: line {}: expected `{expected}`, got {:?} ({})",
                    path.display(),
                    record.position().map_or(0, |p| p.line() + 1),
                    fields.join(","),
                    field_error(&e, &header, &record)
                )
            })?;
            let line = record.position().map_or(0, |p| p.line() + 1);
            anyhow::ensure!(
                row.seconds.is_finite() && row.seconds >= 0.0,
                "{}: line {line}: seconds {} is not a time (a finite number at least 0)",
                path.display(),
                row.seconds
            );
            let proxy = row.proxy;
            // A saved cache has one row per (architecture, proxy); a second is not this tool's.
            if cache.insert((row.proxy, row.values), Scored { score: row.score, seconds: row.seconds }).is_some() {
                anyhow::bail!("{}: line {line}: a second {proxy} score of the same architecture", path.display());
            }
            n += 1;
        }
        Ok(n)
    }

    /// Writes every score kept (atomically), sorted, for a later run's [`ProxyEngine::load`].
    pub fn save(&self, path: &Path) -> Result<()> {
        let cache = self.cache.lock().expect("cache lock");
        let mut rows: Vec<CacheRow> = cache
            .iter()
            .map(|((p, v), s)| CacheRow { values: v.clone(), proxy: *p, score: s.score, seconds: s.seconds })
            .collect();
        // In the order of the lines' text: the values (each a single digit) by their text, then the
        // proxy by name (no name is a prefix of another); a (values, proxy) pair is unique.
        rows.sort_by(|a, b| a.values.cmp(&b.values).then(a.proxy.name().cmp(b.proxy.name())));
        let mut text = format!("# {}\n", self.settings).into_bytes();
        text.extend(csv_bytes(&columns::<CacheRow>(), &rows)?);
        enas_shared::export::atomic_write(path, &text)?;
        Ok(())
    }
}
