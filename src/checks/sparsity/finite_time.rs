//! `sparsity/finite-time`: SignGF on the one-sided balanced model (every layer of coordinate j
//! equal, `|w_j| = |x_j|^{1/L}`) moves each layer by `ẇ_j = −sign(g_j)` (THEORY §9, derived): in the
//! mirror form `z_j = −∫ sign(g_j) dt` and `x_j = (α_j + z_j)^L`, up to the time `α_j + z_j` first
//! reaches 0 (even L: the group then rests at 0; odd L: x_j crosses 0 and keeps the formula).
//!
//! With one sample (`f = −y aᵀx` through the log-exponential loss of one sample, which never
//! underflows) the signs are constant, `sign(g_j) = −sign(y a_j)`, and after every crossing each
//! moving coordinate has `|w_j| = t − c_j` (`c_j = −α_j` growing from the start, `c_j = α_j` after an
//! odd crossing), so the concentration ratios are
//!
//! ```text
//! |x_j| / max_i |x_i| = ((t − c_j)/(t − c_*))^L,   c_* = min_i c_i,
//! ```
//!
//! which sharpen with L at fixed t and relax to 1 as t → ∞: depth sharpens the *finite-time*
//! direction only. Rows (the event-driven sign engine against the closed forms): the trajectory
//! `x_j(t)`, the ratios at the sample times after the last crossing, the monotonicity in t and, by
//! a second engine run at depth L + 1, in L. Knob: `ratio_exponent` (the claimed exponent on the
//! ratio, default L; 1 or a fixed number claims depth-independent ratios).

use crate::checks::{Claim, Numerics};
use crate::error::{check_depth, check_positive, finite, InputError, InputResult};
use crate::geometry::sign;
use crate::ode::Trajectory;
use crate::problem::{Loss, Problem};
use crate::reparam::{DeepDiagonal, Reparameterization};
use crate::signflow::run_sign_flow;
use crate::verdict::{worst, Evidence};
use nalgebra::{DMatrix, DVector};
use schemars::JsonSchema;
use serde::Deserialize;

/// Finite-time concentration of SignGF on the one-sided balanced model.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FiniteTime {
    /// Depth L ≥ 1 (the monotonicity in L compares with a run at L + 1).
    pub depth: usize,
    /// The one sample a (label +1), one entry per coordinate, none zero.
    pub features: Vec<f64>,
    /// Per-coordinate initial scales α_j > 0 (every layer of coordinate j at α_j: balanced).
    pub alphas: Vec<f64>,
    /// Sample times, increasing and positive; the ratios are compared at those after every
    /// crossing (t > max α_j).
    pub times: Vec<f64>,
    /// The claimed exponent on `(t − c_j)/(t − c_*)` (default: L, the theory).
    pub ratio_exponent: Option<f64>,
}

/// The tolerances of `sparsity/finite-time`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FiniteTimeTolerance {
    /// Relative error of x_j(t) and absolute error of the ratios; the largest allowed violation
    /// of a monotonicity.
    pub formula: f64,
}

impl FiniteTime {
    fn problem(&self) -> InputResult<Problem> {
        let d = self.features.len();
        Problem::new(DMatrix::from_row_slice(1, d, &self.features), DVector::from_element(1, 1.0), Loss::LogExponential)
    }

    /// The signed layer value `u_j(t) = α_j + s_j t` (`s_j = sign(a_j)`, the direction of growth),
    /// with the even-L rest at 0.
    fn layer(&self, depth: usize, j: usize, t: f64) -> f64 {
        let u = self.alphas[j] + sign(self.features[j]) * t;
        if depth.is_multiple_of(2) {
            u.max(0.0)
        } else {
            u
        }
    }

    /// `c_j` with `|w_j| = t − c_j` after the crossings; `None` for a coordinate resting at 0.
    fn offset(&self, depth: usize, j: usize) -> Option<f64> {
        if self.features[j] > 0.0 {
            Some(-self.alphas[j])
        } else if !depth.is_multiple_of(2) {
            Some(self.alphas[j])
        } else {
            None
        }
    }

    fn run(&self, depth: usize, numerics: &Numerics) -> Result<(DeepDiagonal, Trajectory), String> {
        let d = self.features.len();
        let problem = self.problem().map_err(|e| e.message)?;
        let model = DeepDiagonal::new(depth, d);
        let w0 = DVector::from_fn(depth * d, |p, _| self.alphas[p % d]);
        let tr = run_sign_flow(&problem, &model, 0.0, &w0, &self.times, None, &numerics.settings())
            .map_err(|e| e.to_string())?;
        if tr.t.len() != self.times.len() + 1 {
            return Err(format!("the engine stopped at t = {} before the last sample", tr.t_end()));
        }
        Ok((model, tr))
    }

    /// Measured ratios `|x_j|/max|x|` at the sample times after the crossings (rows: times).
    fn measured_ratios(&self, model: &DeepDiagonal, tr: &Trajectory) -> Vec<DVector<f64>> {
        let late = self.alphas.iter().copied().fold(0.0, f64::max);
        tr.t.iter()
            .zip(&tr.y)
            .filter(|(t, _)| **t > late)
            .map(|(_, w)| {
                let x = model.x(w).abs();
                let top = x.max();
                x / top
            })
            .collect()
    }
}

impl Claim for FiniteTime {
    const ID: &'static str = "sparsity/finite-time";
    type Tolerance = FiniteTimeTolerance;

