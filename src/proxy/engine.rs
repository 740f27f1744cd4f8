//! Zero-cost proxy scores of NAS-Bench-201 cells, computed on demand and kept: the engine behind
//! `enas proxy` and the proxy-guided strategies of `enas bench`. Each score carries the seconds its
//! computation took on one thread, so a run that reuses a score still reports what it cost.
use anyhow::{Context, Result};
use candle_core::{Device, Tensor};
use enas_child::proxy::{score_all, ProxyBatch, ProxyContext, ProxyKind};
use enas_shared::data::{load_splits, DataConfig};
use enas_shared::space::nb201::NB201_OPS;
use enas_shared::Config;
use enas_shared::OpKind;
use rand::seq::index::sample;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
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

/// Parses `all` or comma-separated proxy names, naming `what` (the flag or key) on error.
pub fn parse_proxies(text: &str, what: &str) -> Result<Vec<ProxyKind>> {
    if text.trim() == "all" {
        return Ok(enas_child::proxy::ALL_PROXIES.to_vec());
    }
    let mut out = Vec::new();
    for name in text.split(',').map(str::trim) {
        let p = ProxyKind::parse(name).map_err(|e| anyhow::anyhow!("{what}: {e}"))?;
        anyhow::ensure!(!out.contains(&p), "{what} names `{name}` twice");
        out.push(p);
    }
    Ok(out)
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
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: [u8; 4]| {
        for b in bytes {
            h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
    };
    for x in batch.images.flatten_all()?.to_vec1::<f32>()? {
        eat(x.to_bits().to_le_bytes());
    }
    for y in batch.labels.to_vec1::<u32>()? {
        eat(y.to_le_bytes());
    }
    Ok(h)
}

/// Bumped when a proxy's definition changes, so scores saved by an older build are not reused.
const CACHE_FORMAT: u32 = 1;
const CACHE_HEADER: &str = "values,proxy,score,seconds";

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

    /// Reads scores saved by [`ProxyEngine::save`] (`arch_values,proxy,score,seconds`); a missing
    /// file is an empty cache. The file must come from the same seed and minibatch settings.
    pub fn load(&self, path: &Path) -> Result<usize> {
        if !path.exists() {
            return Ok(0);
        }
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let mut lines = text.lines().enumerate();
        let want = format!("# {}", self.settings);
        let head = lines.next().map_or("", |l| l.1);
        anyhow::ensure!(
            head == want,
            "{}: scores computed under other settings ({head:?}); this run has {want:?}: remove the file or use another",
            path.display()
        );
        let columns = lines.next().map_or("", |l| l.1);
        anyhow::ensure!(
            columns == CACHE_HEADER,
            "{}: line 2 is {columns:?}, expected {CACHE_HEADER:?}",
            path.display()
        );
        let mut cache = self.cache.lock().expect("cache lock");
        let mut n = 0;
        for (i, line) in lines {
            if line.trim().is_empty() {
                continue;
            }
            let bad = || {
                anyhow::anyhow!(
                    "{}: line {}: expected `values,proxy,score,seconds`, got {line:?}",
                    path.display(),
                    i + 1
                )
            };
            let f: Vec<&str> = line.split(',').collect();
            anyhow::ensure!(f.len() == 4, bad());
            let values = f[0]
                .split(' ')
                .map(|v| v.parse::<usize>())
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|_| bad())?;
            anyhow::ensure!(values.len() == 6 && values.iter().all(|&v| v < NB201_OPS.len()), bad());
            let p = ProxyKind::parse(f[1]).map_err(|e| anyhow::anyhow!("{}: line {}: {e}", path.display(), i + 1))?;
            let score = f[2].parse::<f64>().map_err(|_| bad())?;
            let seconds = f[3].parse::<f64>().map_err(|_| bad())?;
            cache.insert((p, values), Scored { score, seconds });
            n += 1;
        }
        Ok(n)
    }

    /// Writes every score kept (atomically), sorted, for a later run's [`ProxyEngine::load`].
    pub fn save(&self, path: &Path) -> Result<()> {
        let cache = self.cache.lock().expect("cache lock");
        let mut rows: Vec<String> = cache
            .iter()
            .map(|((p, v), s)| {
                let values: Vec<String> = v.iter().map(|x| x.to_string()).collect();
                format!("{},{p},{},{}", values.join(" "), s.score, s.seconds)
            })
            .collect();
        rows.sort();
        let mut text = format!("# {}\n{CACHE_HEADER}\n", self.settings);
        for r in rows {
            text.push_str(&r);
            text.push('\n');
        }
        enas_shared::export::atomic_write(path, text.as_bytes())?;
        Ok(())
    }
}
