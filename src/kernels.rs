//! Matrix–vector products `A x` and `Aᵀ r` for the right-hand sides of the gradient flows.
//!
//! They are most of the cost of a right-hand side at d = 500 (two 100 × 500 products, 13–17 µs each
//! with nalgebra, of 33 µs per right-hand side in the GF bench; 6–10 µs each here). On x86-64 with
//! AVX2 and FMA (detected at run time) they run as fused multiply-adds over plain slices (`A x` four
//! columns a pass, `Aᵀ r` one dot product per column in 16 partial sums); elsewhere nalgebra's own
//! products run. The two routes round differently, so results agree to rounding, not bit for bit,
//! across machines. Only the gradient mirror flow's range coordinates use them (sign flows, whose
//! event sequences can move with the last bits, keep nalgebra's products).

use nalgebra::{DMatrix, DVector};

/// `A x`.
pub fn mul(a: &DMatrix<f64>, x: &DVector<f64>) -> DVector<f64> {
    assert_eq!(a.ncols(), x.len(), "A x: A has {} columns, x has {} entries", a.ncols(), x.len());
    #[cfg(target_arch = "x86_64")]
    if fused_available(a) {
        let mut y = DVector::zeros(a.nrows());
        // SAFETY: the CPU has AVX2 and FMA (checked just above), the only requirement of the
        // target-feature function; the slices' lengths are checked by the assertion.
        unsafe { fused::mul(a.as_slice(), a.nrows(), x.as_slice(), y.as_mut_slice()) };
        return y;
    }
    a * x
}

/// `Aᵀ r`.
pub fn tr_mul(a: &DMatrix<f64>, r: &DVector<f64>) -> DVector<f64> {
    assert_eq!(a.nrows(), r.len(), "Aᵀ r: A has {} rows, r has {} entries", a.nrows(), r.len());
    #[cfg(target_arch = "x86_64")]
    if fused_available(a) {
        let mut out = DVector::zeros(a.ncols());
        // SAFETY: as in `mul`.
        unsafe { fused::tr_mul(a.as_slice(), a.nrows(), r.as_slice(), out.as_mut_slice()) };
        return out;
    }
    a.tr_mul(r)
}

/// `A x` with `x_k = φ(z₀_k − a_kᵀλ)` (`a_k` the k-th column): the range-coordinate right-hand
/// side of the gradient mirror flow in one pass over A, each column read once for its dot product
/// with λ and again, from cache, for its share `x_k a_k` of the product (two products' worth of
/// arithmetic, one product's worth of memory traffic).
pub fn range_product(
    a: &DMatrix<f64>,
    z0: &DVector<f64>,
    lambda: &DVector<f64>,
    phi: &dyn Fn(f64) -> f64,
) -> DVector<f64> {
    assert_eq!(a.ncols(), z0.len(), "range product: A has {} columns, z₀ has {} entries", a.ncols(), z0.len());
    assert_eq!(a.nrows(), lambda.len(), "range product: A has {} rows, λ has {} entries", a.nrows(), lambda.len());
    #[cfg(target_arch = "x86_64")]
    if fused_available(a) {
        let mut y = DVector::zeros(a.nrows());
        // SAFETY: as in `mul`; the lengths are checked by the assertions.
        unsafe {
            fused::range_product(a.as_slice(), a.nrows(), z0.as_slice(), lambda.as_slice(), phi, y.as_mut_slice())
        };
        return y;
    }
    range_product_portable(a, z0, lambda, phi)
}

/// [`range_product`] by nalgebra's column dot products and updates (CPUs without AVX2 and FMA).
fn range_product_portable(
    a: &DMatrix<f64>,
    z0: &DVector<f64>,
    lambda: &DVector<f64>,
    phi: &dyn Fn(f64) -> f64,
) -> DVector<f64> {
    let mut y = DVector::zeros(a.nrows());
    for (k, column) in a.column_iter().enumerate() {
        let x = phi(z0[k] - column.dot(lambda));
        y.axpy(x, &column, 1.0);
    }
    y
}

