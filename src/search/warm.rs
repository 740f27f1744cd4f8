//! The warm start of the proxy-guided strategies in `enas search`. The zero-cost proxies that
//! train nothing and need no network of their own are the ones the supernet gives for any path
//! from its structure: `params` and `flops` (`Supernet::costs`). synflow and the data proxies are
//! implemented for the NAS-Bench-201 network (`enas bench`, `enas proxy`).
use super::supernet::Supernet;
use anyhow::Result;
use enas_controller::strategy::warm;
use enas_shared::{Config, ProxyKind};
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

/// The proxies `enas search` can score: those a path's structure gives ([`ProxyKind::structural`]).
pub const SUPERNET_PROXIES: [ProxyKind; 2] = [ProxyKind::Params, ProxyKind::Flops];

/// What the warm start cost: proxy evaluations (no queries) and their seconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct WarmCost {
    pub evaluations: usize,
    pub seconds: f64,
}

/// The pool of `strategy.proxy.pool` paths ranked by `proxies` (best first), for a proxy-guided
/// strategy; an empty ranking for the others.
pub fn ranked_pool(
    cfg: &Config,
    proxies: &[ProxyKind],
    net: &dyn Supernet,
    rng: &mut ChaCha8Rng,
) -> Result<(Vec<Vec<usize>>, WarmCost)> {
    if proxies.is_empty() {
        return Ok((Vec::new(), WarmCost::default()));
    }
    for p in proxies {
        anyhow::ensure!(
            SUPERNET_PROXIES.contains(p),
            "strategy.proxy: `{p}` needs the NAS-Bench-201 network; on the ENAS micro space `enas search` \
             scores arcs by {}",
            names(&SUPERNET_PROXIES).join(" or ")
        );
    }
    let started = Instant::now();
    let pool = warm::draw_pool(&net.space().decisions(), cfg.strategy.proxy.pool, rng)?;
    let mut scores = Vec::with_capacity(pool.len());
    for values in &pool {
        let (params, flops) = net.costs(values)?;
        let score = |p: &ProxyKind| match p {
            ProxyKind::Params => params as f64,
            // `flops`, the only other proxy the check above lets through.
            _ => flops as f64,
        };
        scores.push(proxies.iter().map(score).collect());
    }
    let ranked = warm::rank(&pool, &scores);
    let cost = WarmCost { evaluations: pool.len() * proxies.len(), seconds: started.elapsed().as_secs_f64() };
    eprintln!(
        "warm start: {} arcs scored by {} in {:.3} s (no queries)",
        pool.len(),
        names(proxies).join(", "),
        cost.seconds
    );
    Ok((ranked, cost))
}

fn names(proxies: &[ProxyKind]) -> Vec<&'static str> {
    proxies.iter().map(|p| p.name()).collect()
}
