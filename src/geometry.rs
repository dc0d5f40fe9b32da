//! Steepest-descent geometry: the ℓ_q steepest map and its dual exponent.

/// Sign with `sign(0) = 0` (unlike [`f64::signum`], which returns 1 at +0).
pub fn sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// The steepest map `φ_q(g) = sign(g)|g|^(q−1)`; `φ_1 = sign`, `φ_2 = id`.
pub fn steepest_map(q: f64, g: f64) -> f64 {
    if q == 1.0 {
        sign(g)
    } else if q == 2.0 {
        g
    } else {
        sign(g) * g.abs().powf(q - 1.0)
    }
}

/// The dual exponent `p = q/(q−1)` (∞ for q = 1).
pub fn dual_exponent(q: f64) -> f64 {
    if q == 1.0 {
        f64::INFINITY
    } else {
        q / (q - 1.0)
    }
}

/// The balanced-mirror exponent `e = q(L−1)/L` of THEORY §3: `R''(x) = |x|^(−e)/L`.
pub fn mirror_exponent(depth: usize, q: f64) -> f64 {
    q * (depth as f64 - 1.0) / depth as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_of_zero_is_zero() {
        assert_eq!(sign(0.0), 0.0);
        assert_eq!(sign(-0.0), 0.0);
        assert_eq!(steepest_map(1.0, 0.0), 0.0);
    }

    #[test]
    fn steepest_map_interpolates_sign_and_identity() {
        assert_eq!(steepest_map(2.0, -3.0), -3.0);
        assert_eq!(steepest_map(1.0, -3.0), -1.0);
        assert!((steepest_map(1.5, -4.0) + 2.0).abs() < 1e-15);
        assert_eq!(dual_exponent(2.0), 2.0);
        assert_eq!(dual_exponent(1.5), 3.0);
    }
}