/// Whether the fused route runs: a CPU with AVX2 and FMA, and an A with rows (the kernels walk
/// A in columns of n ≥ 1 entries).
#[cfg(target_arch = "x86_64")]
fn fused_available(a: &DMatrix<f64>) -> bool {
    a.nrows() > 0 && std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

#[cfg(target_arch = "x86_64")]
mod fused {
    //! Column-major kernels compiled for AVX2 + FMA; plain slices, so LLVM vectorises the
    //! independent per-row updates and the 16 independent partial sums of each dot product.

    /// `y = A x` for column-major `a` with `n` rows: `y += Σ_k x_k a_k`, four columns a pass.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn mul(a: &[f64], n: usize, x: &[f64], y: &mut [f64]) {
        y.fill(0.0);
        let mut cols = a.chunks_exact(4 * n);
        let mut xs = x.chunks_exact(4);
        for (block, xk) in (&mut cols).zip(&mut xs) {
            let (c0, rest) = block.split_at(n);
            let (c1, rest) = rest.split_at(n);
            let (c2, c3) = rest.split_at(n);
            for i in 0..n {
                y[i] = c3[i].mul_add(xk[3], c2[i].mul_add(xk[2], c1[i].mul_add(xk[1], c0[i].mul_add(xk[0], y[i]))));
            }
        }
        for (c, xk) in cols.remainder().chunks_exact(n).zip(xs.remainder()) {
            for i in 0..n {
                y[i] = c[i].mul_add(*xk, y[i]);
            }
        }
    }

    /// The dot product of two equal-length slices in 16 interleaved partial sums (four 4-lane
    /// accumulators; a pairwise reduction of the 16 measured slower than the plain sum).
    #[target_feature(enable = "avx2,fma")]
    fn dot(c: &[f64], r: &[f64]) -> f64 {
        let mut acc = [0.0f64; 16];
        let (cb, rb) = (c.chunks_exact(16), r.chunks_exact(16));
        let (ct, rt) = (cb.remainder(), rb.remainder());
        for (cc, rr) in cb.zip(rb) {
            for k in 0..16 {
                acc[k] = cc[k].mul_add(rr[k], acc[k]);
            }
        }
        let mut tail = 0.0;
        for (ci, ri) in ct.iter().zip(rt) {
            tail = ci.mul_add(*ri, tail);
        }
        acc.iter().sum::<f64>() + tail
    }

    /// `y = Σ_k φ(z₀_k − a_k·λ) a_k` for column-major `a` with `n` rows.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn range_product(
        a: &[f64],
        n: usize,
        z0: &[f64],
        lambda: &[f64],
        phi: &dyn Fn(f64) -> f64,
        y: &mut [f64],
    ) {
        y.fill(0.0);
        for (c, z) in a.chunks_exact(n).zip(z0) {
            let x = phi(z - dot(c, lambda));
            for (yi, ci) in y.iter_mut().zip(c) {
                *yi = ci.mul_add(x, *yi);
            }
        }
    }

    /// `out = Aᵀ r` for column-major `a` with `n` rows: one [`dot`] per column.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn tr_mul(a: &[f64], n: usize, r: &[f64], out: &mut [f64]) {
        for (o, c) in out.iter_mut().zip(a.chunks_exact(n)) {
            *o = dot(c, r);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_match_nalgebra() {
        // shapes that leave remainders in both the 4-column and the 16-row blocking, and an A
        // without rows; the routes sum the same n or d products in different orders: a worst-case
        // bound is n·ε·Σ|terms| (5.6e-14 at d = 500), the measured gap is below 1e-14·Σ|terms|
        for (n, d) in [(1, 1), (3, 5), (17, 9), (100, 500), (33, 130), (0, 3)] {
            let a = DMatrix::from_fn(n, d, |i, j| ((i * 7 + j * 3) as f64 * 0.37).sin());
            let x = DVector::from_fn(d, |j, _| ((j as f64) * 1.3).cos());
            let r = DVector::from_fn(n, |i, _| ((i as f64) * 0.7).sin() - 0.2);
            let (y, y_ref) = (mul(&a, &x), &a * &x);
            let scale_y = a.abs() * x.abs();
            for i in 0..n {
                assert!((y[i] - y_ref[i]).abs() <= 1e-14 * scale_y[i], "A x ({n}×{d}) row {i}");
            }
            // both routes of the range product against its definition, A φ(z₀ − Aᵀλ), φ = tanh
            let z0 = DVector::from_fn(d, |j, _| ((j as f64) * 0.4).sin());
            let x_ref = (&z0 - a.tr_mul(&r)).map(f64::tanh);
            let (p_ref, scale_p) = (&a * &x_ref, a.abs() * x_ref.abs());
            let dot_scale = a.abs().tr_mul(&r.abs()).max();
            for (route, p) in [
                ("dispatched", range_product(&a, &z0, &r, &f64::tanh)),
                ("portable", range_product_portable(&a, &z0, &r, &f64::tanh)),
            ] {
                assert_eq!(p.len(), n, "{route} ({n}×{d})");
                for i in 0..n {
                    // tanh is 1-Lipschitz: a dot product's rounding (≤ 1e-14 Σ|a||r|) moves x_k by as
                    // much, and row i sums Σ_k |a_ik| of those
                    let slack = 1e-14 * (scale_p[i] + a.row(i).abs().sum() * dot_scale);
                    assert!((p[i] - p_ref[i]).abs() <= slack, "{route} range product ({n}×{d}) row {i}");
                }
            }
            let (g, g_ref) = (tr_mul(&a, &r), a.tr_mul(&r));
            assert_eq!(g.len(), d);
            let scale_g = a.abs().tr_mul(&r.abs());
            for j in 0..d {
                assert!((g[j] - g_ref[j]).abs() <= 1e-14 * scale_g[j], "Aᵀ r ({n}×{d}) column {j}");
            }
        }
    }
}
