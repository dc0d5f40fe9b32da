//! `literature/saddle-to-saddle` (Pesme & Flammarion, NeurIPS 2023, Algorithm 1; THEORY §5.12):
//! gradient flow of the two-sided depth-2 model `x = w⁺₁w⁺₂ − w⁻₁w⁻₂` from the balanced start α on
//! `f = ½‖Ax − y‖²`, in the rescaled time `τ = t/ln(1/α)`, tends as α → 0 to the saddle-to-saddle
//! process: x jumps between minimisers of f over sign-constrained faces at the times where the
//! piecewise-linear dual `s(τ) = s_k − (τ − τ_k)∇f(x_k)` reaches ±1 in a new coordinate.
//!
//! Routes: Algorithm 1 ([`crate::saddle`]: closed-form jump times, Lawson–Hanson saddles) against
//! the flow integrated in its mirror variable `s = θ/(2 ln(1/α))`, `ds/dτ = −∇f(x(s))`,
//! `x_i = 2α² sinh(2 ln(1/α) s_i)` (Dop853; not stiff at any α, so α = 1e-40 is cheap), itself
//! checked against the engine's parameter flow of the two-sided model at a moderate α.
//! - jump times: the first passage of the loss through the midpoint of consecutive saddle losses at
//!   the two smallest α, extrapolated linearly in 1/ln(1/α) (the finite-α offset is C_k/ln(1/α) up
//!   to exponentially small terms), against τ_k;
//! - mid-plateau: the distance to the saddle at the smallest α against the size the dual predicts
//!   for the inactive coordinates, `max_i 2α² sinh(2 ln(1/α)|s_i(τ)|)` (a log10 ratio), and the
//!   exponent of each inactive coordinate in α (between the two smallest α) against `2(1 − |s_i(τ)|)`.

use super::label;
use crate::checks::{Claim, Numerics};
use crate::error::{check_positive, InputError, InputResult};
use crate::escape::first_passage;
use crate::flow::{Flow, SteepestFlow, WeightDecay};
use crate::ode::{integrate, Settings, Stop};
use crate::problem::{Loss, Problem};
use crate::reparam::{DeepDiagonal, Initialization, Reparameterization};
use crate::saddle::{dual_field, loss, predictor, saddle_to_saddle, Face, SaddleToSaddle};
use crate::verdict::{Evidence, Metric};
use nalgebra::{DMatrix, DVector};
use schemars::JsonSchema;
use serde::Deserialize;

/// The data of a grid point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Data {
    /// A = [[−½, 3/2, 0], [−½, ½, 3/2], [−1, 0, −½]], y = (−½, 3/2, ½): three jumps (coordinates
    /// 3, 1, 2 with mixed signs), each saddle keeps the previous support, the last interpolates.
    MixedSigns,
    /// A = [[0, −1, ½], [1, −5/2, 0]], y = (½, −3/2): jumps at τ = 4/13, 19/11, 30/11; at the second
    /// jump coordinate 2 leaves the support (x₂: 0.448 → 0) and its dual moves back inside.
    Deactivation,
}

/// The time rescaling claimed to give the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TimeScale {
    /// `τ = t/ln(1/α)` (THEORY §5.12).
    LnInverseAlpha,
    /// `τ = t/(2 ln(1/α))` (a wrong claim: halves every jump time).
    TwoLnInverseAlpha,
}

/// The face the claimed saddles minimise f over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FaceClaim {
    /// `x_i ≥ 0` where s_i = 1, `≤ 0` where s_i = −1, 0 elsewhere (Algorithm 1).
    SignConstrained,
    /// Least squares on the active coordinates without sign constraints (a wrong claim).
    Unconstrained,
}

fn ln_inverse_alpha() -> TimeScale {
    TimeScale::LnInverseAlpha
}

fn sign_constrained() -> FaceClaim {
    FaceClaim::SignConstrained
}

