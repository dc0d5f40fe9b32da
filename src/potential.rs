//! Separable Legendre functions `R(x) = Σ_k R(x_k)` whose mirror flow `d/dt R'(x) = −φ_q(∇f)`
//! reproduces the steepest flow of a deep diagonal model (THEORY §3). Every potential is even, with
//! `R''(x) = 1/h(x)`, `h` the mirror gain of the balance law.

use crate::geometry::{mirror_exponent, sign};
use crate::quadrature::{integrate_from_one, integrate_from_zero};
use crate::roots::{brent, root_increasing};
use crate::verdict::round_sig;
use num_dual::{first_derivative, Dual64, DualNum};
use std::fmt::Debug;

/// A scalar Legendre function applied coordinate-wise.
pub trait Potential: Send + Sync + Debug {
    /// `R''(x) = 1/h(x)`.
    fn hess(&self, x: f64) -> f64;

    /// The closed form of `R'` at `x > 0` in dual numbers (for automatic differentiation), if any.
    fn grad_dual(&self, _x: Dual64) -> Option<Dual64> {
        None
    }

    /// `R'(x)`, odd: the closed form where there is one, else `∫_0^x R''` by graded quadrature.
    fn grad(&self, x: f64) -> f64 {
        match self.grad_dual(Dual64::from_re(x.abs())) {
            Some(v) => sign(x) * v.re,
            None => sign(x) * integrate_from_zero(|t| self.hess(t), x.abs()),
        }
    }

    /// `(R')^{-1}(z)` by root finding on the increasing `R'` (valid where `R'(0) = 0`).
    fn grad_inverse(&self, z: f64) -> f64 {
        numeric_grad_inverse(|t| self.grad(t), z)
    }

    /// `R(x)` with `R(0) = 0`, even: `∫_0^|x| R'` for a closed-form R', else the single quadrature
    /// `∫_0^|x| (|x| − s) R''(s) ds` (Taylor at 0 with `R'(0) = 0`), not a quadrature of quadratures.
    fn value(&self, x: f64) -> f64 {
        let b = x.abs();
        if self.grad_dual(Dual64::from_re(b)).is_some() {
            integrate_from_zero(|t| self.grad(t), b)
        } else {
            integrate_from_zero(|s| (b - s) * self.hess(s), b)
        }
    }

    /// `dR'/dx` at `x > 0` by num-dual forward-mode differentiation of the closed-form `R'`.
    fn hess_autodiff(&self, x: f64) -> Option<f64> {
        self.grad_dual(Dual64::from_re(x))?;
        Some(first_derivative(|t| self.grad_dual(t).expect("closed form"), x).1)
    }

    /// A short description, e.g. `balanced(L=3, q=1)`.
    fn describe(&self) -> String;

    /// Whether `R'(0) = −∞`, so that `(R')^{-1}` covers only x > 0 (a one-sided model whose
    /// product cannot change sign).
    fn positive_only(&self) -> bool {
        false
    }

    /// Whether `grad` and `grad_inverse` are closed forms (the mirror flow then runs in the dual
    /// variable `z = R'(x)`, which passes smoothly through `x = 0` where `R''` is singular).
    fn closed_form_inverse(&self) -> bool {
        // (cargo-mutants: `true` is equivalent in value: it only runs the mirror flow in the dual
        // state z = R'(x) through the numerical `grad`/`grad_inverse`, and both states integrate
        // the same ẋ = −φ_q(g)/R''(x) (flow::MirrorFlow))
        false
    }
}

/// `(R')^{-1}(z)` for an odd, increasing `R'` with `R'(0) = 0`, by root finding (NaN if none).
pub fn numeric_grad_inverse(grad: impl Fn(f64) -> f64, z: f64) -> f64 {
    let target = z.abs();
    let root = root_increasing(|t| grad(t) - target, 0.0, target.max(1e-3), 1e-15 * target.max(1e-300));
    sign(z) * root.unwrap_or(f64::NAN)
}

/// Balanced initialisation, any L and q: `R''(x) = |x|^(−e)/L` with `e = q(L−1)/L`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Balanced {
    /// Depth L.
    pub depth: usize,
    /// The exponent e.
    pub exponent: f64,
    /// The power `p = 1/(1 − e) = L/(L − q(L − 1))` of `(R')^{-1}`, formed from L and q, so that it
    /// is exact where it is an integer (q = 1: p = L; q = 2: p = −3, −2 at L = 3, 4).
    power: f64,
}

