//! Verdicts and evidence: every figure a check reports names the quantity, its predicted and
//! measured values, the tolerance and the route each came from.

use crate::ode::Stats;
use serde::Serialize;
use std::fmt;

/// The outcome of a check.
/// Serialised as its label (`"PASS"`, `"FAIL"`, `"INCONCLUSIVE"`); the reason travels separately.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every figure agreed with the prediction within its tolerance.
    Pass,
    /// Some figure disagreed beyond its tolerance.
    Fail(String),
    /// A solver did not converge, hit a limit or produced NaN: nothing is claimed.
    Inconclusive(String),
}

impl Serialize for Verdict {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.label())
    }
}

impl Verdict {
    /// `PASS`, `FAIL` or `INCONCLUSIVE`.
    pub fn label(&self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail(_) => "FAIL",
            Verdict::Inconclusive(_) => "INCONCLUSIVE",
        }
    }

    /// The reason (empty for PASS).
    pub fn reason(&self) -> &str {
        match self {
            Verdict::Pass => "",
            Verdict::Fail(r) | Verdict::Inconclusive(r) => r,
        }
    }

    /// Combines row verdicts: any FAIL makes FAIL, else any INCONCLUSIVE, else PASS.
    pub fn combine<'a>(rows: impl IntoIterator<Item = &'a Verdict>) -> Verdict {
        let mut inconclusive = None;
        let mut any = false;
        for v in rows {
            any = true;
            match v {
                Verdict::Fail(_) => return v.clone(),
                Verdict::Inconclusive(_) if inconclusive.is_none() => inconclusive = Some(v.clone()),
                _ => {}
            }
        }
        match (any, inconclusive) {
            (false, _) => Verdict::Inconclusive("no evidence was produced".into()),
            (_, Some(v)) => v,
            _ => Verdict::Pass,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Pass => write!(f, "PASS"),
            v => write!(f, "{}: {}", v.label(), v.reason()),
        }
    }
}

/// One measured figure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    /// The grid point, e.g. `L=2 q=1 λ=0.5`.
    pub case: String,
    /// What is compared.
    pub quantity: String,
    /// The predicted value.
    pub predicted: f64,
    /// The measured value.
    pub measured: f64,
    /// The error measure compared with the tolerance.
    pub error: f64,
    /// The tolerance on `error`.
    pub tolerance: f64,
    /// How predicted and measured were obtained.
    pub route: String,
    /// The row verdict.
    pub verdict: Verdict,
    /// Solver statistics behind the measurement, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<Stats>,
    /// A figure that is only reported (no independent prediction or no finite tolerance): shown
    /// apart, never deciding a verdict.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub observation: bool,
}

/// How the error of a comparison is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// `|p − m|`.
    Absolute,
    /// `|p − m| / |p|`.
    Relative,
}

impl Evidence {
    /// Compares a measured value with a prediction: PASS iff the error is within `tolerance`;
    /// non-finite values make the row INCONCLUSIVE.
    pub fn compare(
        case: &str,
        quantity: &str,
        predicted: f64,
        measured: f64,
        tolerance: f64,
        metric: Metric,
        route: &str,
    ) -> Self {
        let error = match metric {
            Metric::Absolute => (predicted - measured).abs(),
            Metric::Relative => (predicted - measured).abs() / predicted.abs().max(f64::MIN_POSITIVE),
        };
        Self::with_error(case, quantity, predicted, measured, error, tolerance, route)
    }

    /// A row whose error measure is computed by the caller (e.g. a trajectory distance).
    pub fn with_error(
        case: &str,
        quantity: &str,
        predicted: f64,
        measured: f64,
        error: f64,
        tolerance: f64,
        route: &str,
    ) -> Self {
        // a row whose tolerance is infinite (or NaN) cannot fail: it is an observation
        if !tolerance.is_finite() {
            return Self::observe(case, quantity, measured, route);
        }
        let verdict = if !(predicted.is_finite() && measured.is_finite() && error.is_finite()) {
            Verdict::Inconclusive(format!("{quantity}: non-finite value"))
        } else if error <= tolerance {
            Verdict::Pass
        } else {
            Verdict::Fail(format!("{quantity}: error {error:.3e} > tolerance {tolerance:.1e}"))
        };
        Self {
            case: case.into(),
            quantity: quantity.into(),
            predicted,
            measured,
            error,
            tolerance,
            route: route.into(),
            verdict,
            stats: None,
            observation: false,
        }
    }