fn default_alphas() -> Vec<f64> {
    vec![1e-6, 1e-10, 1e-20, 1e-40]
}

fn two() -> f64 {
    2.0
}

fn default_model_alpha() -> f64 {
    1e-3
}

/// GF on the two-sided depth-2 model at small α against Algorithm 1 of Pesme & Flammarion (2023).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SaddleToSaddleClaim {
    /// The problem (A, y) of f = ½‖Ax − y‖².
    pub data: Data,
    /// Initial scales α, decreasing, each in [1e-150, 1e-3] (2 to 6 of them): the exponent of the
    /// mid-plateau distance is measured between the first two, the jump times are extrapolated in
    /// 1/ln(1/α) and the inactive exponents measured between the last two, and
    /// (τ_k(α) − τ_k)·ln(1/α) is reported at each.
    #[serde(default = "default_alphas")]
    pub alphas: Vec<f64>,
    /// α of the cross-check of the mirror-variable integration against the engine's parameter flow
    /// of the two-sided depth-2 model (in [1e-6, 0.1]).
    #[serde(default = "default_model_alpha")]
    pub model_alpha: f64,
    /// The claimed time rescaling.
    #[serde(default = "ln_inverse_alpha")]
    pub time_scale: TimeScale,
    /// The claimed faces of the saddles.
    #[serde(default = "sign_constrained")]
    pub face: FaceClaim,
    /// The claimed power c of an inactive coordinate, |x_i(τ)| ~ α^{c(1 − |s_i(τ)|)} (the theory:
    /// c = 2, from x_i = 2α² sinh(2 ln(1/α) s_i)).
    #[serde(default = "two")]
    pub size_power: f64,
}

/// The tolerances of `literature/saddle-to-saddle`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SaddleTolerance {
    /// Absolute error of the jump time τ_k extrapolated in 1/ln(1/α).
    pub time: f64,
    /// Absolute error of the exponent of ‖x(τ_mid) − x_k‖∞ in α (between the first two α).
    pub plateau: f64,
    /// Absolute error of an inactive coordinate's exponent in α against c(1 − |s_i(τ_mid)|).
    pub exponent: f64,
    /// Largest |x| difference between the mirror-variable integration and the parameter flow.
    pub model: f64,
}

impl Data {
    /// (A, y).
    pub fn problem(self) -> Problem {
        let (rows, y): (Vec<Vec<f64>>, Vec<f64>) = match self {
            Data::MixedSigns => {
                (vec![vec![-0.5, 1.5, 0.0], vec![-0.5, 0.5, 1.5], vec![-1.0, 0.0, -0.5]], vec![-0.5, 1.5, 0.5])
            }
            Data::Deactivation => (vec![vec![0.0, -1.0, 0.5], vec![1.0, -2.5, 0.0]], vec![0.5, -1.5]),
        };
        let a = DMatrix::from_fn(rows.len(), rows[0].len(), |i, j| rows[i][j]);
        Problem { a, y: DVector::from_vec(y), loss: Loss::Squared }
    }
}

/// What the mirror-variable integration gives at one α.
struct Measured {
    /// ln(1/α).
    l: f64,
    /// Loss-midpoint passage times per jump, in the claimed time.
    passages: Vec<f64>,
    /// x at the mid-plateau times (claimed time), one per plateau k = 1..K.
    plateau_x: Vec<DVector<f64>>,
}