impl Balanced {
    /// The potential of the balanced depth-L model under ℓ_q steepest flow.
    pub fn new(depth: usize, q: f64) -> Self {
        let l = depth as f64;
        Self { depth, exponent: mirror_exponent(depth, q), power: l / (l - q * (l - 1.0)) }
    }
}

/// `b^p` for `b ≥ 0`: an integer p (|p| ≤ 64, at most 6 squarings and 6 products, so a dozen
/// roundings: the inverse's exponents are L or L/(2 − L), small) by repeated multiplication
/// (`powi`), any other p by `powf` (which was 29 % of the L = 3, d = 500 GF bench; `powi` is 7 %).
fn power(b: f64, p: f64) -> f64 {
    // (cargo-mutants: `>` for `<=` is equivalent in value: both branches compute b^p for an integer
    // p, a few ulps apart; `!=` and `||` send p = −5/3 to `powi`, which the inverse-power test catches)
    if p.fract() == 0.0 && p.abs() <= 64.0 {
        b.powi(p as i32)
    } else {
        b.powf(p)
    }
}

impl Potential for Balanced {
    fn hess(&self, x: f64) -> f64 {
        x.abs().powf(-self.exponent) / self.depth as f64
    }

    /// `R'(x) = x^(1−e)/(L(1−e))`, or `ln(x)/L` at e = 1.
    fn grad_dual(&self, x: Dual64) -> Option<Dual64> {
        let (l, e) = (self.depth as f64, self.exponent);
        Some(if e == 1.0 { x.ln() / l } else { x.powf(1.0 - e) / (l * (1.0 - e)) })
    }

    /// `R'(0) = −∞` iff e ≥ 1.
    fn positive_only(&self) -> bool {
        self.exponent >= 1.0
    }

    /// For e < 1 `x = sign(z)(L(1−e)|z|)^p`; for e ≥ 1 the positive branch (z < 0 for e > 1:
    /// `x = (L(e−1)|z|)^p`), `p = 1/(1 − e)`.
    fn grad_inverse(&self, z: f64) -> f64 {
        let (l, e) = (self.depth as f64, self.exponent);
        if e < 1.0 {
            sign(z) * power(l * (1.0 - e) * z.abs(), self.power)
        } else if e == 1.0 {
            (l * z).exp()
        // (cargo-mutants: `<=` is equivalent: z = 0 is outside the range (−∞, 0) of R' for e > 1,
        // and its +∞ (the limit) and NaN are both non-finite to every caller)
        } else if z < 0.0 {
            power(l * (e - 1.0) * -z, self.power)
        } else {
            f64::NAN
        }
    }

    /// `R(x) = |x|^(2−e)/(L(1−e)(2−e))`, or `(|x| ln|x| − |x|)/L` at e = 1.
    fn value(&self, x: f64) -> f64 {
        let (l, e, a) = (self.depth as f64, self.exponent, x.abs());
        if e == 1.0 {
            (a * a.ln() - a) / l
        } else {
            a.powf(2.0 - e) / (l * (1.0 - e) * (2.0 - e))
        }
    }

    fn describe(&self) -> String {
        format!("balanced(L={}, e={})", self.depth, round_sig(self.exponent, 6))
    }

    fn closed_form_inverse(&self) -> bool {
        // (cargo-mutants: `false` is equivalent in value: it only selects the numerical route)
        true
    }
}

/// Depth 2 with imbalance `λ = |u|^q − |v|^q ≠ 0`: `R''(x) = 1/sqrt(λ² + 4|x|^q)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LambdaBalanced {
    /// The exponent q.
    pub q: f64,
    /// |λ| > 0.
    pub lambda: f64,
}

impl Potential for LambdaBalanced {
    fn hess(&self, x: f64) -> f64 {
        1.0 / (self.lambda * self.lambda + 4.0 * x.abs().powf(self.q)).sqrt()
    }

    /// q = 2: `R'(x) = ½ asinh(2x/λ)`; q = 1: `R'(x) = (sqrt(λ² + 4x) − λ)/2`; otherwise none.
    fn grad_dual(&self, x: Dual64) -> Option<Dual64> {
        let l = self.lambda;
        if self.q == 2.0 {
            Some((x * (2.0 / l)).asinh() * 0.5)
        } else if self.q == 1.0 {
            Some(((x * 4.0 + l * l).sqrt() - l) * 0.5)
        } else {
            None
        }
    }