    /// A figure that is reported, not compared: it never decides a verdict.
    pub fn observe(case: &str, quantity: &str, measured: f64, route: &str) -> Self {
        Self {
            case: case.into(),
            quantity: quantity.into(),
            predicted: f64::NAN,
            measured,
            error: f64::NAN,
            tolerance: f64::NAN,
            route: route.into(),
            verdict: Verdict::Pass,
            stats: None,
            observation: true,
        }
    }

    /// A row for a computation that did not produce a value (solver failure): INCONCLUSIVE.
    pub fn inconclusive(case: &str, quantity: &str, route: &str, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        Self {
            case: case.into(),
            quantity: quantity.into(),
            predicted: f64::NAN,
            measured: f64::NAN,
            error: f64::NAN,
            tolerance: f64::NAN,
            route: route.into(),
            verdict: Verdict::Inconclusive(format!("{quantity}: {reason}")),
            stats: None,
            observation: false,
        }
    }

    /// Attaches solver statistics.
    pub fn with_stats(mut self, stats: Stats) -> Self {
        self.stats = Some(stats);
        self
    }
}

/// The larger of two error measures, NaN if either is NaN (`f64::max` drops a NaN, which could
/// turn a failed computation into a small error and a PASS).
pub fn worst(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// The largest absolute entry, NaN if any entry is NaN (nalgebra's `amax` skips NaN).
pub fn worst_abs(v: &nalgebra::DVector<f64>) -> f64 {
    v.iter().fold(0.0, |m, e| worst(m, e.abs()))
}

/// Rounds to `digits` significant digits (for snapshots and reports).
pub fn round_sig(v: f64, digits: i32) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let mag = v.abs().log10().floor() as i32;
    let scale = 10f64.powi(digits - 1 - mag);
    (v * scale).round() / scale
}

/// Six significant digits, in scientific notation outside `[1e−4, 1e6)`.
pub fn display_number(v: f64) -> String {
    if v == 0.0 || (1e-4..1e6).contains(&v.abs()) {
        format!("{}", round_sig(v, 6))
    } else if v.is_finite() {
        format!("{v:.5e}")
    } else {
        format!("{v}")
    }
}

/// The order of magnitude `10^floor(log10 |v|)` (for noise-level figures in snapshots).
pub fn magnitude(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    10f64.powi(v.abs().log10().floor() as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_combine_fail_first() {
        let p = Verdict::Pass;
        let i = Verdict::Inconclusive("x".into());
        let f = Verdict::Fail("y".into());
        assert_eq!(Verdict::combine([&p, &p]), Verdict::Pass);
        assert_eq!(Verdict::combine([&p, &i]), i);
        assert_eq!(Verdict::combine([&i, &f, &p]), f);
        assert!(matches!(Verdict::combine([]), Verdict::Inconclusive(_)));
    }

    #[test]
    fn nan_is_never_a_pass() {
        let e = Evidence::compare("c", "q", 1.0, f64::NAN, 1.0, Metric::Absolute, "r");
        assert!(matches!(e.verdict, Verdict::Inconclusive(_)));
        let e = Evidence::compare("c", "q", 1.0, 1.5, 0.1, Metric::Relative, "r");
        assert!(matches!(e.verdict, Verdict::Fail(_)));
        assert_eq!(round_sig(123456.789, 3), 123000.0);
        assert_eq!(round_sig(-0.00123456, 2), -0.0012);
        assert_eq!(magnitude(3.7e-9), 1e-9);
        assert!(worst(1.0, f64::NAN).is_nan() && worst(f64::NAN, 0.0).is_nan());
        assert!(worst_abs(&nalgebra::DVector::from_vec(vec![1.0, f64::NAN])).is_nan());
    }
}
