//! `literature/depth-rate` (Woodworth et al. 2020; Chou, Maly, Rauhut 2023; THEORY §5.8): how the
//! GF limit x_α of the two-sided depth-D model `x = ∏w⁺ − ∏w⁻` (all factors started at α) approaches
//! the unique min-ℓ1 interpolator x* as α → 0.
//!
//! With S the support of x* (|S| = n, `A_S` invertible), σ its signs, the certificate
//! `ν = A_S^{−T} σ` and `ρ = Aᵀν` (`|ρ_i| < 1` off S):
//! - D ≥ 3: `(x_α − x*)/α^D → K` with `K_i = h_D(ρ_i)` off S,
//!   `h_D(s) = (1 − s)^{−D/(D−2)} − (1 + s)^{−D/(D−2)}`, and `K_S = −A_S^{−1} A_{S^c} K_{S^c}`; the
//!   next-order term is relatively `O(α^{D−2})`.
//! - D = 2: off S, `x_i = σ_i C_i α^{2c_i}(1 + …)` with `c_i = 1 − |ρ_i|`, `σ_i = sign ρ_i`,
//!   `C_i = exp(σ_i m_i)`, `m = A_{S^c}ᵀ μ`, `μ = A_S^{−T}(σ ⊙ ln|x*_S|)`; the next-order term is
//!   relatively `O(α^{2 min(c_min, 2|ρ|_min)})`.
//!
//! Data (n samples): support columns with first entry σ_j (random sign) and Gaussian rest, `extra`
//! columns with first entry of modulus in [0.2, 0.6] (random sign) and Gaussian rest,
//! `y = A_S b` with `|b_j| ∈ [0.5, 1.5]` of sign σ_j; so e1 certifies x* = (b, 0) with
//! `|ρ_i| ∈ [0.2, 0.6]` off S. The check does not use the construction: x* and ν come from the LP.
//!
//! Routes: (1) the prediction from the min-ℓ1 LP (clarabel) — its support and signs, polished by the
//! KKT system `A_S x*_S = y`, `A_Sᵀ ν = σ` — through the closed forms above; (2) the Bregman
//! projections of the model's own two-sided map ([`TwoSidedMap`] of the balanced depth-D side
//! potential, centre `R_s'(α^D)`) on a ladder `α_k = α_min·ratio^k`, the log-log slopes by least
//! squares and the constants at α_min. The smallest α is set by the claimed next-order size ε:
//! `α_min = ε^{1/(D−2)}` (D ≥ 3) or `ε^{1/(2 min(c_min, 2|ρ|_min))}` (D = 2). Optionally the ODE
//! gradient flow at a moderate α cross-checks that the projection is the GF limit.

use super::label;
use crate::bias::{self, SolveSettings, TwoSidedMap};
use crate::checks::bias::flow_limit;
use crate::checks::regression::Regression;
use crate::checks::{Claim, Numerics};
use crate::error::{check_depth, check_positive, InputError, InputResult};
use crate::fit::fit_line;
use crate::potential::{self, Potential};
use crate::problem::{Loss, Problem};
use crate::reparam::{DeepDiagonal, Initialization};
use crate::rng::SplitMix64;
use crate::verdict::{Evidence, Metric};
use nalgebra::{DMatrix, DVector};
use schemars::JsonSchema;
use serde::Deserialize;

/// Which law of approach is claimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Law {
    /// The theory: `α^D K` for D ≥ 3, `α^{2c_i}` off the support for D = 2.
    ByDepth,
    /// The D = 2 law `σ_i C_i α^{2(1 − |ρ_i|)}` claimed at every depth (a wrong claim for D ≥ 3).
    DepthTwo,
}

fn by_depth() -> Law {
    Law::ByDepth
}

fn default_ratio() -> f64 {
    2.0
}

fn three() -> usize {
    3
}

fn default_seed() -> u64 {
    1
}