    fn grad_inverse(&self, z: f64) -> f64 {
        let l = self.lambda;
        if self.q == 2.0 {
            0.5 * l * (2.0 * z).sinh()
        } else if self.q == 1.0 {
            sign(z) * (z * z + l * z.abs())
        } else {
            numeric_grad_inverse(|t| self.grad(t), z)
        }
    }

    fn describe(&self) -> String {
        format!("lambda-balanced(L=2, q={}, λ={})", self.q, self.lambda)
    }

    fn closed_form_inverse(&self) -> bool {
        // (cargo-mutants: `true`, `false`, `&&` for `||` and `!=` for either `==` are equivalent in
        // value: they only switch q ∈ (1, 2) to the dual state or q ∈ {1, 2} to the primal one, and
        // both states integrate the same ẋ = −φ_q(g)/R''(x) (flow::MirrorFlow))
        self.q == 1.0 || self.q == 2.0
    }
}

/// Any depth with per-layer constants `a_i − a_j = λ_i − λ_j` for `a_i = |w_i|^q`:
/// `R''(x) = 1/h`, `h = Σ_i ∏_{j≠i} a_j`, where the `a_i` solve `∏_i a_i = |x|^q` (a scalar root).
///
/// Near 0, `R''(x) ~ |x|^{−e₀}` with `e₀ = q(m−1)/m`, m the number of layers at the smallest
/// constant. For `e₀ < 1`, `R'(x) = ∫_0^x R''` (`R'(0) = 0`); otherwise `R'(0) = −∞` (e.g. L = 3,
/// q = 2 with one layer above the others: `R'' ~ 1/(2√λ|x|)`) and the potential is normalised at 1:
/// `R'(x) = ∫_1^x R''`, `R(x) = ∫_1^x (x − s) R''(s) ds` for x > 0 (odd / even extensions), which
/// changes Bregman divergences and projections not at all.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerConstants {
    /// The exponent q.
    pub q: f64,
    /// Offsets `δ_i = λ_i − min λ ≥ 0`.
    offsets: Vec<f64>,
}

impl LayerConstants {
    /// The potential for per-layer constants `λ_1..λ_L`.
    pub fn new(q: f64, constants: &[f64]) -> Self {
        let min = constants.iter().copied().fold(f64::INFINITY, f64::min);
        Self { q, offsets: constants.iter().map(|c| c - min).collect() }
    }

    /// The layer magnitudes `a_i = t + δ_i` with `∏ a_i = |x|^q`, t found to 1e−15 relative: the
    /// root in `τ = ln t` of `Σ ln(e^τ + δ_i) = q ln|x|`, bracketed by `t^m ∏_{δ_i>0}(t_hi + δ_i) ≥ |x|^q`
    /// (m layers at δ = 0) and `t ≤ t_hi = |x|^{q/L}`.
    pub fn layer_powers(&self, x: f64) -> Vec<f64> {
        if x == 0.0 {
            return self.offsets.clone();
        }
        // in logarithms: |x|^q underflows long before the layer magnitudes do
        let ln_target = self.q * x.abs().ln();
        let m = self.offsets.iter().filter(|&&d| d == 0.0).count() as f64;
        let hi = (ln_target / self.offsets.len() as f64).exp();
        let rest: f64 = self.offsets.iter().filter(|&&d| d > 0.0).map(|d| (hi + d).ln()).sum();
        let lo = (ln_target - rest) / m;
        let excess = |tau: f64| self.offsets.iter().map(|d| (tau.exp() + d).ln()).sum::<f64>() - ln_target;
        // a failed root (NaN data) propagates as NaN and ends the integration as non-finite; the
        // bracket is padded so that rounding cannot lose the sign change when all δ_i = 0
        // (cargo-mutants: `/` for `*` in the tolerance, or `*` for its `+`, only changes it by 1e-15
        // in ln t, below rounding: equivalent)
        let tau = brent(excess, lo - 1e-9, hi.ln() + 1e-9, 1e-15 * (1.0 + hi.ln().abs())).unwrap_or(f64::NAN);
        self.offsets.iter().map(|d| tau.exp() + d).collect()
    }
}

