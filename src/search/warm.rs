//! The warm start of the proxy-guided strategies in `enas search`. `params` and `flops` come
//! from the supernet's path (`Supernet::costs`) on any space. synflow and the data proxies are
//! implemented for the NAS-Bench-201 network: on the nb201 space they score the benchmark's own
//! network, untrained, as `enas bench` and `enas proxy` do (the data proxies on one minibatch of
//! the run's training split).
use super::supernet::Supernet;
use crate::proxy::engine::ProxyEngine;
use anyhow::Result;
use enas_controller::strategy::warm;
use enas_shared::strategy_config::StrategyKind;
use enas_shared::{Config, ProxyKind, Space};
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

/// The pool of `strategy.proxy.pool` paths `kind` starts from: ranked by its proxies (best first)
/// for a proxy-guided strategy, in draw order for `sweep`; empty for the others.
pub fn ranked_pool(
    cfg: &Config,
    kind: StrategyKind,
    net: &dyn Supernet,
    rng: &mut ChaCha8Rng,
) -> Result<(Vec<Vec<usize>>, WarmCost)> {
    if !kind.uses_pool(&cfg.strategy.proxy) {
        return Ok((Vec::new(), WarmCost::default()));
    }
    let proxies = kind.proxies(&cfg.strategy.proxy);
    if proxies.is_empty() {
        let pool = warm::draw_pool(&net.space().decisions(), cfg.strategy.proxy.pool, rng)?;
        return Ok((pool, WarmCost::default()));
    }
    let proxies = proxies.as_slice();
    let nb201 = matches!(net.space(), Space::Nb201(_));
    for p in proxies {
        anyhow::ensure!(
            nb201 || SUPERNET_PROXIES.contains(p),
            "strategy.proxy: `{p}` needs the NAS-Bench-201 network; on the {} space `enas search` scores \
             arcs by {}",
            net.space().name(),
            names(&SUPERNET_PROXIES).join(" or ")
        );
    }
    let started = Instant::now();
    let pool = warm::draw_pool(&net.space().decisions(), cfg.strategy.proxy.pool, rng)?;
    let network: Vec<ProxyKind> = proxies.iter().copied().filter(|p| !SUPERNET_PROXIES.contains(p)).collect();
    let engine = match network.is_empty() {
        true => None,
        false => Some(ProxyEngine::for_config(cfg, network.iter().any(|p| p.needs_data()), true)?),
    };
    let mut scores = Vec::with_capacity(pool.len());
    for values in &pool {
        let (params, flops) = net.costs(values)?;
        let mut row = Vec::with_capacity(proxies.len());
        for p in proxies {
            row.push(match p {
                ProxyKind::Params => params as f64,
                ProxyKind::Flops => flops as f64,
                // The check above lets these through on nb201 only, where the engine was built.
                other => engine.as_ref().expect("built for network proxies").evaluate(&[*other], values)?[0].score,
            });
        }
        scores.push(row);
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