    fn validate(&self) -> InputResult<()> {
        check_depth("depth", self.depth as i64 + 1)?;
        check_depth("depth", self.depth as i64)?;
        let d = self.features.len();
        if d < 2 {
            return Err(InputError::new("features", "ratios need at least two coordinates"));
        }
        crate::problem::check_size(1, d).map_err(|e| InputError::new("features", e.message))?;
        for &a in &self.features {
            if finite("features", a)? == 0.0 {
                return Err(InputError::new("features", "a zero feature never moves its coordinate"));
            }
        }
        if self.alphas.len() != d {
            return Err(InputError::new("alphas", format!("one scale per coordinate: {d} expected")));
        }
        for &a in &self.alphas {
            check_positive("alphas", a)?;
        }
        if self.times.is_empty() || self.times.len() > 1000 {
            return Err(InputError::new("times", "between 1 and 1000 sample times"));
        }
        let mut last = 0.0;
        for &t in &self.times {
            check_positive("times", t)?;
            if t <= last || t > 1e3 {
                return Err(InputError::new("times", "increasing, positive, at most 1e3"));
            }
            last = t;
        }
        let late = self.alphas.iter().copied().fold(0.0, f64::max);
        if self.times.iter().filter(|&&t| t > late).count() < 2 {
            return Err(InputError::new("times", format!("at least two sample times after max α_j = {late}")));
        }
        if !self.features.iter().any(|&a| a > 0.0) {
            return Err(InputError::new("features", "at least one coordinate must grow (a_j > 0)"));
        }
        if let Some(e) = self.ratio_exponent {
            finite("ratio_exponent", e)?;
        }
        Ok(())
    }

    fn evidence(&self, case: &str, tol: &FiniteTimeTolerance, numerics: &Numerics) -> InputResult<Vec<Evidence>> {
        let l = self.depth;
        let route = "event-driven sign engine in w vs x_j = (α_j + z_j)^L, z_j = −sign(g_j)·t";
        let (model, tr) = match self.run(l, numerics) {
            Ok(v) => v,
            Err(e) => return Ok(vec![Evidence::inconclusive(case, "x(t)", route, e)]),
        };
        let mut rows = Vec::new();
        // 1. the exact formula
        let mut err: f64 = 0.0;
        for (t, w) in tr.t.iter().zip(&tr.y) {
            let x = model.x(w);
            let scale = x.amax();
            for j in 0..x.len() {
                let pred = self.layer(l, j, *t).powi(l as i32);
                err = worst(err, (x[j] - pred).abs() / scale);
            }
        }
        rows.push(
            Evidence::with_error(case, "x_j(t) vs (α_j + z_j)^L (relative to ‖x‖∞)", 0.0, err, err, tol.formula, route)
                .with_stats(tr.stats),
        );
        // 2. the ratio law after the crossings
        let expo = self.ratio_exponent.unwrap_or(l as f64);
        let late = self.alphas.iter().copied().fold(0.0, f64::max);
        let offsets: Vec<Option<f64>> = (0..self.features.len()).map(|j| self.offset(l, j)).collect();
        let c_star = offsets.iter().flatten().copied().fold(f64::INFINITY, f64::min);
        let measured = self.measured_ratios(&model, &tr);
        let times: Vec<f64> = self.times.iter().copied().filter(|&t| t > late).collect();
        let mut ratio_err: f64 = 0.0;
        let mut smallest = f64::INFINITY;
        for (t, r) in times.iter().zip(&measured) {
            for (j, c) in offsets.iter().enumerate() {
                let pred = c.map_or(0.0, |c| ((t - c) / (t - c_star)).powf(expo));
                ratio_err = worst(ratio_err, (r[j] - pred).abs());
                if c.is_some() {
                    smallest = smallest.min(r[j]);
                }
            }
        }
        let q = format!(
            "ratios |x_j|/‖x‖∞ vs ((t − c_j)/(t − c_*))^{expo} at t ∈ [{}, {}]",
            times[0],
            times[times.len() - 1]
        );
        rows.push(Evidence::with_error(case, &q, 0.0, ratio_err, ratio_err, tol.formula, route));
        rows.push(Evidence::observe(case, "smallest moving ratio at the first compared time", smallest, route));
        // 3. monotone in t: the moving ratios never decrease (relax towards 1)
        let mut drop: f64 = 0.0;
        for pair in measured.windows(2) {
            for j in (0..offsets.len()).filter(|&j| offsets[j].is_some()) {
                drop = worst(drop, (pair[0][j] - pair[1][j]).max(0.0));
            }
        }
        rows.push(Evidence::with_error(
            case,
            "ratios relax as t grows: largest decrease between sample times",
            0.0,
            drop,
            drop,
            tol.formula,
            route,
        ));
        // 4. sharper with depth: at L + 1 no moving ratio is larger
        match self.run(l + 1, numerics) {
            Ok((deeper, tr2)) => {
                let m2 = self.measured_ratios(&deeper, &tr2);
                let mut rise: f64 = 0.0;
                let both = (0..offsets.len()).filter(|&j| offsets[j].is_some() && self.offset(l + 1, j).is_some());
                let both: Vec<usize> = both.collect();
                for (a, b) in measured.iter().zip(&m2) {
                    for &j in &both {
                        rise = worst(rise, (b[j] - a[j]).max(0.0));
                    }
                }
                rows.push(Evidence::with_error(
                    case,
                    &format!("sharper at L + 1 = {}: largest increase of a ratio", l + 1),
                    0.0,
                    rise,
                    rise,
                    tol.formula,
                    route,
                ));
            }
            Err(e) => rows.push(Evidence::inconclusive(case, "ratios at L + 1", route, e)),
        }
        Ok(rows)
    }
}