/// The largest number of ladder points.
const MAX_POINTS: usize = 8;

/// The approach of the small-α GF limit of the two-sided depth-D model to min-ℓ1.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DepthRate {
    /// Depth D ≥ 2 of the two-sided model x = ∏w⁺ − ∏w⁻.
    pub depth: usize,
    /// ε ∈ (0, 0.1]: the relative size of the next-order term at the smallest α of the ladder, which
    /// sets `α_min = ε^{1/(D−2)}` (D ≥ 3) or `ε^{1/(2 min(c_min, 2|ρ|_min))}` (D = 2).
    pub next_order: f64,
    /// Ladder ratio > 1: `α_k = α_min·ratio^k`.
    #[serde(default = "default_ratio")]
    pub ratio: f64,
    /// Number of ladder points (2 to 8).
    #[serde(default = "three")]
    pub points: usize,
    /// Samples n (1 to 6): the support size of x*.
    #[serde(default = "three")]
    pub samples: usize,
    /// Off-support columns (1 to 8).
    #[serde(default = "three")]
    pub extra: usize,
    /// Seed of the random entries.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// The claimed law.
    #[serde(default = "by_depth")]
    pub law: Law,
    /// If set, α of an ODE gradient flow whose limit is compared with the Bregman projection at the
    /// same α (the projection route is the GF limit).
    #[serde(default)]
    pub flow_alpha: Option<f64>,
}

/// The tolerances of `literature/depth-rate`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DepthRateTolerance {
    /// Absolute error of each fitted log-log slope against the predicted exponent.
    pub slope: f64,
    /// Relative error of each constant (off-support `x_i/α^p` at α_min; the support's K as a vector).
    pub constant: f64,
    /// Relative distance of clarabel's x and ν from the KKT-polished x* and certificate.
    pub certificate: f64,
    /// Relative distance of the ODE flow's limit from the Bregman projection at `flow_alpha`.
    pub flow: f64,
}

/// The min-ℓ1 solution and its certificate, polished on the LP's support.
struct Certificate {
    /// Support S (ascending).
    support: Vec<usize>,
    /// The other columns.
    off: Vec<usize>,
    /// x* (full length).
    x: DVector<f64>,
    /// ρ = Aᵀν (full length).
    rho: DVector<f64>,
    /// `A_S^{−1}` applied later: kept as the matrix A_S.
    a_s: DMatrix<f64>,
    /// `A_{S^c}`.
    a_off: DMatrix<f64>,
    /// Relative distance of the LP's x and ν (sign-aligned) from the polished ones.
    lp_x_error: f64,
    lp_nu_error: f64,
}

/// `h_D(s) = (1 − s)^{−D/(D−2)} − (1 + s)^{−D/(D−2)}` (D ≥ 3, |s| < 1).
pub fn h_depth(depth: usize, s: f64) -> f64 {
    let k = -(depth as f64) / (depth as f64 - 2.0);
    (1.0 - s).powf(k) - (1.0 + s).powf(k)
}

impl DepthRate {
    /// The data (A, y) of the construction (module docs).
    pub fn data(&self) -> (DMatrix<f64>, DVector<f64>) {
        let mut rng = SplitMix64::new(self.seed);
        let (n, d) = (self.samples, self.samples + self.extra);
        let mut sign = || if rng.uniform() < 0.5 { -1.0 } else { 1.0 };
        let signs: Vec<f64> = (0..d).map(|_| sign()).collect();
        let mut a = DMatrix::zeros(n, d);
        let mut b = DVector::zeros(n);
        for j in 0..d {
            a[(0, j)] = if j < n { signs[j] } else { signs[j] * (0.2 + 0.4 * rng.uniform()) };
            for i in 1..n {
                a[(i, j)] = rng.normal();
            }
            if j < n {
                b[j] = signs[j] * (0.5 + rng.uniform());
            }
        }
        let y = a.columns(0, n) * b;
        (a, y)
    }

