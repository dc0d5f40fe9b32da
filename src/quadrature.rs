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
    }
}