impl LayerConstants {
    /// `e₀ = q(m−1)/m`: the exponent of `R''(x) ~ |x|^{−e₀}` at 0; `R'(0)` is finite iff `e₀ < 1`.
    pub fn origin_exponent(&self) -> f64 {
        let m = self.offsets.iter().filter(|&&d| d == 0.0).count() as f64;
        self.q * (m - 1.0) / m
    }

    fn finite_at_origin(&self) -> bool {
        self.origin_exponent() < 1.0
    }

    /// The smallest layer magnitude `t` of `|x|` (`a_i = t + δ_i`, [`Self::layer_powers`]).
    fn base_of(&self, x: f64) -> f64 {
        let a = self.layer_powers(x);
        self.offsets.iter().zip(&a).find(|(d, _)| **d == 0.0).map_or(f64::NAN, |(_, v)| *v)
    }

    /// `|x|` at base t: `x(t) = P(t)^{1/q}`, `P(t) = ∏_i (t + δ_i)` (closed form, in logarithms).
    fn x_of_base(&self, t: f64) -> f64 {
        (self.offsets.iter().map(|d| (t + d).ln()).sum::<f64>() / self.q).exp()
    }

    /// `dR'/dt = R''(x(t)) dx/dt = (1/q) P(t)^{1/q − 1}`: since `P'(t) = Σ_i ∏_{j≠i} a_j = h`, the
    /// mirror gain cancels and the dual variable is a quadrature of a closed form in t (no root
    /// finding inside the quadrature).
    fn dual_rate(&self, t: f64) -> f64 {
        ((1.0 / self.q - 1.0) * self.offsets.iter().map(|d| (t + d).ln()).sum::<f64>()).exp() / self.q
    }

    /// The exponent p of the substitution `t = u^p`, `p = 1/(1 − β)` with `β = m(q − 1)/q < 1` the
    /// power of the integrable singularity `dR'/dt ~ t^{−β}` at 0 (m layers at δ = 0): in u the
    /// integrand `(dR'/dt)(u^p) p u^{p−1}` is bounded at 0 (a finite-origin potential only).
    fn substitution(&self) -> f64 {
        let m = self.offsets.iter().filter(|&&d| d == 0.0).count() as f64;
        1.0 / (1.0 - m * (self.q - 1.0) / self.q)
    }

    /// `∫ (c − x(t)) (dR'/dt) dt` from the potential's origin (t = 0, or the base t₁ of x = 1 when
    /// `R'(0) = −∞`) to base t: with c = 0 and the sign dropped, `R'`; with `c = x(t)`, `R`.
    fn base_integral(&self, t: f64, c: Option<f64>) -> f64 {
        let weight = |s: f64| c.map_or(1.0, |c| c - self.x_of_base(s));
        if self.finite_at_origin() {
            let p = self.substitution();
            integrate_from_zero(
                |u| weight(u.powf(p)) * self.dual_rate(u.powf(p)) * p * u.powf(p - 1.0),
                t.powf(1.0 / p),
            )
        } else {
            let t1 = self.base_of(1.0);
            integrate_from_one(|s| weight(t1 * s) * self.dual_rate(t1 * s) * t1, t / t1)
        }
    }

    /// `R'` at base t (positive side).
    fn dual_at_base(&self, t: f64) -> f64 {
        self.base_integral(t, None)
    }
}

impl Potential for LayerConstants {
    fn hess(&self, x: f64) -> f64 {
        let a = self.layer_powers(x);
        let h: f64 =
            (0..a.len()).map(|i| a.iter().enumerate().filter(|&(j, _)| j != i).map(|(_, v)| v).product::<f64>()).sum();
        1.0 / h
    }

    /// `∫_0^x R''`, or `∫_1^x R''` when that diverges at 0 (see the type's docs); odd. Computed in
    /// the base t of the layer magnitudes, `R'(x) = ∫ (1/q) P(t)^{1/q−1} dt` ([`Self::dual_rate`]):
    /// one root for `t(x)`, then a quadrature of a closed form.
    fn grad(&self, x: f64) -> f64 {
        if x == 0.0 {
            return if self.finite_at_origin() { 0.0 } else { f64::NAN };
        }
        sign(x) * self.dual_at_base(self.base_of(x))
    }