/// The two exponents of the mid-plateau distance `‖x(τ) − x_k‖∞ ~ α^e` (THEORY §5.12): the inactive
/// coordinates `2(1 − max_i |s_i(τ)|)` (∞ if none) and the transient of the active ones
/// `2λ_min(τ − τ_k)`, λ_min the smallest eigenvalue of `D^{½} A_SᵀA_S D^{½}`, D = diag|x_k| on the
/// support S of x_k (∞ if x_k = 0).
fn deviation_exponents(p: &Problem, limit: &SaddleToSaddle, k: usize, tau: f64, c: f64) -> (f64, f64) {
    let saddle = limit.saddle_at(tau);
    let s = limit.dual_at(p, tau);
    let inactive = (0..s.len()).filter(|&i| saddle[i] == 0.0).map(|i| c * (1.0 - s[i].abs()));
    let e_inactive = inactive.fold(f64::INFINITY, f64::min);
    let support: Vec<usize> = (0..s.len()).filter(|&i| saddle[i] != 0.0).collect();
    if support.is_empty() {
        return (e_inactive, f64::INFINITY);
    }
    let m = DMatrix::from_fn(support.len(), support.len(), |r, c| {
        let (i, j) = (support[r], support[c]);
        (saddle[i].abs() * saddle[j].abs()).sqrt() * p.a.column(i).dot(&p.a.column(j))
    });
    let lambda = m.symmetric_eigen().eigenvalues.min();
    (e_inactive, 2.0 * lambda * (tau - limit.times[k - 1]))
}

/// The mid-plateau times: `(τ_k + τ_{k+1})/2` for k < K and `τ_K + ½` after the last jump.
fn plateau_times(limit: &SaddleToSaddle) -> Vec<f64> {
    let k = limit.jumps();
    let t = &limit.times;
    (0..k).map(|j| if j + 1 < k { 0.5 * (t[j] + t[j + 1]) } else { t[j] + 0.5 }).collect()
}

impl SaddleToSaddleClaim {
    /// Factor between the actual τ = t/ln(1/α) and the claimed time.
    fn kappa(&self) -> f64 {
        match self.time_scale {
            TimeScale::LnInverseAlpha => 1.0,
            TimeScale::TwoLnInverseAlpha => 2.0,
        }
    }

    /// Integrates `ds/dτ = −∇f(x(s))` at ln(1/α) = l: the passages of the loss through the
    /// midpoints of the claimed saddle losses, and x at the claimed mid-plateau times.
    fn measure(&self, p: &Problem, limit: &SaddleToSaddle, l: f64, settings: &Settings) -> Result<Measured, String> {
        let kappa = self.kappa();
        let rhs = dual_field(p, l);
        let advance = |y: &DVector<f64>, dt: f64, stop: Option<&Stop<'_>>, st: &Settings| {
            integrate(&rhs, y, 0.0, &[dt], stop, st)
        };
        let mut state = DVector::zeros(p.a.ncols());
        let mut elapsed = 0.0;
        let mut passages = Vec::new();
        for k in 1..=limit.jumps() {
            let before = if k == 1 { limit.initial_loss } else { limit.losses[k - 2] };
            let mid = 0.5 * (before + limit.losses[k - 1]);
            let level = |s: &DVector<f64>| mid - loss(&p.a, &p.y, &predictor(l, s));
            let horizon = (2.0 * kappa * limit.times[k - 1] + 1.0 - elapsed).max(1.0);
            let passage =
                first_passage(&advance, &state, &level, horizon, settings).map_err(|e| format!("passage {k}: {e}"))?;
            elapsed += passage.time;
            state = passage.state;
            passages.push(elapsed / kappa);
        }
        let times: Vec<f64> = plateau_times(limit).iter().map(|t| kappa * t).collect();
        let tr = integrate(&rhs, &DVector::zeros(p.a.ncols()), 0.0, &times, None, settings)
            .map_err(|e| format!("mid-plateau run: {e}"))?;
        let plateau_x = tr.y.iter().skip(1).map(|s| predictor(l, s)).collect();
        Ok(Measured { l, passages, plateau_x })
    }

    /// The largest |x| difference between the mirror integration and the engine's parameter flow
    /// of the two-sided depth-2 model (balanced α = model_alpha) at t = ln(1/α)·τ_mid.
    fn model_gap(&self, p: &Problem, limit: &SaddleToSaddle, settings: &Settings) -> Result<f64, String> {
        let l = -self.model_alpha.ln();
        let d = p.a.ncols();
        let model = DeepDiagonal::two_sided(2, d);
        let flow = SteepestFlow { problem: p, model: &model, q: 2.0, decay: WeightDecay::None };
        let w0 = model.init(&Initialization::balanced(self.model_alpha, 2), 2.0).map_err(|e| e.message)?;
        let taus = plateau_times(limit);
        let ts: Vec<f64> = taus.iter().map(|t| l * t).collect();
        let wt = flow.run(&w0, &ts, None, settings).map_err(|e| format!("parameter flow: {e}"))?;
        let st = integrate(&dual_field(p, l), &DVector::zeros(d), 0.0, &taus, None, settings)
            .map_err(|e| format!("mirror run: {e}"))?;
        let gap =
            wt.y.iter().zip(&st.y).skip(1).map(|(w, s)| (model.x(w) - predictor(l, s)).amax()).fold(0.0, f64::max);
        Ok(gap)
    }
}

