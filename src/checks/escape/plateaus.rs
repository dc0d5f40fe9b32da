//! `escape/plateaus`: saddle-to-saddle. On sparse regression GF's plateaus (the times between
//! successive coordinate activations `|x_j| ≥ θ`) grow like ln(1/α), and the first has slope
//! `1/max_j(−∇f(0)_j)` in ln(1/α) (L = 2: `x_j = α² e^{−2 g_j(0) t}` while x ≈ 0); SignGF's
//! activation times stay bounded (THEORY §4; Pesme & Flammarion 2023).

use super::{label, passage, regime_code};
use crate::checks::{Claim, Numerics};
use crate::error::{check_depth, check_positive, InputError, InputResult};
use crate::escape::{fit_line, increment_exponent, Regime};
use crate::flow::{Flow, SteepestFlow, WeightDecay};
use crate::ode::{Settings, Stats};
use crate::problem::Problem;
use crate::reparam::{DeepDiagonal, Initialization};
use crate::verdict::{Evidence, Metric};
use nalgebra::DVector;
use schemars::JsonSchema;
use serde::Deserialize;

/// A claimed growth regime of activation times as α → 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum GrowthRegime {
    /// Bounded as α → 0.
    Bounded,
    /// Growing like ln(1/α).
    Logarithmic,
    /// Growing like a power of 1/α.
    Power,
}

/// GF plateaus grow like ln(1/α) on sparse regression; SignGF's activation times stay bounded.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Plateaus {
    /// Depth L ≥ 2.
    #[serde(default = "two")]
    pub depth: usize,
    /// Geometric α sweep `first:last:count` (count ≥ 3).
    pub alphas: String,
    /// Activation threshold θ > 0 on |x_j|.
    #[serde(default = "tenth")]
    pub level: f64,
    /// Number of successive activations measured.
    #[serde(default = "three")]
    pub activations: usize,
    /// Horizon of the flows.
    pub t_end: f64,
    /// Seed of the sparse regression (3-sparse teacher).
    #[serde(default = "one")]
    pub seed: u64,
    /// Number of samples n.
    #[serde(default = "fifteen")]
    pub samples: usize,
    /// Dimension d.
    #[serde(default = "forty")]
    pub dim: usize,
    /// The claimed regime of SignGF's activation times (theory: bounded).
    #[serde(default = "bounded")]
    pub signgf_regime: GrowthRegime,
    /// The claimed regime of GF's plateaus (theory: logarithmic).
    #[serde(default = "logarithmic")]
    pub gf_regime: GrowthRegime,
}

fn two() -> usize {
    2
}
fn three() -> usize {
    3
}
fn one() -> u64 {
    1
}
fn fifteen() -> usize {
    15
}
fn forty() -> usize {
    40
}
fn tenth() -> f64 {
    0.1
}
fn bounded() -> GrowthRegime {
    GrowthRegime::Bounded
}
fn logarithmic() -> GrowthRegime {
    GrowthRegime::Logarithmic
}

/// The tolerances of the plateaus claim.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlateausTolerance {
    /// Relative error of the first plateau's slope in ln(1/α).
    pub escape: f64,
    /// |κ| below this counts as logarithmic growth (exponent 0).
    pub regime: f64,
}

/// Successive activation times of a flow on a regression: the k-th is the first time a coordinate
/// not yet active reaches `|x_j| ≥ θ` (located by [`crate::escape::first_passage`]).
fn activation_times(
    flow: &dyn Flow,
    w0: &DVector<f64>,
    theta: f64,
    count: usize,
    horizon: f64,
    settings: &Settings,
) -> Result<(Vec<f64>, Stats), String> {
    let model_x = |w: &DVector<f64>| flow.predictor(w);
    let (mut w, mut t, mut active, mut times) = (w0.clone(), 0.0, Vec::<usize>::new(), Vec::new());
    let mut stats = Stats::default();
    for _ in 0..count {
        let act = active.clone();
        let level = move |w: &DVector<f64>| {
            let x = model_x(w);
            (0..x.len()).filter(|j| !act.contains(j)).map(|j| x[j].abs()).fold(f64::NEG_INFINITY, f64::max) - theta
        };
        let run = passage(flow, &w, &level, horizon - t, settings)
            .map_err(|e| format!("activation {}: {e}", times.len() + 1))?;
        stats += run.stats;
        t += run.time;
        let x = flow.predictor(&run.state);
        let j = (0..x.len()).filter(|j| !active.contains(j)).max_by(|a, b| x[*a].abs().total_cmp(&x[*b].abs()));
        active.push(j.ok_or("no coordinate left to activate")?);
        times.push(t);
        w = run.state;
    }
    Ok((times, stats))
}

impl Claim for Plateaus {
    const ID: &'static str = "escape/plateaus";
    type Tolerance = PlateausTolerance;

