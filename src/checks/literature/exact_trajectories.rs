//! `literature/exact-trajectories` (Saxe, McClelland, Ganguli 2014; Kunin et al. 2024; THEORY
//! §5.5): gradient flow of the scalar model x = u·v on f(x) = (x − y)²/2. With λ = u² − v²
//! conserved, `ẋ = −(u² + v²)(x − y) = √(λ² + 4x²)(y − x)`.
//! - Balanced (λ = 0, x0 > 0): `ẋ = 2x(y − x)`, the logistic
//!   `x(t) = y x0 e^{2yt}/(y + x0(e^{2yt} − 1))`, time to a level
//!   `T = ln[x1(y − x0)/(x0(y − x1))]/(2y)`.
//! - λ ≠ 0: with `x = (|λ|/2) sinh θ`, `y = (|λ|/2) sinh φ` and `s = √(λ² + 4y²)`, the quantity
//!   `R(x) = cosh((θ + φ)/2)/sinh((φ − θ)/2)` grows like `e^{st}`, so
//!   `T(x0 → x1) = ln(R(x1)/R(x0))/s` (valid through x = 0) and `x(t)` follows from
//!   `tanh((θ + φ)/2) = (sinh φ − e^{−st}/R(x0))/cosh φ`.
//!
//! Routes: the closed forms against the engine's parameter flow in (u, v) (Dop853) and against
//! Gauss–Legendre quadrature of `dx/(√(λ² + 4x²)(y − x))` in the variable θ = asinh(2x/|λ|).

use super::label;
use crate::checks::{Claim, Numerics};
use crate::error::{check_positive, finite, InputError, InputResult};
use crate::escape::first_passage;
use crate::flow::{Flow, SteepestFlow, WeightDecay};
use crate::ode::{Settings, Stop};
use crate::problem::Problem;
use crate::quadrature::gauss_legendre;
use crate::reparam::{DeepDiagonal, Reparameterization};
use crate::verdict::{Evidence, Metric};
use nalgebra::{DMatrix, DVector};
use schemars::JsonSchema;
use serde::Deserialize;

/// The closed form claimed for the trajectory and the time to the level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Formula {
    /// The logistic at λ = 0, the hyperbolic λ-balanced form at λ ≠ 0 (THEORY §5.5).
    Exact,
    /// The balanced logistic whatever λ (a wrong claim at λ ≠ 0).
    Balanced,
}

fn exact() -> Formula {
    Formula::Exact
}

fn two() -> f64 {
    2.0
}

/// Closed-form GF trajectory and time to a level of the scalar model u·v on (x − y)²/2.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExactTrajectories {
    /// Target y > 0 of f(x) = (x − y)²/2.
    pub target: f64,
    /// Initial u0 (λ = u0² − v0², x0 = u0·v0; u0 = v0 is balanced).
    pub u0: f64,
    /// Initial v0 (u0 = −v0 is rejected: x then never reaches the level).
    pub v0: f64,
    /// The level x1, x0 < x1 < y, of the time rows.
    pub level: f64,
    /// Sample times (> 0, increasing) of the trajectory row.
    pub times: Vec<f64>,
    /// The claimed closed form.
    #[serde(default = "exact")]
    pub formula: Formula,
    /// The claimed rate factor c: the closed forms grow like e^{c·(s/2)·t}, s = √(λ² + 4y²)
    /// (balanced: e^{c·y·t}); the theory has c = 2.
    #[serde(default = "two")]
    pub rate: f64,
}

/// The tolerances of `literature/exact-trajectories`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExactTolerance {
    /// Largest |x_closed(t) − x_flow(t)| over the sample times (absolute: x may cross 0).
    pub trajectory: f64,
    /// Relative error of the time to the level (closed form vs quadrature, vs flow).
    pub time: f64,
}

/// The scalar problem: `λ = u0² − v0²`, `x0 = u0 v0`, y, and the rate factor c.
#[derive(Debug, Clone, Copy)]
pub struct Scalar {
    /// Conserved imbalance λ.
    pub lambda: f64,
    /// Initial product x0.
    pub x0: f64,
    /// Target y.
    pub y: f64,
    /// Rate factor c (2 in the theory).
    pub rate: f64,
}

impl Scalar {
    /// `√(λ² + 4y²)`.
    fn s(&self) -> f64 {
        (self.lambda * self.lambda + 4.0 * self.y * self.y).sqrt()
    }

    /// `θ = asinh(2x/|λ|)`.
    fn angle(&self, x: f64) -> f64 {
        (2.0 * x / self.lambda.abs()).asinh()
    }

    /// `R(x) = cosh((θ + φ)/2)/sinh((φ − θ)/2)` (λ ≠ 0).
    fn r(&self, x: f64) -> f64 {
        let (th, ph) = (self.angle(x), self.angle(self.y));
        (0.5 * (th + ph)).cosh() / (0.5 * (ph - th)).sinh()
    }

