//! The one scalar root finder: Brent's method on a bracket, with bracket expansion for monotone
//! functions. Used by the potentials (balance-law inversion, `(R')^{-1}`) and by event location.

use thiserror::Error;

/// Why a root could not be found.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum RootError {
    /// `f(a)` and `f(b)` have the same sign.
    #[error("no sign change on [{a}, {b}] (f = {fa}, {fb})")]
    NotBracketed {
        /// Left end.
        a: f64,
        /// Right end.
        b: f64,
        /// `f(a)`.
        fa: f64,
        /// `f(b)`.
        fb: f64,
    },
    /// The function returned NaN.
    #[error("function returned NaN at {0}")]
    NaN(f64),
    /// The iteration limit was hit.
    #[error("no convergence in {0} iterations")]
    NoConvergence(usize),
}

/// A root of `f` in `[a, b]` by Brent's method (inverse quadratic interpolation safeguarded by
/// bisection), to absolute tolerance `tol` in x (or an exact zero).
pub fn brent(f: impl FnMut(f64) -> f64, a: f64, b: f64, tol: f64) -> Result<f64, RootError> {
    brent_bracket(f, a, b, tol).map(|r| r.best)
}

/// The final bracket of [`brent_bracket`]: its best estimate and the other end, with the values of
/// `f` there (opposite signs, or an exact zero at both).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bracket {
    /// Brent's estimate of the root.
    pub best: f64,
    /// `f(best)`.
    pub f_best: f64,
    /// The other end of the final bracket (`|other − best| ≤ tol + 4ε|best|`).
    pub other: f64,
    /// `f(other)`.
    pub f_other: f64,
}

impl Bracket {
    /// The end where `f ≥ 0`: the first point past a crossing of an increasing level.
    pub fn nonnegative_end(&self) -> f64 {
        if self.f_best >= 0.0 {
            self.best
        } else {
            self.other
        }
    }
}

/// [`brent`] returning the final bracket, for callers that need a particular side of the root.
pub fn brent_bracket(mut f: impl FnMut(f64) -> f64, a: f64, b: f64, tol: f64) -> Result<Bracket, RootError> {
    let (mut a, mut b) = (a, b);
    let (mut fa, mut fb) = (f(a), f(b));
    for (x, fx) in [(a, fa), (b, fb)] {
        if fx.is_nan() {
            return Err(RootError::NaN(x));
        }
    }
    if fa == 0.0 {
        return Ok(Bracket { best: a, f_best: fa, other: a, f_other: fa });
    }
    if fb == 0.0 {
        return Ok(Bracket { best: b, f_best: fb, other: b, f_other: fb });
    }
    if fa.signum() == fb.signum() {
        return Err(RootError::NotBracketed { a, b, fa, fb });
    }
    let (mut c, mut fc) = (a, fa);
    let mut d = b - a;
    let mut e = d;
    const MAX_ITER: usize = 200;
    for _ in 0..MAX_ITER {
        if fb.signum() == fc.signum() {
            c = a;
            fc = fa;
            d = b - a;
            e = d;
        }
        if fc.abs() < fb.abs() {
            a = b;
            b = c;
            c = a;
            fa = fb;
            fb = fc;
            fc = fa;
        }
        let tol1 = 2.0 * f64::EPSILON * b.abs() + 0.5 * tol;
        let xm = 0.5 * (c - b);
        if xm.abs() <= tol1 || fb == 0.0 {
            return Ok(Bracket { best: b, f_best: fb, other: c, f_other: fc });
        }
        if e.abs() >= tol1 && fa.abs() > fb.abs() {
            let s = fb / fa;
            let (mut p, mut q);
            if a == c {
                p = 2.0 * xm * s;
                q = 1.0 - s;
            } else {
                let qq = fa / fc;
                let r = fb / fc;
                p = s * (2.0 * xm * qq * (qq - r) - (b - a) * (r - 1.0));
                q = (qq - 1.0) * (r - 1.0) * (s - 1.0);
            }
            if p > 0.0 {
                q = -q;
            }
            p = p.abs();
            if 2.0 * p < (3.0 * xm * q - (tol1 * q).abs()).min((e * q).abs()) {
                e = d;
                d = p / q;
            } else {
                d = xm;
                e = d;
            }
        } else {
            d = xm;
            e = d;
        }
        a = b;
        fa = fb;
        b += if d.abs() > tol1 { d } else { tol1.copysign(xm) };
        fb = f(b);
        if fb.is_nan() {
            return Err(RootError::NaN(b));
        }
    }
    Err(RootError::NoConvergence(MAX_ITER))
}

/// The root of an increasing function `f` with `f(lo) ≤ 0` at a known lower end, found by doubling
/// an upper end from `lo + step` until `f` changes sign (at most 200 doublings).
pub fn root_increasing(mut f: impl FnMut(f64) -> f64, lo: f64, step: f64, tol: f64) -> Result<f64, RootError> {
    let mut width = step.abs().max(f64::MIN_POSITIVE);
    for _ in 0..200 {
        let hi = lo + width;
        let fh = f(hi);
        if fh.is_nan() {
            return Err(RootError::NaN(hi));
        }
        if fh >= 0.0 {
            return brent(f, lo, hi, tol);
        }
        width *= 2.0;
    }
    Err(RootError::NoConvergence(200))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_roots_to_tolerance() {
        let r = brent(|x| x * x - 2.0, 0.0, 2.0, 1e-14).unwrap();
        assert!((r - 2f64.sqrt()).abs() < 1e-13);
        let r = brent(|x| x.cos() - x, 0.0, 1.0, 1e-15).unwrap();
        assert!((r.cos() - r).abs() < 1e-14);
        let r = root_increasing(|x| x.powi(3) - 1000.0, 0.0, 1e-3, 1e-12).unwrap();
        assert!((r - 10.0).abs() < 1e-10);
    }

    #[test]
    fn the_final_bracket_straddles_the_root() {
        // x³ − 2 on [0, 2]: both ends within the tolerance of 2^{1/3}, f of opposite signs, and the
        // nonnegative end on the side past the root
        let r = brent_bracket(|x| x.powi(3) - 2.0, 0.0, 2.0, 1e-12).unwrap();
        let root = 2f64.cbrt();
        assert!((r.best - root).abs() <= 1e-12 && (r.other - root).abs() <= 2e-12, "{r:?}");
        assert!(r.f_best * r.f_other <= 0.0, "{r:?}");
        assert!(r.nonnegative_end() >= root && r.nonnegative_end().powi(3) - 2.0 >= 0.0, "{r:?}");
    }

    #[test]
    fn reports_missing_brackets() {
        assert!(matches!(brent(|x| x * x + 1.0, -1.0, 1.0, 1e-12), Err(RootError::NotBracketed { .. })));
        assert!(matches!(brent(|_| f64::NAN, -1.0, 1.0, 1e-12), Err(RootError::NaN(_))));
    }
}