impl Claim for SaddleToSaddleClaim {
    const ID: &'static str = "literature/saddle-to-saddle";
    type Tolerance = SaddleTolerance;

    fn validate(&self) -> InputResult<()> {
        if !(2..=6).contains(&self.alphas.len()) {
            return Err(InputError::new("alphas", "give 2 to 6 initial scales"));
        }
        for &a in &self.alphas {
            check_positive("alphas", a)?;
            if !(1e-150..=1e-3).contains(&a) {
                return Err(InputError::new("alphas", format!("{a:e} is outside [1e-150, 1e-3]")));
            }
        }
        if self.alphas.windows(2).any(|w| w[1] >= w[0]) {
            return Err(InputError::new("alphas", "the scales must decrease"));
        }
        check_positive("model_alpha", self.model_alpha)?;
        check_positive("size_power", self.size_power)?;
        if !(1e-6..=0.1).contains(&self.model_alpha) {
            return Err(InputError::new("model_alpha", "must lie in [1e-6, 0.1] (the parameter flow is stiff below)"));
        }
        Ok(())
    }

    fn evidence(&self, case: &str, tol: &SaddleTolerance, numerics: &Numerics) -> InputResult<Vec<Evidence>> {
        let settings = numerics.settings();
        let p = self.data.problem();
        let truth = saddle_to_saddle(&p, 50, Face::SignConstrained)?;
        let face = match self.face {
            FaceClaim::SignConstrained => Face::SignConstrained,
            FaceClaim::Unconstrained => Face::Unconstrained,
        };
        let claimed = saddle_to_saddle(&p, 50, face)?;
        let case = label(case, "");
        let mut rows = Vec::new();
        let algo = "Algorithm 1 (closed-form jumps, Lawson–Hanson saddles)";
        rows.push(Evidence::observe(&case, "jumps K of Algorithm 1", claimed.jumps() as f64, algo));
        // the mirror integration is the engine's two-sided depth-2 model
        let route = format!("s-integration vs parameter flow of x = w⁺₁w⁺₂ − w⁻₁w⁻₂ at α = {:e}", self.model_alpha);
        let quantity = "max |x| mirror variable − parameters at the mid-plateau times";
        match self.model_gap(&p, &truth, &settings) {
            Ok(gap) => rows.push(Evidence::with_error(&case, quantity, 0.0, gap, gap, tol.model, &route)),
            Err(e) => rows.push(Evidence::inconclusive(&case, quantity, &route, e)),
        }
        let mut runs = Vec::new();
        for &alpha in &self.alphas {
            match self.measure(&p, &claimed, -alpha.ln(), &settings) {
                Ok(m) => runs.push(m),
                Err(e) => {
                    rows.push(Evidence::inconclusive(&case, &format!("flow at α = {alpha:e}"), "Dop853 in s", e));
                    return Ok(rows);
                }
            }
        }
        let (fine, finer) = (&runs[runs.len() - 2], &runs[runs.len() - 1]);
        // jump times: extrapolation in 1/ln(1/α) from the two smallest α
        for k in 1..=claimed.jumps() {
            let tk = claimed.times[k - 1];
            for m in &runs {
                rows.push(Evidence::observe(
                    &case,
                    &format!("(τ_{k}(α) − τ_{k})·ln(1/α) at ln(1/α) = {:.2}", m.l),
                    (m.passages[k - 1] - tk) * m.l,
                    "loss-midpoint passage of the s-integration",
                ));
            }
            let (t2, t3) = (fine.passages[k - 1], finer.passages[k - 1]);
            let extrapolated = (finer.l * t3 - fine.l * t2) / (finer.l - fine.l);
            rows.push(Evidence::compare(
                &case,
                &format!("τ_{k}"),
                tk,
                extrapolated,
                tol.time,
                Metric::Absolute,
                &format!(
                    "{algo} vs loss-midpoint passages at ln(1/α) = {:.2}, {:.2} extrapolated in 1/ln(1/α)",
                    fine.l, finer.l
                ),
            ));
        }
        // mid-plateau: distance to the saddle against the dual's prediction, exponents in α
        for (j, tau) in plateau_times(&claimed).iter().enumerate() {
            let k = j + 1;
            let saddle = claimed.saddle_at(*tau);
            let s = claimed.dual_at(&p, *tau);
            let inactive: Vec<usize> = (0..s.len()).filter(|&i| saddle[i] == 0.0 && s[i] != 0.0).collect();
            let (e_inactive, e_transient) = deviation_exponents(&p, &claimed, k, *tau, self.size_power);
            let want = e_inactive.min(e_transient);
            let (a, b) = (&runs[0], &runs[1]);
            let (da, db) = ((&a.plateau_x[j] - &saddle).amax(), (&b.plateau_x[j] - &saddle).amax());
            let measured = (da.ln() - db.ln()) / (b.l - a.l);
            rows.push(Evidence::observe(
                &case,
                &format!("plateau {k}: ‖x(τ) − x_{k}‖∞ at ln(1/α) = {:.2}", a.l),
                da,
                "s-integration vs Algorithm 1's saddle",
            ));
            rows.push(Evidence::compare(
                &case,
                &format!(
                    "plateau {k} (τ = {tau:.4}): exponent of ‖x − x_{k}‖∞ in α vs min(c(1 − max_inactive|s_i|) = {e_inactive:.4}, 2λ_min(τ − τ_{k}) = {e_transient:.4})"
                ),
                want,
                measured,
                tol.plateau,
                Metric::Absolute,
                &format!("Algorithm 1's saddle, dual and face Hessian vs s-integration at ln(1/α) = {:.2}, {:.2}", a.l, b.l),
            ));
            let (mut worst, mut at) = (0.0f64, (f64::NAN, f64::NAN));
            for &i in &inactive {
                let (a2, a3) = (fine.plateau_x[j][i].abs(), finer.plateau_x[j][i].abs());
                let measured = (a2.ln() - a3.ln()) / (finer.l - fine.l);
                let want = self.size_power * (1.0 - s[i].abs());
                let e = (measured - want).abs();
                if e.is_nan() || e > worst || at.0.is_nan() {
                    worst = if e.is_nan() { f64::NAN } else { e.max(worst) };
                    at = (want, measured);
                }
            }
            if !inactive.is_empty() {
                rows.push(Evidence::with_error(
                    &case,
                    &format!("plateau {k}: exponent of inactive |x_i| in α vs c(1 − |s_i(τ)|), worst"),
                    at.0,
                    at.1,
                    worst,
                    tol.exponent,
                    &format!("Algorithm 1's dual vs s-integration at ln(1/α) = {:.2}, {:.2}", fine.l, finer.l),
                ));
            }
        }
        Ok(rows)
    }
}