    /// The balanced logistic `y x0 e^{cyt}/(y + x0(e^{cyt} − 1))`.
    pub fn logistic(&self, t: f64) -> f64 {
        let e = (self.rate * self.y * t).exp();
        self.y * self.x0 * e / (self.y + self.x0 * (e - 1.0))
    }

    /// The balanced time to x1: `ln[x1(y − x0)/(x0(y − x1))]/(c y)`.
    pub fn logistic_time(&self, x1: f64) -> f64 {
        let y = self.y;
        (x1 * (y - self.x0) / (self.x0 * (y - x1))).ln() / (self.rate * y)
    }

    /// The λ-balanced trajectory: `R(t) = R(x0) e^{(c/2) s t}` and
    /// `tanh((θ + φ)/2) = (sinh φ − 1/R)/cosh φ`, solved for θ without cancellation as
    /// `θ = ln[(1 − e^{−φ}/R)/(e^{−φ} + 1/R)]`; `x = (|λ|/2) sinh θ`.
    pub fn hyperbolic(&self, t: f64) -> f64 {
        let ph = self.angle(self.y);
        let r = self.r(self.x0) * (0.5 * self.rate * self.s() * t).exp();
        let theta = ((1.0 - (-ph).exp() / r) / ((-ph).exp() + 1.0 / r)).ln();
        0.5 * self.lambda.abs() * theta.sinh()
    }

    /// The λ-balanced time to x1: `ln(R(x1)/R(x0))/((c/2) s)`.
    pub fn hyperbolic_time(&self, x1: f64) -> f64 {
        (self.r(x1) / self.r(self.x0)).ln() / (0.5 * self.rate * self.s())
    }

    /// `∫_{x0}^{x1} dx/(√(λ² + 4x²)(y − x))` by the 20-point rule on 64 equal panels in a variable
    /// that makes the integrand smooth: λ ≠ 0, `x = (|λ|/2) sinh θ` (`dx/√(λ² + 4x²) = dθ/2`):
    /// `∫ dθ/(2(y − x(θ)))`; λ = 0 (x > 0), `w = ln x`: `∫ dw/(2(y − e^w))`.
    pub fn quadrature_time(&self, x1: f64) -> f64 {
        let (v0, v1, mut f): (f64, f64, Box<dyn FnMut(f64) -> f64>) = if self.lambda == 0.0 {
            (self.x0.ln(), x1.ln(), Box::new(|w: f64| 0.5 / (self.y - w.exp())))
        } else {
            let half = 0.5 * self.lambda.abs();
            (self.angle(self.x0), self.angle(x1), Box::new(move |th: f64| 0.5 / (self.y - half * th.sinh())))
        };
        let panels = 64;
        let h = (v1 - v0) / panels as f64;
        (0..panels).map(|k| gauss_legendre(&mut f, v0 + k as f64 * h, v0 + (k + 1) as f64 * h)).sum()
    }
}

impl ExactTrajectories {
    fn scalar(&self) -> Scalar {
        Scalar { lambda: self.u0 * self.u0 - self.v0 * self.v0, x0: self.u0 * self.v0, y: self.target, rate: self.rate }
    }

    fn closed(&self, s: &Scalar) -> (Box<dyn Fn(f64) -> f64 + '_>, f64, &'static str) {
        let s = *s;
        let balanced = self.formula == Formula::Balanced || s.lambda == 0.0;
        if balanced {
            (
                Box::new(move |t| s.logistic(t)),
                s.logistic_time(self.level),
                "logistic y x0 e^{cyt}/(y + x0(e^{cyt} − 1))",
            )
        } else {
            (
                Box::new(move |t| s.hyperbolic(t)),
                s.hyperbolic_time(self.level),
                "hyperbolic R(x) = cosh((θ+φ)/2)/sinh((φ−θ)/2) ∝ e^{cst/2}",
            )
        }
    }
}

impl Claim for ExactTrajectories {
    const ID: &'static str = "literature/exact-trajectories";
    type Tolerance = ExactTolerance;