    /// Route 1's data: the LP's support and signs, polished by `A_S x*_S = y`, `A_Sᵀν = σ`.
    fn certificate(&self, a: &DMatrix<f64>, y: &DVector<f64>) -> InputResult<Result<Certificate, String>> {
        let lp = bias::min_l1(a, y)?;
        let scale = lp.x.amax();
        let support: Vec<usize> = (0..a.ncols()).filter(|&j| lp.x[j].abs() > 1e-6 * scale).collect();
        let off: Vec<usize> = (0..a.ncols()).filter(|j| !support.contains(j)).collect();
        if support.len() != a.nrows() {
            return Ok(Err(format!("the LP's support has {} columns, not n = {}", support.len(), a.nrows())));
        }
        let a_s = a.select_columns(&support);
        let a_off = a.select_columns(&off);
        let sigma = DVector::from_iterator(support.len(), support.iter().map(|&j| lp.x[j].signum()));
        let lu = a_s.clone().lu();
        let (Some(x_s), Some(nu)) = (lu.solve(y), a_s.transpose().lu().solve(&sigma)) else {
            return Ok(Err("A_S is singular".into()));
        };
        let mut x = DVector::zeros(a.ncols());
        for (k, &j) in support.iter().enumerate() {
            x[j] = x_s[k];
        }
        let rho = a.tr_mul(&nu);
        if x_s.iter().zip(sigma.iter()).any(|(v, s)| v * s <= 0.0) {
            return Ok(Err("the polished x* changes a sign of the LP's support".into()));
        }
        if off.iter().any(|&j| rho[j].abs() >= 1.0) {
            return Ok(Err("no strict certificate: |ρ_i| ≥ 1 off the support (x* not unique)".into()));
        }
        let lp_x_error = (&lp.x - &x).amax() / x.amax();
        let lp_nu_error = (&lp.nu - &nu).amax().min((&lp.nu + &nu).amax()) / nu.amax();
        Ok(Ok(Certificate { support, off, x, rho, a_s, a_off, lp_x_error, lp_nu_error }))
    }

    /// The exponent e of the next-order term `α^e` (module docs).
    fn next_order_exponent(&self, cert: &Certificate) -> f64 {
        if self.depth >= 3 {
            (self.depth - 2) as f64
        } else {
            let c_min = cert.off.iter().map(|&j| 1.0 - cert.rho[j].abs()).fold(f64::INFINITY, f64::min);
            let rho_min = cert.off.iter().map(|&j| cert.rho[j].abs()).fold(f64::INFINITY, f64::min);
            2.0 * c_min.min(2.0 * rho_min)
        }
    }

    /// The claimed off-support exponents p_i and constants (signed) `x_i ≈ const_i·α^{p_i}`.
    fn off_support_law(&self, cert: &Certificate) -> Option<(Vec<f64>, Vec<f64>)> {
        let deep = self.depth >= 3 && self.law == Law::ByDepth;
        if deep {
            let d = self.depth;
            return Some((
                cert.off.iter().map(|_| d as f64).collect(),
                cert.off.iter().map(|&j| h_depth(d, cert.rho[j])).collect(),
            ));
        }
        // D = 2 law: μ = A_S^{−T}(σ ⊙ ln|x*_S|), m = A_{S^c}ᵀ μ
        let log_x = DVector::from_iterator(
            cert.support.len(),
            cert.support.iter().map(|&j| cert.x[j].signum() * cert.x[j].abs().ln()),
        );
        let mu = cert.a_s.transpose().lu().solve(&log_x)?;
        let m = cert.a_off.tr_mul(&mu);
        let exps = cert.off.iter().map(|&j| 2.0 * (1.0 - cert.rho[j].abs())).collect();
        let consts = cert
            .off
            .iter()
            .enumerate()
            .map(|(k, &j)| {
                let s = cert.rho[j].signum();
                s * (s * m[k]).exp()
            })
            .collect();
        Some((exps, consts))
    }

