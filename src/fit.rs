//! Least-squares line fits (rates, orders and scaling exponents from sweeps).

use serde::Serialize;

/// A least-squares line `y ≈ intercept + slope·x`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Fit {
    /// Slope.
    pub slope: f64,
    /// Intercept.
    pub intercept: f64,
    /// Largest absolute residual.
    pub max_residual: f64,
}

/// The least-squares line through `(x, y)` points (at least two distinct x).
pub fn fit_line(points: &[(f64, f64)]) -> Fit {
    let n = points.len() as f64;
    let (mx, my) = points.iter().fold((0.0, 0.0), |(a, b), (x, y)| (a + x / n, b + y / n));
    let (num, den) =
        points.iter().fold((0.0, 0.0), |(a, b), (x, y)| (a + (x - mx) * (y - my), b + (x - mx) * (x - mx)));
    let slope = num / den;
    let intercept = my - slope * mx;
    let max_residual = points.iter().map(|(x, y)| (y - intercept - slope * x).abs()).fold(0.0, f64::max);
    Fit { slope, intercept, max_residual }
}
