//! `weight-decay/time-mirror`: on u⊙v (L = 2) with decoupled decay μ, the imbalance follows
//! `λ(t) = λ_0 e^{−qμt}` and `d/dt R'_{λ(t)}(x) = −φ_q(∇f(x))` with the λ-balanced potential
//! (THEORY §6, §8, §9: Jacobs, Zhou, Burkholz, *Mirror, Mirror of the Flow*, arXiv 2504.12883, for
//! GF). The identity holds for q = 2 only; for q < 2 the mismatch is measured (a refuted card).

use super::{design, one_u64, WeightDecayTolerance};
use crate::checks::{Claim, Numerics};
use crate::error::{check_positive, check_q, finite, InputError, InputResult};
use crate::flow::{Flow, SteepestFlow, WeightDecay};
use crate::geometry::steepest_map;
use crate::ode::sample_times;
use crate::potential::{LambdaBalanced, Potential};
use crate::problem::check_size;
use crate::reparam::{DeepDiagonal, Initialization, Reparameterization};
use crate::verdict::{worst, worst_abs, Evidence};
use nalgebra::DVector;
use schemars::JsonSchema;
use serde::Deserialize;

/// Decoupled decay on u⊙v is a mirror flow with the time-dependent potential `R_{λ_0 e^{−qμt}}`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeMirror {
    /// Steepest-descent exponent q ∈ [1, 2] (the identity holds at q = 2).
    pub q: f64,
    /// Decoupled weight decay μ > 0.
    pub weight_decay: f64,
    /// Initial scale α > 0.
    pub alpha: f64,
    /// Initial imbalance λ_0 ≠ 0 (u at (α^q + λ_0)^{1/q}, v at α), λ_0 > −α^q.
    pub balance: f64,
    /// Targets b (one: scalar loss; several: dense orthonormal design, f = ½‖x − b‖² + const).
    pub targets: Vec<f64>,
    /// Seed of the design.
    #[serde(default = "one_u64")]
    pub seed: u64,
    /// Horizon: the identity is tested at 20 times in (0, t_end].
    pub t_end: f64,
}

impl TimeMirror {
    fn init(&self) -> InputResult<(DeepDiagonal, DVector<f64>)> {
        let model = DeepDiagonal::new(2, self.targets.len());
        let w0 = model
            .init(&Initialization::lambda(self.alpha, 2, self.balance), self.q)
            .map_err(|e| InputError::new("balance", e.message))?;
        Ok((model, w0))
    }
}

impl Claim for TimeMirror {
    const ID: &'static str = "weight-decay/time-mirror";
    type Tolerance = WeightDecayTolerance;

    fn validate(&self) -> InputResult<()> {
        check_q("q", self.q)?;
        check_positive("weight_decay", self.weight_decay)?;
        check_positive("alpha", self.alpha)?;
        check_positive("t_end", self.t_end)?;
        if finite("balance", self.balance)? == 0.0 {
            return Err(InputError::new("balance", "the time-dependent potential needs λ_0 ≠ 0"));
        }
        if self.targets.is_empty() {
            return Err(InputError::new("targets", "at least one target is needed"));
        }
        for &b in &self.targets {
            finite("targets", b)?;
        }
        check_size(self.targets.len() + 2, self.targets.len()).map_err(|e| InputError::new("targets", e.message))?;
        self.init().map(|_| ())
    }

    fn evidence(&self, case: &str, tol: &WeightDecayTolerance, numerics: &Numerics) -> InputResult<Vec<Evidence>> {
        let (q, mu, lambda0) = (self.q, self.weight_decay, self.balance);
        let problem = design(&self.targets, self.seed);
        let (model, w0) = self.init()?;
        let flow = SteepestFlow { problem: &problem, model: &model, q, decay: WeightDecay::Decoupled(mu) };
        // central differences of R'_{λ(t)}(x(t)) with h = 1e−3: truncation error h²/6·|d³/dt³| ≈ 1e−7
        let h = 1e-3;
        let centres = sample_times(self.t_end, 20);
        let mut times = Vec::new();
        for &t in &centres[1..] {
            times.extend([t - h, t, t + h]);
        }
        let route = "ODE in w; R'_λ by closed form (q = 2) or quadrature of R''; central differences in t";
        let tr = match flow.run(&w0, &times, None, &numerics.settings()) {
            Ok(t) => t,
            Err(e) => return Ok(vec![Evidence::inconclusive(case, "mirror identity", route, e.to_string())]),
        };
        // R'_{λ(t)}(x) with λ(t) = |λ_0| e^{−qμt} (THEORY §8: |λ| in the potential)
        let dual = |t: f64, w: &DVector<f64>| {
            let pot = LambdaBalanced { q, lambda: lambda0.abs() * (-q * mu * t).exp() };
            model.x(w).map(|x| pot.grad(x))
        };
        let (mut mismatch, mut scale, mut lam_err): (f64, f64, f64) = (0.0, 0.0, 0.0);
        for i in 0..centres.len() - 1 {
            let (a, m, b) = (1 + 3 * i, 2 + 3 * i, 3 + 3 * i);
            let lhs = (dual(tr.t[b], &tr.y[b]) - dual(tr.t[a], &tr.y[a])) / (tr.t[b] - tr.t[a]);
            let g = problem.gradient(&model.x(&tr.y[m]));
            let rhs = g.map(|v| -steepest_map(q, v));
            mismatch = worst(mismatch, worst_abs(&(lhs - &rhs)));
            scale = scale.max(rhs.amax());
            let measured = model.balances(&tr.y[m], q);
            let pred = lambda0 * (-q * mu * tr.t[m]).exp();
            lam_err = worst(lam_err, worst_abs(&measured.map(|v| v - pred)) / lambda0.abs());
        }
        let mismatch = mismatch / scale;
        Ok(vec![
            Evidence::with_error(case, "λ(t) vs λ_0 e^(−qμt) (relative)", 0.0, lam_err, lam_err, tol.wd, route)
                .with_stats(tr.stats),
            Evidence::with_error(
                case,
                "max |d/dt R'_λ(t)(x) + φ_q(g)| / max|φ_q(g)|",
                0.0,
                mismatch,
                mismatch,
                tol.wd,
                route,
            ),
        ])
    }
}