    /// Route 2: the Bregman projection of the two-sided map of the balanced depth-D side potential
    /// (centre `c = R_s'(α^D)`), from z = 0.
    fn projection(&self, side: &dyn Potential, a: &DMatrix<f64>, y: &DVector<f64>, alpha: f64) -> bias::Projection {
        let map = TwoSidedMap { side, center: side.grad(alpha.powi(self.depth as i32)) };
        bias::bregman_projection(&map, a, y, &DVector::zeros(a.ncols()), &SolveSettings::default())
    }
}

impl Claim for DepthRate {
    const ID: &'static str = "literature/depth-rate";
    type Tolerance = DepthRateTolerance;

    fn validate(&self) -> InputResult<()> {
        check_depth("depth", self.depth as i64)?;
        if self.depth < 2 {
            return Err(InputError::new("depth", "the two-sided model needs depth D ≥ 2"));
        }
        check_positive("next_order", self.next_order)?;
        if self.next_order > 0.1 {
            return Err(InputError::new("next_order", "an α → 0 expansion: give ε ≤ 0.1"));
        }
        check_positive("ratio", self.ratio)?;
        if self.ratio <= 1.0 || self.ratio > 10.0 {
            return Err(InputError::new("ratio", "must lie in (1, 10]"));
        }
        if !(2..=MAX_POINTS).contains(&self.points) {
            return Err(InputError::new("points", format!("2 to {MAX_POINTS} ladder points")));
        }
        if !(1..=6).contains(&self.samples) {
            return Err(InputError::new("samples", "1 to 6 samples"));
        }
        if !(1..=8).contains(&self.extra) {
            return Err(InputError::new("extra", "1 to 8 off-support columns"));
        }
        if let Some(f) = self.flow_alpha {
            check_positive("flow_alpha", f)?;
            if !(0.05..=2.0).contains(&f) {
                return Err(InputError::new("flow_alpha", "the ODE cross-check runs at a moderate α in [0.05, 2]"));
            }
        }
        Ok(())
    }

