//! `bias/generalised`: for one sample (n = 1) and q < 2 the dual increment of
//! `d/dt R'(x) = −φ_q(a r(t))` is parallel to `φ_q(a)`, so the steepest-flow limit is the unique x
//! with `aᵀx = y` and `R'(x) − R'(x0) ∈ span(φ_q(a))` (THEORY §5, derived). This is not a
//! variational problem (no duality gap); the rows are the distance of the flow limit to the
//! predicted point and the Bregman divergence `D_R(x, x0)` of both.

use super::{default_t_end, divergence, flow_limit, one_seed, predicted_limit, regression, solve_label};
use super::{Model, Regression};
use crate::checks::{Claim, Numerics};
use crate::error::{check_positive, InputError, InputResult};
use crate::geometry::steepest_map;
use crate::verdict::{Evidence, Metric};
use schemars::JsonSchema;
use serde::Deserialize;

/// The dual directions along which `R'(x) − R'(x0)` is claimed to move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Directions {
    /// `span(φ_q(a))` (the theory).
    PhiQ,
    /// `span(a)`: the plain Bregman projection, a wrong claim for q < 2.
    A,
}

fn phi_q() -> Directions {
    Directions::PhiQ
}

fn one_sided() -> Model {
    Model::OneSided
}

fn zero() -> f64 {
    0.0
}

fn ten() -> usize {
    10
}

/// For one sample and q < 2 the steepest-flow limit is the generalised projection along φ_q(a).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Generalised {
    /// The model: `one-sided` (x = ∏w_i) or `two-sided` (x = ∏w⁺ − ∏w⁻).
    #[serde(default = "one_sided")]
    pub model: Model,
    /// Depth L ≥ 1.
    pub depth: usize,
    /// Steepest-descent exponent q ∈ [1, 2) (at q = 2, φ_q is the identity: that is `bias/bregman`).
    pub q: f64,
    /// Initial scale α > 0.
    pub alpha: f64,
    /// Imbalance λ: layer 1 starts at (α^q + λ)^{1/q}, the others at α (0: balanced).
    #[serde(default = "zero")]
    pub balance: f64,
    /// Seed of the random regression (one sample).
    #[serde(default = "one_seed")]
    pub seed: u64,
    /// Dimension d.
    #[serde(default = "ten")]
    pub dim: usize,
    /// y = aᵀx* with a k-sparse positive x* (0: Gaussian y).
    #[serde(default)]
    pub sparsity: usize,
    /// Flow horizon (the flow runs to its interpolation floor).
    #[serde(default = "default_t_end")]
    pub t_end: f64,
    /// The claimed dual directions: `phi-q` (the theory) or `a`.
    #[serde(default = "phi_q")]
    pub directions: Directions,
}

/// The tolerances of `bias/generalised`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GeneralisedTolerance {
    /// Relative distance ‖x_flow − x_pred‖/‖x_pred‖.
    pub limit: f64,
    /// Relative error of D_R(x_flow, x0) against D_R(x_pred, x0).
    pub objective: f64,
}

impl Generalised {
    fn setup(&self) -> InputResult<Regression> {
        regression(self.model, self.depth, self.q, self.alpha, self.balance, self.seed, 1, self.dim, self.sparsity)
    }
}

impl Claim for Generalised {
    const ID: &'static str = "bias/generalised";
    type Tolerance = GeneralisedTolerance;

    fn validate(&self) -> InputResult<()> {
        self.setup()?;
        if self.q >= 2.0 {
            return Err(InputError::new("q", "the generalised projection is claimed for q < 2 (q = 2: bias/bregman)"));
        }
        check_positive("t_end", self.t_end)?;
        Ok(())
    }

    fn evidence(&self, case: &str, tol: &GeneralisedTolerance, numerics: &Numerics) -> InputResult<Vec<Evidence>> {
        let s = self.setup()?;
        let (a, y) = (&s.problem.a, &s.problem.y);
        let b = match self.directions {
            Directions::PhiQ => a.map(|v| steepest_map(s.q, v)),
            Directions::A => a.clone(),
        };
        let name = match self.directions {
            Directions::PhiQ => "span(φ_q(a))",
            Directions::A => "span(a)",
        };
        let constants = &s.init.constants;
        let proj = predicted_limit(&s.model, &s.w0, s.q, constants, a, &b, y);
        let label = solve_label(&proj);
        let route_pred = format!("1-D dual Newton along {name} ({label})");
        if !proj.converged {
            let reason = format!("dual solve did not converge (residual {:.3e})", proj.residual);
            return Ok(vec![Evidence::inconclusive(case, "predicted limit", &route_pred, reason)]);
        }
        let mut rows = vec![Evidence::observe(case, "dual solve residual |aᵀx − y|", proj.residual, &route_pred)];
        let route_flow = format!("ODE in w (steepest flow, q = {}) to its interpolation floor", s.q);
        let route = format!("{route_flow} vs {route_pred}");
        match flow_limit(&s, self.t_end, None, &numerics.settings()) {
            Ok((x_flow, stats)) => {
                let d = (&x_flow - &proj.x).norm() / proj.x.norm();
                rows.push(
                    Evidence::with_error(
                        case,
                        &format!("‖x_flow − x_pred‖/‖x_pred‖, R'(x) − R'(x0) ∈ {name}"),
                        0.0,
                        d,
                        d,
                        tol.limit,
                        &route,
                    )
                    .with_stats(stats),
                );
                rows.push(Evidence::compare(
                    case,
                    "D_R(x_flow, x0) vs D_R(x_pred, x0)",
                    proj.objective,
                    divergence(&s.model, &s.w0, s.q, constants, &x_flow),
                    tol.objective,
                    Metric::Relative,
                    &route,
                ));
            }
            Err(reason) => rows.push(Evidence::inconclusive(case, "flow limit", &route_flow, reason)),
        }
        Ok(rows)
    }
}
