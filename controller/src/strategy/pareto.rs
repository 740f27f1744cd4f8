//! Pareto evolution for accuracy against a cost: NSGA-II's selection (Deb et al. 2002) on
//! (reward, cost). The first `population` proposals are uniform random; after that each mutates
//! (`mutations` decisions, as regularized evolution does) a parent drawn uniformly from the
//! population's Pareto front. When a child's reward and cost come back it joins the population,
//! and if the population is over `population` the member last by non-dominated rank, then
//! crowding distance, leaves. Costs are told with each reward (`Strategy::tell_cost`); without one
//! the strategy refuses to go on. With starts (`proxy-pareto`) the first population comes from a
//! ranked pool instead of uniform draws.
use super::evolution::{new_mutant, Retries};
use super::{from_state, to_state, History, Starts, Strategy};
use enas_shared::pareto::{nsga2_order, pareto_front, Point};
use enas_shared::space::Decision;
use enas_shared::strategy_config::{EvolutionConfig, StrategyKind};
use enas_shared::{Error, Result};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

pub struct ParetoEvolution {
    kind: StrategyKind,
    decisions: Vec<Decision>,
    cfg: EvolutionConfig,
    state: ParetoState,
}

/// The population as (choices, reward, cost), and the counts evolution keeps.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct ParetoState {
    population: Vec<(Vec<usize>, f64, f64)>,
    told: usize,
    fallbacks: usize,
    stuck: bool,
    #[serde(default)]
    starts: Starts,
}

impl ParetoEvolution {
    pub fn new(decisions: Vec<Decision>, cfg: EvolutionConfig) -> ParetoEvolution {
        ParetoEvolution { kind: StrategyKind::ParetoEvolution, decisions, cfg, state: ParetoState::default() }
    }

    /// The first population comes from `starts` (best first) instead of uniform draws.
    pub fn with_starts(mut self, kind: StrategyKind, starts: Starts) -> ParetoEvolution {
        self.kind = kind;
        self.state.starts = starts;
        self
    }

    fn points(&self) -> Vec<Point> {
        self.state.population.iter().map(|(_, r, c)| (*r, vec![*c])).collect()
    }
}

impl Strategy for ParetoEvolution {
    fn kind(&self) -> StrategyKind {
        self.kind
    }

    fn propose(&mut self, history: &History, rng: &mut ChaCha8Rng) -> Result<Vec<usize>> {
        if self.state.told < self.cfg.population || self.state.population.is_empty() {
            return self.state.starts.next(&self.decisions, history, rng);
        }
        let front = pareto_front(&self.points());
        let ParetoState { population, stuck, fallbacks, .. } = &mut self.state;
        let population = &*population;
        let retries = Retries { stuck, fallbacks };
        new_mutant(&self.decisions, self.cfg.mutations, retries, history, rng, |rng| {
            &population[front[rng.random_range(0..front.len())]].0
        })
    }

    fn fallbacks(&self) -> usize {
        self.state.fallbacks
    }

    fn tell(&mut self, values: &[usize], reward: f64, rng: &mut ChaCha8Rng) -> Result<()> {
        self.tell_cost(values, reward, None, rng)
    }

    fn tell_cost(&mut self, values: &[usize], reward: f64, cost: Option<f64>, _rng: &mut ChaCha8Rng) -> Result<()> {
        let cost = cost.ok_or_else(|| {
            Error::Name(format!(
                "{} needs each query's cost: run it with enas bench --objective pareto --cost-table FILE \
                 --cost-column NAME",
                self.kind
            ))
        })?;
        self.state.told += 1;
        self.state.population.push((values.to_vec(), reward, cost));
        if self.state.population.len() > self.cfg.population {
            let worst = *nsga2_order(&self.points()).last().expect("a population");
            self.state.population.remove(worst);
        }
        Ok(())
    }

    fn state(&self) -> Result<serde_json::Value> {
        to_state(self.kind(), &self.state)
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<()> {
        self.state = from_state(self.kind(), state)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use enas_shared::space::DecisionKind;
    use rand::SeedableRng;

    fn decisions() -> Vec<Decision> {
        (0..6).map(|i| Decision { kind: DecisionKind::Op, choices: 5, label: format!("edge {i}") }).collect()
    }

    /// By hand, population 3: after (a: reward 1, cost 1), (b: 2, 2), (c: 0, 3) and (d: 3, 0.5),
    /// d dominates a and c; the fronts are [d, b] then [a] then [c]: c, last by rank, leaves.
    /// Every parent then comes from the front {d, b}: each proposal is one mutation of d or b.
    #[test]
    fn the_worst_by_rank_leaves_and_parents_come_from_the_front() {
        let cfg = EvolutionConfig { population: 3, tournament: 1, mutations: 1 };
        let mut s = ParetoEvolution::new(decisions(), cfg);
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let (a, b, c, d) = (vec![0; 6], vec![1; 6], vec![2; 6], vec![3; 6]);
        for (v, r, cost) in [(&a, 1.0, 1.0), (&b, 2.0, 2.0), (&c, 0.0, 3.0), (&d, 3.0, 0.5)] {
            s.tell_cost(v, r, Some(cost), &mut rng).unwrap();
        }
        let kept: Vec<&Vec<usize>> = s.state.population.iter().map(|m| &m.0).collect();
        assert_eq!(kept, vec![&a, &b, &d]);
        let history = History::new(false);
        for _ in 0..50 {
            let child = s.propose(&history, &mut rng).unwrap();
            let diff = |p: &[usize]| p.iter().zip(&child).filter(|(x, y)| x != y).count();
            assert!(diff(&b) == 1 || diff(&d) == 1, "{child:?} is no one-edge mutation of the front");
        }
        let e = s.tell(&a, 1.0, &mut rng).unwrap_err().to_string();
        assert!(e.contains("--objective pareto"), "{e}");
    }
}