    fn evidence(&self, case: &str, tol: &DepthRateTolerance, numerics: &Numerics) -> InputResult<Vec<Evidence>> {
        let (a, y) = self.data();
        let case = label(case, "");
        let mut rows = Vec::new();
        let cert = match self.certificate(&a, &y)? {
            Ok(c) => c,
            Err(e) => {
                rows.push(Evidence::inconclusive(&case, "min-ℓ1 certificate", "clarabel LP + KKT", e));
                return Ok(rows);
            }
        };
        let lp_route = "clarabel LP vs KKT on the LP's support (A_S x* = y, A_Sᵀν = σ)";
        rows.push(Evidence::with_error(
            &case,
            "‖x_LP − x*‖∞/‖x*‖∞",
            cert.x.amax(),
            cert.x.amax(),
            cert.lp_x_error,
            tol.certificate,
            lp_route,
        ));
        rows.push(Evidence::with_error(
            &case,
            "‖ν_LP ∓ ν‖∞/‖ν‖∞",
            1.0,
            1.0,
            cert.lp_nu_error,
            tol.certificate,
            lp_route,
        ));
        let exponent = self.next_order_exponent(&cert);
        let alpha_min = self.next_order.powf(1.0 / exponent);
        rows.push(Evidence::observe(&case, "α_min", alpha_min, &format!("ε^(1/{exponent:.4})")));
        let alphas: Vec<f64> = (0..self.points).map(|k| alpha_min * self.ratio.powi(k as i32)).collect();
        // route 2: the projections on the ladder
        let side = potential::for_model(self.depth, 2.0, &vec![0.0; self.depth]);
        let mut xs = Vec::new();
        for &alpha in &alphas {
            let p = self.projection(side.as_ref(), &a, &y, alpha);
            if !p.converged {
                rows.push(Evidence::inconclusive(
                    &case,
                    "Bregman projection",
                    "two-sided map dual solve",
                    format!("no convergence at α = {alpha:e} (residual {:.2e})", p.residual),
                ));
                return Ok(rows);
            }
            xs.push(p.x);
        }
        let Some((exps, consts)) = self.off_support_law(&cert) else {
            rows.push(Evidence::inconclusive(&case, "D = 2 constants", "KKT", "A_S is singular"));
            return Ok(rows);
        };
        let law = match (self.law, self.depth) {
            (Law::ByDepth, d) if d >= 3 => format!("α^{d} h_{d}(ρ_i)"),
            _ => "σ_i e^{σ_i m_i} α^{2(1−|ρ_i|)}".to_string(),
        };
        let route = format!(
            "{law} from the LP certificate vs Bregman projections of the two-sided map ({}) at α = {}",
            side.describe(),
            alphas.iter().map(|a| format!("{a:.3e}")).collect::<Vec<_>>().join(", ")
        );
        let logs: Vec<f64> = alphas.iter().map(|a| a.ln()).collect();
        for (k, &j) in cert.off.iter().enumerate() {
            let points: Vec<(f64, f64)> = logs.iter().zip(&xs).map(|(&l, x)| (l, x[j].abs().ln())).collect();
            let fit = fit_line(&points);
            rows.push(Evidence::compare(
                &case,
                &format!("slope of ln|x_{j}| in ln α (off support, ρ = {:.4})", cert.rho[j]),
                exps[k],
                fit.slope,
                tol.slope,
                Metric::Absolute,
                &route,
            ));
            let measured = xs[0][j] / alpha_min.powf(exps[k]);
            rows.push(Evidence::compare(
                &case,
                &format!("x_{j}/α^p at α_min (off support)"),
                consts[k],
                measured,
                tol.constant,
                Metric::Relative,
                &route,
            ));
        }
        if self.depth >= 3 && self.law == Law::ByDepth {
            // the support: K_S = −A_S^{−1} A_{S^c} K_{S^c}, against (x_α − x*)_S/α^D
            let d = self.depth as i32;
            let k_off = DVector::from_vec(consts.clone());
            match cert.a_s.clone().lu().solve(&(&cert.a_off * &k_off)) {
                Some(k_s) => {
                    let k_s = -k_s;
                    let dev = |x: &DVector<f64>, alpha: f64| {
                        DVector::from_iterator(
                            k_s.len(),
                            cert.support.iter().map(|&j| (x[j] - cert.x[j]) / alpha.powi(d)),
                        )
                    };
                    let measured = dev(&xs[0], alpha_min);
                    let error = (&measured - &k_s).norm() / k_s.norm();
                    rows.push(Evidence::with_error(
                        &case,
                        "‖(x_α − x*)_S/α^D − K_S‖/‖K_S‖ at α_min",
                        k_s.norm(),
                        measured.norm(),
                        error,
                        tol.constant,
                        &route,
                    ));
                    let points: Vec<(f64, f64)> = logs
                        .iter()
                        .zip(&xs)
                        .map(|(&l, x)| {
                            let diff: f64 = cert.support.iter().map(|&j| (x[j] - cert.x[j]).powi(2)).sum();
                            (l, 0.5 * diff.ln())
                        })
                        .collect();
                    rows.push(Evidence::compare(
                        &case,
                        "slope of ln‖(x_α − x*)_S‖ in ln α",
                        self.depth as f64,
                        fit_line(&points).slope,
                        tol.slope,
                        Metric::Absolute,
                        &route,
                    ));
                }
                None => rows.push(Evidence::inconclusive(&case, "K_S", "KKT", "A_S is singular")),
            }
        }
        if let Some(alpha) = self.flow_alpha {
            rows.push(self.flow_row(&case, &a, &y, alpha, side.as_ref(), tol, numerics)?);
        }
        Ok(rows)
    }
}

