//! The `escape` family: the "never saddle" claims of THEORY §4, one claim per file:
//! - [`escape_time::EscapeTime`]: the escape time of the parameter flow and of the escape integral
//!   equal the closed form `T = (x_1^{1−e} − x_0^{1−e})/(L(1−e)γ^{q−1})`;
//! - [`escape_integral::EscapeIntegral`]: the general escape integral on a target-driven loss;
//! - [`never_saddle::NeverSaddle`]: the growth exponent `κ = q(L−1) − L` of `dT/d ln(1/α)` and the
//!   threshold `q = L/(L−1)`;
//! - [`learning_rate::LearningRate`]: discrete GD/SignGD, the smallest step size that escapes in K
//!   steps and its growth in α;
//! - [`sign_flip::SignFlip`]: which flows carry x through 0 towards a target of the other sign;
//! - [`plateaus::Plateaus`]: saddle-to-saddle plateaus of GF grow like ln(1/α), SignGF's do not;
//! - [`coercivity::Coercivity`]: the coercive init leaves the saddle within x_1/(μγ^{q−1});
//! - [`blow_up::BlowUp`]: finite-time blow-up iff m > 1 (validity of the Bregman function);
//! - [`paper_regression::PaperRegression`]: the paper's regression at its scale, GF vs SignGF escape
//!   times, their α-laws and the depth trend of their ratio.

pub mod blow_up;
pub mod coercivity;
pub mod escape_integral;
pub mod escape_time;
pub mod learning_rate;
pub mod never_saddle;
pub mod paper_regression;
pub mod plateaus;
pub mod sign_flip;

use crate::error::{check_depth, check_positive, check_q, InputError, InputResult};
use crate::escape::{first_passage, parse_alphas, LinearEscape, Passage, PassageError};
use crate::flow::Flow;
use crate::ode::{Settings, Stop};
use nalgebra::DVector;
use schemars::JsonSchema;
use serde::Deserialize;

/// The tolerances of the escape claims.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EscapeTolerance {
    /// Relative error of escape times (or absolute error of fitted exponents).
    pub escape: f64,
}

pub(crate) fn one() -> f64 {
    1.0
}

pub(crate) fn half() -> f64 {
    0.5
}

/// `L ≥ 1`, `q ∈ [1, 2]`, `γ > 0`, `x_1 > 0`: the linear escape problem of a claim.
pub(crate) fn linear(depth: usize, q: f64, gamma: f64, level: f64) -> InputResult<LinearEscape> {
    Ok(LinearEscape {
        depth: check_depth("depth", depth as i64)?,
        q: check_q("q", q)?,
        gamma: check_positive("gamma", gamma)?,
        level: check_positive("level", level)?,
    })
}

/// `x_0 = α^L` must be representable (not underflow to 0 in f64) and below the level.
pub(crate) fn start_below(alpha: f64, depth: usize, level: f64) -> InputResult<()> {
    let ln_x0 = depth as f64 * alpha.ln();
    if ln_x0 < f64::MIN_POSITIVE.ln() {
        return Err(InputError::new(
            "alpha",
            format!(
                "x_0 = α^L = e^{ln_x0:.1} underflows f64 at depth {depth}: the flow would start at the saddle x = 0"
            ),
        ));
    }
    if ln_x0 >= level.ln() {
        return Err(InputError::new("level", "the level must exceed x_0 = α^L"));
    }
    Ok(())
}

/// A geometric α sweep `first:last:count` (at least 3 values, all in (0, 1)).
pub(crate) fn alpha_sweep(spec: &str) -> InputResult<Vec<f64>> {
    let alphas = parse_alphas(spec).map_err(|m| InputError::new("alphas", m))?;
    if alphas.len() < 3 {
        return Err(InputError::new("alphas", "a sweep needs at least 3 values to fit a growth exponent"));
    }
    Ok(alphas)
}

/// The ODE route's name.
pub(crate) const ODE_ROUTE: &str = "ODE in log-weights (Dop853, rtol 1e-11), crossing by Brent";

/// Runs a flow from `w0` until `level(w) ≥ 0` within `horizon`, by [`first_passage`].
pub(crate) fn passage(
    flow: &dyn Flow,
    w0: &DVector<f64>,
    level: &dyn Fn(&DVector<f64>) -> f64,
    horizon: f64,
    settings: &Settings,
) -> Result<Passage, PassageError> {
    let advance = |y: &DVector<f64>, dt: f64, stop: Option<&Stop<'_>>, s: &Settings| flow.run(y, &[dt], stop, s);
    first_passage(&advance, w0, level, horizon, settings)
}

/// `case` and `more`, space-separated (either may be empty).
pub(crate) fn label(case: &str, more: &str) -> String {
    [case, more].iter().filter(|s| !s.is_empty()).copied().collect::<Vec<_>>().join(" ")
}

/// A regime as a code: −1 bounded, 0 logarithmic, 1 power.
pub(crate) fn regime_code(r: crate::escape::Regime) -> f64 {
    match r {
        crate::escape::Regime::Bounded => -1.0,
        crate::escape::Regime::Logarithmic => 0.0,
        crate::escape::Regime::Power => 1.0,
    }
}