    fn positive_only(&self) -> bool {
        !self.finite_at_origin()
    }

    /// The positive root of `R'(x(t)) = |z|` in the base t of the layer magnitudes (in `u = t^{1/p}`
    /// from 0 when `R'(0)` is finite; in `τ = ln t` from the base of x = 1 when `R'(0) = −∞`, where
    /// `R'` may stay below a finite bound beyond which there is no root: NaN), by the one root
    /// finder; then `x = P(t)^{1/q}` in closed form.
    fn grad_inverse(&self, z: f64) -> f64 {
        let tol = 1e-14;
        if self.finite_at_origin() {
            let p = self.substitution();
            let target = z.abs();
            if target == 0.0 {
                return 0.0;
            }
            // (cargo-mutants: `*` or `%` for `/` is equivalent: it only sets the first width of the
            // doubling search for the bracket; the root and Brent's tolerance stay the same)
            let step = self.base_of(target.max(1e-3)).powf(1.0 / p);
            let root = root_increasing(|u| self.dual_at_base(u.powf(p)) - target, 0.0, step, f64::MIN_POSITIVE);
            return sign(z) * root.map_or(f64::NAN, |u| self.x_of_base(u.powf(p)));
        }
        let tau1 = self.base_of(1.0).ln();
        let v = if z >= 0.0 {
            root_increasing(|tau| self.dual_at_base(tau.exp()) - z, tau1, 1.0, tol)
        } else {
            root_increasing(|tau| z - self.dual_at_base((2.0 * tau1 - tau).exp()), tau1, 1.0, tol)
                .map(|tau| 2.0 * tau1 - tau)
        };
        v.map_or(f64::NAN, |tau| self.x_of_base(tau.exp()))
    }

    /// `∫_0^|x| (|x| − s) R''(s) ds`, or `∫_1^|x|` of the same when `R'(0) = −∞` (one quadrature),
    /// in the base t: `∫ (|x| − x(t)) (1/q) P(t)^{1/q−1} dt`.
    fn value(&self, x: f64) -> f64 {
        let b = x.abs();
        if b == 0.0 {
            return if self.finite_at_origin() { 0.0 } else { f64::NAN };
        }
        self.base_integral(self.base_of(b), Some(b))
    }

    fn describe(&self) -> String {
        format!("layer-constants(L={}, q={}, δ={:?})", self.offsets.len(), self.q, self.offsets)
    }
}

/// A deliberately wrong potential for negative controls: `R''(x)·|x|^(−δ)` (for the balanced
/// potential: the exponent e replaced by e + δ).
#[derive(Debug)]
pub struct ExponentShift {
    /// The correct potential.
    pub inner: Box<dyn Potential>,
    /// The shift δ.
    pub delta: f64,
}

impl Potential for ExponentShift {
    fn hess(&self, x: f64) -> f64 {
        self.inner.hess(x) * x.abs().powf(-self.delta)
    }

    fn describe(&self) -> String {
        format!("{} with exponent shifted by {}", self.inner.describe(), self.delta)
    }
}