impl DepthRate {
    /// The ODE gradient flow at `alpha` (to loss 1e-16) against the Bregman projection there.
    #[allow(clippy::too_many_arguments)]
    fn flow_row(
        &self,
        case: &str,
        a: &DMatrix<f64>,
        y: &DVector<f64>,
        alpha: f64,
        side: &dyn Potential,
        tol: &DepthRateTolerance,
        numerics: &Numerics,
    ) -> InputResult<Evidence> {
        let quantity = "‖x_GF − x_Bregman‖/‖x_Bregman‖";
        let route =
            format!("two-sided depth-{} GF (ode, loss ≤ 1e-16) vs Bregman projection at α = {alpha}", self.depth);
        let problem = Problem::new(a.clone(), y.clone(), Loss::Squared)?;
        let model = DeepDiagonal::two_sided(self.depth, a.ncols());
        let init = Initialization::balanced(alpha, self.depth);
        let w0 = model.init(&init, 2.0)?;
        let s = Regression { problem, model, init, q: 2.0, w0 };
        let p = self.projection(side, a, y, alpha);
        if !p.converged {
            return Ok(Evidence::inconclusive(case, quantity, &route, "the dual solve did not converge"));
        }
        Ok(match flow_limit(&s, 1e6, Some(1e-16), &numerics.settings()) {
            Ok((x, stats)) => {
                let error = (&x - &p.x).norm() / p.x.norm();
                Evidence::with_error(case, quantity, p.x.norm(), x.norm(), error, tol.flow, &route).with_stats(stats)
            }
            Err(e) => Evidence::inconclusive(case, quantity, &route, e),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(depth: usize) -> DepthRate {
        DepthRate {
            depth,
            next_order: 1e-3,
            ratio: 2.0,
            points: 3,
            samples: 3,
            extra: 4,
            seed: 3,
            law: Law::ByDepth,
            flow_alpha: None,
        }
    }

    #[test]
    fn the_construction_is_certified_by_e1() {
        let c = claim(3);
        let (a, y) = c.data();
        let rho = a.row(0);
        for j in 0..3 {
            assert!((rho[j].abs() - 1.0).abs() < 1e-15);
        }
        for j in 3..7 {
            assert!(rho[j].abs() >= 0.2 && rho[j].abs() <= 0.6, "{}", rho[j]);
        }
        let cert = c.certificate(&a, &y).unwrap().unwrap();
        assert_eq!(cert.support, vec![0, 1, 2]);
        assert!((cert.rho.transpose() - rho).amax() < 1e-12);
        assert!(cert.lp_x_error < 1e-6 && cert.lp_nu_error < 1e-6);
    }

    #[test]
    fn the_balanced_two_sided_map_is_alpha_d_h_d() {
        // route 2's map against route 1's link: with R_s'(u) = −u^{−(D−2)/D}/(D−2) and centre
        // R_s'(α^D), ψ(c ± z) = α^D (1 ∓ s)^{−D/(D−2)} with s = (D−2)α^{D−2} z
        use crate::bias::MirrorMap;
        for depth in [3, 4, 5] {
            let alpha: f64 = 0.3;
            let side = potential::for_model(depth, 2.0, &vec![0.0; depth]);
            let map = TwoSidedMap { side: side.as_ref(), center: side.grad(alpha.powi(depth as i32)) };
            let scale = (depth - 2) as f64 * alpha.powi(depth as i32 - 2);
            for s in [-0.7, 0.1, 0.9] {
                let want = alpha.powi(depth as i32) * h_depth(depth, s);
                let got = map.primal(s / scale);
                assert!((got - want).abs() < 1e-12 * want.abs().max(1e-3), "D = {depth}, s = {s}: {got} vs {want}");
            }
        }
    }
}
