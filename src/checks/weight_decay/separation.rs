//! `weight-decay/separation`: coupled SignGF (Adam + L2) ends at the stationary point of
//! `f + (μL/2)|x|^{2/L}` (L = 2: `b − μ`), decoupled SignGF (AdamW) at `min(b, μ^{−L})` (THEORY §6).
//! Which limit is closer to the target b separates the two: decoupled for b inside `(μ, μ^{−L})`,
//! coupled above `μ^{−L}`.

use super::equilibria::{flow_limit, limit_rows, SETTLED};
use super::{horizon, one_u64, Decay, Limit, Regression, WeightDecayTolerance};
use crate::checks::{Claim, Numerics};
use crate::error::{check_positive, InputResult};
use crate::verdict::{Evidence, Metric};
use schemars::JsonSchema;
use serde::Deserialize;

/// Which SignGF limit is claimed to end closer to the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Closer {
    /// The theory: decoupled for b ∈ (μ, μ^{−L}), coupled for b > μ^{−L}, a tie (both 0 or both b
    /// up to the tolerance) otherwise.
    ByRegime,
    /// Coupled decay ends closer for every target.
    CoupledCloser,
    /// Decoupled decay ends closer for every target.
    DecoupledCloser,
}

fn by_regime() -> Closer {
    Closer::ByRegime
}

/// Coupled and decoupled SignGF limits match their predictions, and the closer one is the predicted one.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Separation {
    /// Depth L ≥ 1.
    pub depth: usize,
    /// Balanced initial scale α > 0.
    pub alpha: f64,
    /// Weight decay μ > 0.
    pub weight_decay: f64,
    /// Targets b > 0 (one: scalar loss; several: dense orthonormal design).
    pub targets: Vec<f64>,
    /// Seed of the design (several targets).
    #[serde(default = "one_u64")]
    pub seed: u64,
    /// Flow horizon.
    #[serde(default = "horizon")]
    pub t_end: f64,
    /// The claimed closer limit (theory: `by-regime`).
    #[serde(default = "by_regime")]
    pub prediction: Closer,
}

impl Claim for Separation {
    const ID: &'static str = "weight-decay/separation";
    type Tolerance = WeightDecayTolerance;

    fn validate(&self) -> InputResult<()> {
        check_positive("t_end", self.t_end)?;
        Regression::new(&self.targets, self.seed, self.depth, self.alpha, self.weight_decay, 1.0).map(|_| ())
    }

    fn evidence(&self, case: &str, tol: &WeightDecayTolerance, numerics: &Numerics) -> InputResult<Vec<Evidence>> {
        let r = Regression::new(&self.targets, self.seed, self.depth, self.alpha, self.weight_decay, 1.0)?;
        let (mu, t_end, tol) = (r.mu, self.t_end, tol.wd);
        let mut rows =
            limit_rows(&r, Decay::Coupled, Limit::Stationary, t_end, &format!("{case} coupled"), tol, numerics);
        rows.extend(limit_rows(
            &r,
            Decay::Decoupled,
            Limit::Stationary,
            t_end,
            &format!("{case} decoupled"),
            tol,
            numerics,
        ));
        let settings = numerics.settings();
        let (Ok((xc, _, mc)), Ok((xd, _, md))) = (
            flow_limit(&r, Decay::Coupled.with(mu), t_end, &settings),
            flow_limit(&r, Decay::Decoupled.with(mu), t_end, &settings),
        ) else {
            return Ok(rows); // the limit rows above are INCONCLUSIVE with the reason
        };
        if mc.max(md) > SETTLED * xc.amax().max(xd.amax()).max(1.0) {
            return Ok(rows);
        }
        let box_edge = mu.powf(-(self.depth as f64));
        for (k, &b) in r.targets.iter().enumerate() {
            // +1: decoupled ends closer to the target, −1: coupled does, 0: a tie
            let predicted = match self.prediction {
                Closer::CoupledCloser => -1.0,
                Closer::DecoupledCloser => 1.0,
                Closer::ByRegime if b > mu && b < box_edge => 1.0,
                Closer::ByRegime if b > box_edge => -1.0,
                Closer::ByRegime => 0.0,
            };
            let gap = (b - xc[k]).abs() - (b - xd[k]).abs();
            let measured = if gap.abs() <= tol * b.max(1.0) { 0.0 } else { gap.signum() };
            let quantity = format!("closer to target {b}: +1 decoupled, −1 coupled, 0 tie");
            let route = "coupled vs decoupled SignGF limits (ODE in w, events)";
            // codes differ by at least 1: any tolerance below 1 compares them exactly
            rows.push(Evidence::compare(case, &quantity, predicted, measured, 0.5, Metric::Absolute, route));
        }
        Ok(rows)
    }
}