    fn validate(&self) -> InputResult<()> {
        check_depth("depth", self.depth as i64)?;
        if self.depth < 2 {
            return Err(InputError::new("depth", "plateaus need depth L ≥ 2"));
        }
        super::alpha_sweep(&self.alphas)?;
        check_positive("level", self.level)?;
        check_positive("t_end", self.t_end)?;
        crate::problem::check_size(self.samples, self.dim)?;
        if self.activations == 0 || self.activations > self.dim {
            return Err(InputError::new("activations", format!("must lie in [1, dim = {}]", self.dim)));
        }
        Ok(())
    }

    fn evidence(&self, case: &str, tol: &PlateausTolerance, numerics: &Numerics) -> InputResult<Vec<Evidence>> {
        let depth = self.depth;
        let alphas = super::alpha_sweep(&self.alphas)?;
        let (theta, count, d) = (self.level, self.activations, self.dim);
        let problem = Problem::random_regression(self.seed, self.samples, d, 3);
        let model = DeepDiagonal::new(depth, d);
        let settings = numerics.settings();
        let mut rows = Vec::new();
        for (name, q, claimed) in [("GF", 2.0, self.gf_regime), ("SignGF", 1.0, self.signgf_regime)] {
            let flow = SteepestFlow { problem: &problem, model: &model, q, decay: WeightDecay::None };
            let route = format!("{name} parameter flow, activation |x_j| ≥ {theta} located by Brent");
            let mut all = Vec::new();
            for &alpha in &alphas {
                let w0 = model.init(&Initialization::balanced(alpha, depth), q)?;
                let case = label(case, &format!("{name} α={alpha:e}"));
                match activation_times(&flow, &w0, theta, count, self.t_end, &settings) {
                    Ok((times, stats)) => {
                        for (k, t) in times.iter().enumerate() {
                            let len = if k == 0 { *t } else { t - times[k - 1] };
                            let quantity = format!("plateau {} length", k + 1);
                            rows.push(Evidence::observe(&case, &quantity, len, &route).with_stats(stats));
                        }
                        all.push(times);
                    }
                    Err(reason) => rows.push(Evidence::inconclusive(&case, "activation times", &route, reason)),
                }
            }
            if all.len() != alphas.len() {
                continue;
            }
            // growth of each plateau length with ln(1/α): the exponent of its increments (0: ln(1/α))
            let want = match claimed {
                GrowthRegime::Bounded => Regime::Bounded,
                GrowthRegime::Logarithmic => Regime::Logarithmic,
                GrowthRegime::Power => Regime::Power,
            };
            for k in 0..count {
                let lengths: Vec<f64> = all.iter().map(|t| if k == 0 { t[0] } else { t[k] - t[k - 1] }).collect();
                let code = regime_code(want);
                let longest = all.iter().flatten().fold(0.0, |m: f64, t| m.max(*t));
                let (measured, how) = if lengths.iter().all(|l| *l <= 1e-9 * longest) {
                    // simultaneous activation (SignGF: every |w_j| with the same gradient sign grows at
                    // rate 1): no plateau at any α, bounded trivially
                    (-1.0, "no plateau: the activations coincide at every α".to_string())
                } else {
                    let kappa = increment_exponent(&alphas, &lengths).slope;
                    let m = if kappa.abs() <= tol.regime { 0.0 } else { kappa.signum() };
                    (m, format!("increment exponent {kappa:.3} of the lengths over α (|κ| ≤ {}: ln(1/α))", tol.regime))
                };
                rows.push(Evidence::with_error(
                    &label(case, name),
                    &format!("plateau {} growth regime (−1 bounded, 0 ln(1/α), 1 power)", k + 1),
                    code,
                    measured,
                    (code - measured).abs(),
                    0.5,
                    &how,
                ));
            }
            if q == 2.0 && depth == 2 {
                // first plateau of GF on u⊙v: x_j = α² e^{−2 g_j(0) t} while x ≈ 0, so
                // t_1 = ln(θ/α²)/(2 max_j(−g_j(0))): slope 1/max_j(−g_j(0)) against ln(1/α)
                let g0 = problem.gradient(&DVector::zeros(d));
                let rate = g0.iter().map(|g| -g).fold(f64::NEG_INFINITY, f64::max);
                let pts: Vec<(f64, f64)> = alphas.iter().zip(&all).map(|(a, t)| ((1.0 / a).ln(), t[0])).collect();
                rows.push(Evidence::compare(
                    &label(case, "GF"),
                    "slope of the first plateau vs ln(1/α): 1/max(−∇f(0))",
                    1.0 / rate,
                    fit_line(&pts).slope,
                    tol.escape,
                    Metric::Relative,
                    "least-squares fit of activation times vs the linearisation at x = 0",
                ));
            }
        }
        Ok(rows)
    }
}