/// The potential of a one-sided deep diagonal model of depth L under ℓ_q steepest flow with
/// per-layer constants `λ_i`: balanced, λ-balanced (L = 2) or the general root-finding form.
pub fn for_model(depth: usize, q: f64, constants: &[f64]) -> Box<dyn Potential> {
    let balanced = constants.iter().all(|&c| c == constants[0]);
    if balanced {
        Box::new(Balanced::new(depth, q))
    } else if depth == 2 {
        Box::new(LambdaBalanced { q, lambda: (constants[0] - constants[1]).abs() })
    } else {
        Box::new(LayerConstants::new(q, constants))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn central_difference(f: impl Fn(f64) -> f64, x: f64) -> f64 {
        let h = 1e-5 * x.abs().max(1e-3);
        (f(x + h) - f(x - h)) / (2.0 * h)
    }

    fn sample_points() -> [f64; 5] {
        [0.01, 0.1, 0.5, 1.0, 3.0]
    }

    #[test]
    fn closed_forms_agree_with_autodiff_and_finite_differences() {
        let potentials: Vec<Box<dyn Potential>> = vec![
            Box::new(Balanced::new(2, 2.0)),
            Box::new(Balanced::new(3, 1.0)),
            Box::new(Balanced::new(4, 1.5)),
            Box::new(Balanced::new(3, 2.0)),
            Box::new(Balanced::new(5, 2.0)),
            Box::new(LambdaBalanced { q: 2.0, lambda: 0.5 }),
            Box::new(LambdaBalanced { q: 1.0, lambda: 0.5 }),
        ];
        for p in &potentials {
            for x in sample_points() {
                let ad = p.hess_autodiff(x).unwrap();
                // forward-mode AD is exact up to rounding
                assert!((ad - p.hess(x)).abs() <= 1e-12 * p.hess(x), "{} at {x}", p.describe());
                // central differences: relative error O(h²·R''''/R'') ≈ 1e-9 at h = 1e-5·x
                let fd = central_difference(|t| p.grad(t), x);
                assert!((fd - p.hess(x)).abs() <= 1e-7 * p.hess(x), "{} at {x}", p.describe());
                let fdv = central_difference(|t| p.value(t), x);
                assert!((fdv - p.grad(x)).abs() <= 1e-7 * (1.0 + p.grad(x).abs()), "{} R at {x}", p.describe());
                let back = p.grad_inverse(p.grad(x));
                assert!((back - x).abs() <= 1e-11 * x, "{} inverse at {x}: {back}", p.describe());
            }
        }
    }

    #[test]
    fn inverse_powers_are_formed_from_depth_and_q() {
        // p = L/(L − q(L − 1)): exact integers for q = 1 (p = L) and for q = 2 at L = 3, 4, where
        // 1/(1 − e) from the rounded e = q(L−1)/L is not (2.9999999999999996 at L = 3, q = 1)
        for (depth, q, p) in [(3, 1.0, 3.0), (4, 1.0, 4.0), (3, 2.0, -3.0), (4, 2.0, -2.0), (5, 2.0, -5.0 / 3.0)] {
            let b = Balanced::new(depth, q);
            assert_eq!(b.power, p, "L = {depth}, q = {q}");
            let x = 0.37;
            assert!((b.grad_inverse(b.grad(x)) - x).abs() <= 4.0 * f64::EPSILON * x, "L = {depth}, q = {q}");
        }
        // both routes of `power` compute b^p
        for (b, p) in [(0.3, 3.0), (2.5, -3.0), (0.7, -5.0 / 3.0), (1e-3, 4.0)] {
            let reference = f64::powf(b, p);
            assert!((power(b, p) - reference).abs() <= 8.0 * f64::EPSILON * reference, "{b}^{p}");
        }
    }

    #[test]
    fn numerical_forms_reduce_to_closed_forms() {
        // equal constants → balanced; depth 2 → λ-balanced: two independent routes to R''
        for x in sample_points() {
            for q in [1.0, 1.5, 2.0] {
                let general = LayerConstants::new(q, &[0.0, 0.0, 0.0]);
                let closed = Balanced::new(3, q);
                assert!((general.hess(x) - closed.hess(x)).abs() <= 1e-12 * closed.hess(x));
                let general = LayerConstants::new(q, &[0.3, 0.0]);
                let closed = LambdaBalanced { q, lambda: 0.3 };
                assert!((general.hess(x) - closed.hess(x)).abs() <= 1e-12 * closed.hess(x));
            }
            // the numerical inverse of the quadrature R' (q = 1.5 has no closed form) round-trips
            let numeric = LambdaBalanced { q: 1.5, lambda: 0.3 };
            assert!((numeric.grad_inverse(numeric.grad(x)) - x).abs() < 1e-12 * x.max(1.0));
            assert!((numeric.grad_inverse(-numeric.grad(x)) + x).abs() < 1e-12 * x.max(1.0));
            // quadrature R' (no closed form for q = 1.5) against the q = 1 and q = 2 closed forms
            let quad = LayerConstants::new(2.0, &[0.5, 0.0]);
            let closed = LambdaBalanced { q: 2.0, lambda: 0.5 };
            assert!((quad.grad(x) - closed.grad(x)).abs() < 1e-12 * (1.0 + closed.grad(x).abs()));
            let quad = LayerConstants::new(1.0, &[0.0, 0.0, 0.0]);
            let closed = Balanced::new(3, 1.0);
            // singular integrand |x|^(-2/3): the neglected panel [0, x 2^-60] is O(2^-20) relative
            assert!((quad.grad(x) - closed.grad(x)).abs() < 1e-5 * closed.grad(x));
        }
    }

    #[test]
    fn divergent_origin_is_normalised_at_one() {
        // q = 2, three equal layers: R'(0) = −∞ (e₀ = 4/3); the quadrature from 1 equals the closed
        // form shifted by its value at 1, and the positive inverse round-trips
        let quad = LayerConstants::new(2.0, &[0.0, 0.0, 0.0]);
        let closed = Balanced::new(3, 2.0);
        assert_eq!(quad.origin_exponent(), 4.0 / 3.0);
        for x in [1e-8, 0.01, 0.7, 5.0, 1e6] {
            let shifted = closed.grad(x) - closed.grad(1.0);
            // 20-point Gauss–Legendre on unit panels in ln s: ~1e-15 relative per panel
            assert!((quad.grad(x) - shifted).abs() < 1e-12 * (1.0 + shifted.abs()), "{x}");
            assert!((quad.grad_inverse(quad.grad(x)) - x).abs() < 1e-12 * x, "{x}");
        }
        // λ = 0.5 above two layers: R'' ~ 1/(2√λ x) at 0 (e₀ = 1), R' bounded above (e = 4/3 at ∞)
        let deep = LayerConstants::new(2.0, &[0.5, 0.0, 0.0]);
        assert_eq!(deep.origin_exponent(), 1.0);
        assert!(deep.grad_inverse(deep.grad(1e12) + 0.1).is_nan());
        // R(x) = ∫_1^x (x − s)R'' has R' = grad: central differences, h = 1e-5 x, error ~1e-10
        for x in [1e-4, 0.3, 4.0] {
            let h = 1e-5 * x;
            let fd = (deep.value(x + h) - deep.value(x - h)) / (2.0 * h);
            assert!((fd - deep.grad(x)).abs() < 1e-7 * (1.0 + deep.grad(x).abs()), "{x}: {fd} vs {}", deep.grad(x));
        }
    }

    #[test]
    fn quadrature_potentials_are_consistent_without_closed_forms() {
        // potentials with no closed-form R' (the generic trait methods and LayerConstants with a
        // finite R'(0); a shift leaving R'' ~ x^{-1/2}, so the neglected panel [0, x·2^-60] is 2^-30 relative): R = ∫(x − s)R'' must have R' = grad (central differences, h = 1e-5·x,
        // error ~1e-10 relative), and the numerical inverse must round-trip
        let potentials: Vec<Box<dyn Potential>> = vec![
            Box::new(LayerConstants::new(1.5, &[0.3, 0.0])),
            Box::new(LayerConstants::new(1.0, &[0.5, 0.2, 0.0])),
            Box::new(ExponentShift { inner: Box::new(Balanced::new(2, 2.0)), delta: -0.5 }),
            Box::new(ExponentShift { inner: Box::new(LambdaBalanced { q: 1.5, lambda: 0.4 }), delta: -0.1 }),
        ];
        for p in &potentials {
            for x in sample_points() {
                let fdv = central_difference(|t| p.value(t), x);
                assert!(
                    (fdv - p.grad(x)).abs() <= 1e-7 * (1.0 + p.grad(x).abs()),
                    "{} R at {x}: {fdv} vs {}",
                    p.describe(),
                    p.grad(x)
                );
                let back = p.grad_inverse(p.grad(x));
                assert!((back - x).abs() <= 1e-10 * x.max(1.0), "{} inverse at {x}: {back}", p.describe());
            }
        }
        // a zero shift is the correct potential itself (the control's wrong map is a deformation)
        let none = ExponentShift { inner: Box::new(Balanced::new(3, 1.5)), delta: 0.0 };
        for x in sample_points() {
            assert_eq!(none.hess(x), Balanced::new(3, 1.5).hess(x));
        }
    }

    #[test]
    fn numerical_inverse_resolves_small_arguments() {
        // Brent stops within 1e-15·|z| of the root x of R'(x) = z: at x ≪ 1 that is 1e-15·R'(x)/x
        // relative, ≈ 3e-15 for R' ≈ x/λ (λ = 0.3) and ≈ 4e-15·x^{-0.3} ≤ 2e-11 for R' ≈
        // x^{0.7}/(0.7·0.4) down to x = 1e-12; the round trip through the same quadrature R' is exact
        // otherwise, so 1e-9 relative
        let potentials: Vec<Box<dyn Potential>> = vec![
            Box::new(LambdaBalanced { q: 1.5, lambda: 0.3 }),
            Box::new(ExponentShift { inner: Box::new(LambdaBalanced { q: 1.5, lambda: 0.4 }), delta: 0.3 }),
        ];
        for p in &potentials {
            for x in [1e-12, 1e-9, 1e-6] {
                let back = p.grad_inverse(p.grad(x));
                assert!((back - x).abs() <= 1e-9 * x, "{} inverse at {x}: {back}", p.describe());
            }
        }
    }

    #[test]
    fn layer_powers_solve_the_balance_law_at_extreme_scales() {
        // the defining equations a_i − a_j = δ_i − δ_j and Σ ln a_i = q ln|x|, over |x| from 1e-40
        // to 1e40 (|ln t| up to 60, where Brent's tolerance 1e-15·(1 + |ln t_hi|) matters): τ = ln t
        // to ≈ 1e-15·(1 + |ln t|), so Σ ln a_i to 1e-12·(1 + |q ln x|), the offsets to 1e-12·max a_i
        for (q, constants) in [(2.0, [0.5, 0.0, 0.0]), (1.0, [0.3, 0.1, 0.0]), (1.5, [0.0, 0.2, 0.0])] {
            let p = LayerConstants::new(q, &constants);
            for k in 0..100 {
                let x = 10f64.powf(-40.0 + 0.8 * k as f64 + 0.0123) * if k % 2 == 0 { 1.0 } else { -1.0 };
                let a = p.layer_powers(x);
                let log_sum: f64 = a.iter().map(|v| v.ln()).sum();
                let want = q * f64::abs(x).ln();
                assert!((log_sum - want).abs() <= 1e-12 * (1.0 + want.abs()), "q={q} {constants:?} x={x}: {a:?}");
                let top = a.iter().copied().fold(0.0, f64::max);
                for i in 0..3 {
                    assert!(((a[i] - a[2]) - (constants[i] - constants[2])).abs() <= 1e-12 * top, "{a:?}");
                }
            }
        }
    }

    #[test]
    fn positive_only_where_the_gradient_diverges_at_zero() {
        // R'(0) = −∞ iff e = q(L−1)/L ≥ 1 (per-layer constants: e₀ ≥ 1): read off R'(1e-200) (e < 1:
        // ≈ 0; e = 1: ≈ ln(1e-200)/L ≈ −150, or ≈ ln(1e-200)/(2√λ) for λ = 0.5 above two layers;
        // e > 1: huge negative powers of 1e-200)
        for (depth, q) in [(2, 1.0), (2, 2.0), (3, 1.25), (3, 1.5), (3, 2.0), (4, 1.0)] {
            let p = Balanced::new(depth, q);
            assert_eq!(p.positive_only(), p.grad(1e-200) < -1.0, "L={depth} q={q}");
        }
        for (q, constants) in
            [(1.5, vec![0.3, 0.0]), (1.0, vec![0.0; 3]), (2.0, vec![0.5, 0.0, 0.0]), (2.0, vec![0.0; 3])]
        {
            let p = LayerConstants::new(q, &constants);
            assert_eq!(p.positive_only(), p.grad(1e-200) < -1.0, "q={q} {constants:?}");
        }
    }

    #[test]
    fn depth_two_dispatch_uses_the_difference_of_the_constants() {
        // λ = |λ_1 − λ_2| = 0.3: the λ-balanced closed form against the root-finding R'' of the
        // per-layer constants (the same metric by two routes, 1e-12 as above)
        for x in sample_points() {
            let general = LayerConstants::new(2.0, &[0.5, 0.2]);
            let dispatched = for_model(2, 2.0, &[0.5, 0.2]);
            assert!((dispatched.hess(x) - general.hess(x)).abs() <= 1e-12 * general.hess(x), "{x}");
        }
    }

    #[test]
    fn dispatch_picks_the_closed_form() {
        assert!(for_model(3, 1.0, &[0.0; 3]).describe().starts_with("balanced"));
        assert!(for_model(2, 2.0, &[0.2, 0.0]).describe().starts_with("lambda"));
        assert!(for_model(3, 2.0, &[0.2, 0.1, 0.0]).describe().starts_with("layer"));
    }
}