    fn validate(&self) -> InputResult<()> {
        check_positive("target", self.target)?;
        finite("u0", self.u0)?;
        finite("v0", self.v0)?;
        check_positive("rate", self.rate)?;
        let s = self.scalar();
        if s.x0 == 0.0 && s.lambda == 0.0 {
            return Err(InputError::new("u0", "u0 = v0 = 0 is the saddle: x never moves"));
        }
        if s.lambda == 0.0 && s.x0 < 0.0 {
            return Err(InputError::new("v0", "u0 = −v0: x = −u0² stays negative and never reaches the level"));
        }
        if !(s.x0 < self.level && self.level < self.target) {
            return Err(InputError::new("level", format!("need x0 = {} < level < target", s.x0)));
        }
        if self.times.is_empty() || self.times.len() > 100 {
            return Err(InputError::new("times", "give 1 to 100 sample times"));
        }
        for w in self.times.windows(2) {
            if w[1] <= w[0] {
                return Err(InputError::new("times", "sample times must increase"));
            }
        }
        if !(self.times[0] > 0.0 && self.times[self.times.len() - 1] <= 1e3) {
            return Err(InputError::new("times", "sample times lie in (0, 1e3]"));
        }
        Ok(())
    }

    fn evidence(&self, case: &str, tol: &ExactTolerance, numerics: &Numerics) -> InputResult<Vec<Evidence>> {
        let settings = numerics.settings();
        let s = self.scalar();
        let case = label(case, &format!("λ={:.4} x0={:.4}", s.lambda + 0.0, s.x0 + 0.0));
        let problem =
            Problem::new(DMatrix::from_element(1, 1, 1.0), DVector::from_element(1, self.target), Default::default())?;
        let model = DeepDiagonal::new(2, 1);
        let flow = SteepestFlow { problem: &problem, model: &model, q: 2.0, decay: WeightDecay::None };
        let w0 = DVector::from_vec(vec![self.u0, self.v0]);
        let (x_of, t_closed, form) = self.closed(&s);
        let mut rows = Vec::new();
        // the trajectory at the sample times
        let route = format!("{form} vs parameter flow in (u, v) (Dop853)");
        match flow.run(&w0, &self.times, None, &settings) {
            Ok(tr) => {
                let (mut worst, mut at) = (0.0f64, (f64::NAN, f64::NAN));
                for (t, w) in tr.t.iter().zip(&tr.y).skip(1) {
                    let (p, m) = (x_of(*t), model.x(w)[0]);
                    let e = (p - m).abs();
                    if e.is_nan() || e > worst || at.0.is_nan() {
                        worst = if e.is_nan() { f64::NAN } else { e.max(worst) };
                        at = (p, m);
                    }
                }
                rows.push(
                    Evidence::with_error(
                        &case,
                        "max_t |x(t) closed form − flow|",
                        at.0,
                        at.1,
                        worst,
                        tol.trajectory,
                        &route,
                    )
                    .with_stats(tr.stats),
                );
            }
            Err(e) => rows.push(Evidence::inconclusive(&case, "x(t)", &route, e.to_string())),
        }
        // the time to the level: closed form vs quadrature, and vs the flow's first passage
        let quantity = format!("time from x0 to x1 = {} (quadrature)", self.level);
        rows.push(Evidence::compare(
            &case,
            &quantity,
            t_closed,
            s.quadrature_time(self.level),
            tol.time,
            Metric::Relative,
            &format!("{form} vs Gauss–Legendre quadrature of dx/(√(λ²+4x²)(y − x))"),
        ));
        let advance = |y: &DVector<f64>, dt: f64, stop: Option<&Stop<'_>>, st: &Settings| flow.run(y, &[dt], stop, st);
        let level = |w: &DVector<f64>| model.x(w)[0] - self.level;
        let route = format!("{form} vs parameter flow's first passage (Dop853, Brent)");
        let quantity = format!("time from x0 to x1 = {} (flow)", self.level);
        match first_passage(&advance, &w0, &level, 1e3, &settings) {
            Ok(p) => rows.push(
                Evidence::compare(&case, &quantity, t_closed, p.time, tol.time, Metric::Relative, &route)
                    .with_stats(p.stats),
            ),
            Err(e) => rows.push(Evidence::inconclusive(&case, &quantity, &route, e.to_string())),
        }
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hyperbolic_form_tends_to_the_logistic_as_lambda_vanishes() {
        // λ → 0 at fixed x0 > 0: the hyperbolic closed forms approach the logistic ones
        let b = Scalar { lambda: 0.0, x0: 0.1, y: 1.3, rate: 2.0 };
        let h = Scalar { lambda: 1e-6, ..b };
        for t in [0.1, 1.0, 3.0] {
            assert!((h.hyperbolic(t) - b.logistic(t)).abs() < 1e-8, "t = {t}");
        }
        assert!((h.hyperbolic_time(0.9) - b.logistic_time(0.9)).abs() < 1e-8);
        // the time formula inverts the trajectory, through the sign change of x
        let n = Scalar { lambda: -0.7, x0: -0.4, y: 1.3, rate: 2.0 };
        let t = n.hyperbolic_time(0.5);
        assert!((n.hyperbolic(t) - 0.5).abs() < 1e-12 && n.hyperbolic(0.0).abs() - 0.4 < 1e-14);
    }
}
