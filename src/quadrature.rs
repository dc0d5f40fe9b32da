//! Gauss–Legendre quadrature, composite on a dyadic mesh graded towards the left end so that
//! integrable power singularities there (`|x|^(−e)`, e < 1) are resolved.

use std::sync::OnceLock;

const ORDER: usize = 20;
/// Number of dyadic panels `[b 2^(−k−1), b 2^(−k)]`; the neglected piece `[0, b 2^(−60)]` contributes
/// `O(2^(−60(1−e)))` for a singularity `|x|^(−e)`.
const PANELS: i32 = 60;

/// Nodes and weights of the 20-point Gauss–Legendre rule on [−1, 1] (Newton on `P_20`).
fn rule() -> &'static [(f64, f64); ORDER] {
    static RULE: OnceLock<[(f64, f64); ORDER]> = OnceLock::new();
    RULE.get_or_init(|| {
        let n = ORDER;
        let mut out = [(0.0, 0.0); ORDER];
        for (i, slot) in out.iter_mut().enumerate() {
            let mut x = (std::f64::consts::PI * (i as f64 + 0.75) / (n as f64 + 0.5)).cos();
            let mut dp = 0.0;
            for _ in 0..100 {
                let (mut p0, mut p1) = (1.0, x);
                for k in 2..=n {
                    let p2 = ((2 * k - 1) as f64 * x * p1 - (k - 1) as f64 * p0) / k as f64;
                    p0 = p1;
                    p1 = p2;
                }
                dp = n as f64 * (x * p1 - p0) / (x * x - 1.0);
                let dx = p1 / dp;
                x -= dx;
                if dx.abs() < 1e-16 {
                    break;
                }
            }
            *slot = (x, 2.0 / ((1.0 - x * x) * dp * dp));
        }
        out
    })
}

/// `∫_a^b f` by the 20-point rule on one panel.
pub fn gauss_legendre(f: &mut impl FnMut(f64) -> f64, a: f64, b: f64) -> f64 {
    let (mid, half) = (0.5 * (a + b), 0.5 * (b - a));
    rule().iter().map(|&(x, w)| w * f(mid + half * x)).sum::<f64>() * half
}

/// `∫_0^b f(x) dx` for `f` smooth on (0, b] with at most an integrable power singularity at 0.
pub fn integrate_from_zero(mut f: impl FnMut(f64) -> f64, b: f64) -> f64 {
    if b == 0.0 {
        return 0.0;
    }
    let mut total = 0.0;
    let mut hi = b;
    for _ in 0..PANELS {
        let lo = 0.5 * hi;
        total += gauss_legendre(&mut f, lo, hi);
        hi = lo;
    }
    total
}

/// `∫_1^b f(s) ds` for b > 0 in the variable u = ln s, `∫_0^{ln b} f(e^u) e^u du`, by the 20-point rule
/// on unit panels in u: resolves integrands like `1/s` or `s^(−e)` (e ≥ 1) whose integral from 0
/// diverges, over any number of decades. NaN unless b is positive and finite.
pub fn integrate_from_one(mut f: impl FnMut(f64) -> f64, b: f64) -> f64 {
    if !(b > 0.0 && b.is_finite()) {
        return f64::NAN;
    }
    let end = b.ln();
    let panels = end.abs().ceil().max(1.0);
    let width = end / panels;
    let mut g = |u: f64| {
        let s = u.exp();
        f(s) * s
    };
    (0..panels as usize).map(|k| gauss_legendre(&mut g, k as f64 * width, (k + 1) as f64 * width)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integrates_smooth_and_singular_functions() {
        // exact: ∫_0^2 x³ = 4; ∫_0^1 x^(−1/2) = 2; ∫_0^1 x^(-2/3) = 3
        assert!((integrate_from_zero(|x| x.powi(3), 2.0) - 4.0).abs() < 1e-13);
        assert!((integrate_from_zero(|x| x.powf(-0.5), 1.0) - 2.0).abs() < 1e-8);
        assert!((integrate_from_zero(|x| x.powf(-2.0 / 3.0), 1.0) - 3.0).abs() < 1e-5);
        assert!((gauss_legendre(&mut |x: f64| x.cos(), 0.0, 1.0) - 1f64.sin()).abs() < 1e-15);
        // exact: ∫_1^b ds/s = ln b over 26 decades either way; ∫_1^b s^(−3/2) = 2(1 − b^(−1/2))
        for b in [1e-12, 0.3, 7.0, 1e14] {
            assert!((integrate_from_one(|s| 1.0 / s, b) - b.ln()).abs() < 1e-13 * (1.0 + b.ln().abs()));
            let exact = 2.0 * (1.0 - b.powf(-0.5));
            assert!((integrate_from_one(|s| s.powf(-1.5), b) - exact).abs() < 1e-12 * (1.0 + exact.abs()), "{b}");
        }
    }
}
