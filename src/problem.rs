//! Data and losses: `Problem { a, y, loss }` with `f(x)`, `∇f(x)` and `∇²f(x)`.

use crate::error::{InputError, InputResult};
use crate::rng::SplitMix64;
use nalgebra::{DMatrix, DVector};
use serde::Deserialize;

/// The loss on the linear predictions `Ax`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Loss {
    /// Regression: `f(x) = ½‖Ax − y‖²`.
    #[default]
    Squared,
    /// Classification, labels ±1: `f(x) = Σ_k exp(−y_k a_kᵀx)`.
    Exponential,
    /// Classification, labels ±1: `f(x) = Σ_k ln(1 + exp(−y_k a_kᵀx))`.
    Logistic,
    /// Classification, labels ±1: `f(x) = ln Σ_k exp(−y_k a_kᵀx)`, the log of the exponential loss F.
    /// Its ℓ_q steepest flow `ẇ = −φ_q(∇F/F) = −F^{1−q} φ_q(∇F)` is the exponential-loss flow after the
    /// time change `dt/ds = F^{1−q}`: the same path, but ‖x‖ grows polynomially in s instead of like
    /// ln t, and the softmax gradient never underflows.
    #[serde(rename = "log-exponential")]
    LogExponential,
}

/// A learning problem: data `A ∈ R^{n×d}`, targets or labels `y ∈ R^n`, and a loss.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// The data matrix, one sample per row.
    pub a: DMatrix<f64>,
    /// Targets (regression) or ±1 labels (classification).
    pub y: DVector<f64>,
    /// The loss.
    pub loss: Loss,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProblemFile {
    a: Vec<Vec<f64>>,
    y: Vec<f64>,
    #[serde(default)]
    loss: Loss,
}

/// The largest data matrix a run may build (samples × dimension entries; a budget).
pub const MAX_ENTRIES: usize = 10_000_000;

/// Validates the shape of a generated problem: `n, d ≥ 1` and `n·d ≤ MAX_ENTRIES`.
pub fn check_size(samples: usize, dim: usize) -> InputResult<()> {
    if samples == 0 {
        return Err(InputError::new("samples", "must be at least 1"));
    }
    if dim == 0 {
        return Err(InputError::new("dim", "must be at least 1"));
    }
    if samples.checked_mul(dim).is_none_or(|n| n > MAX_ENTRIES) {
        return Err(InputError::new(
            "samples",
            format!("{samples} × {dim} entries exceed the budget of {MAX_ENTRIES} per problem"),
        ));
    }
    Ok(())
}

impl Problem {
    /// A validated problem: `a` non-empty, `y.len() = a.nrows()`, every entry finite,
    /// labels ±1 for classification losses.
    pub fn new(a: DMatrix<f64>, y: DVector<f64>, loss: Loss) -> InputResult<Self> {
        if a.nrows() == 0 || a.ncols() == 0 {
            return Err(InputError::new("a", "the data matrix is empty"));
        }
        if a.len() > MAX_ENTRIES {
            return Err(InputError::new("a", format!("{} entries exceed the budget of {MAX_ENTRIES}", a.len())));
        }
        if y.len() != a.nrows() {
            return Err(InputError::new("y", format!("has {} entries but a has {} rows", y.len(), a.nrows())));
        }
        if let Some((k, v)) = a.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            let (r, c) = (k % a.nrows(), k / a.nrows());
            return Err(InputError::new(format!("a[{r}][{c}]"), format!("is not finite ({v})")));
        }
        if let Some((k, v)) = y.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(InputError::new(format!("y[{k}]"), format!("is not finite ({v})")));
        }
        if loss != Loss::Squared {
            if let Some((k, v)) = y.iter().enumerate().find(|(_, v)| v.abs() != 1.0) {
                return Err(InputError::new(format!("y[{k}]"), format!("classification labels must be ±1, got {v}")));
            }
        }
        Ok(Self { a, y, loss })
    }

    /// Parses `{"a": [[…], …], "y": […], "loss": "squared"}` (loss optional). `source` names the
    /// file in error messages.
    pub fn from_json(source: &str, text: &str) -> InputResult<Self> {
        // serde_json cannot represent NaN; a literal NaN is a syntax error that we name.
        let file: ProblemFile = serde_json::from_str(text).map_err(|e| {
            InputError::new(
                format!("{source}:{}", e.line()),
                format!("malformed problem file: {e} (expected {{\"a\": [[..],..], \"y\": [..]}})"),
            )
        })?;
        let n = file.a.len();
        let d = file.a.first().map_or(0, Vec::len);
        if let Some((r, row)) = file.a.iter().enumerate().find(|(_, row)| row.len() != d) {
            return Err(InputError::new(
                format!("{source}: a[{r}]"),
                format!("has {} entries but a[0] has {d}", row.len()),
            ));
        }
        let a = DMatrix::from_fn(n, d, |i, j| file.a[i][j]);
        let y = DVector::from_vec(file.y);
        Self::new(a, y, file.loss).map_err(|e| InputError::new(format!("{source}: {}", e.location), e.message))
    }

    /// Reads and parses a problem file (see [`Problem::from_json`]).
    pub fn load(path: &std::path::Path) -> InputResult<Self> {
        let source = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| InputError::new(&source, format!("cannot read: {e}")))?;
        Self::from_json(&source, &text)
    }

    /// Seeded Gaussian regression: `A_ij ~ N(0, 1)`, `y = A x*` with a `k`-sparse positive `x*`
    /// (`k = 0`: `y ~ N(0, 1)` instead).
    pub fn random_regression(seed: u64, n: usize, d: usize, sparsity: usize) -> Self {
        let mut rng = SplitMix64::new(seed);
        let a = DMatrix::from_fn(n, d, |_, _| rng.normal());
        let y = if sparsity == 0 {
            DVector::from_fn(n, |_, _| rng.normal())
        } else {
            let mut x_star = DVector::zeros(d);
            for j in 0..sparsity.min(d) {
                x_star[j] = 1.0 + rng.uniform();
            }
            &a * x_star
        };
        Self { a, y, loss: Loss::Squared }
    }

    /// Seeded separable classification with the exponential loss: `A_ij ~ N(0, 1)` and labels
    /// `y_k = sign(a_kᵀx*)` (ties → +1) of the teacher `x* = (teacher, 0, …)` (extra entries beyond d
    /// are dropped).
    pub fn separable(seed: u64, n: usize, d: usize, teacher: &[f64]) -> Self {
        let mut rng = SplitMix64::new(seed);
        let a = DMatrix::from_fn(n, d, |_, _| rng.normal());
        let y = DVector::from_fn(n, |k, _| {
            let s: f64 = teacher.iter().take(d).enumerate().map(|(j, t)| t * a[(k, j)]).sum();
            if s >= 0.0 {
                1.0
            } else {
                -1.0
            }
        });
        Self { a, y, loss: Loss::Exponential }
    }

    /// Number of samples n.
    pub fn samples(&self) -> usize {
        self.a.nrows()
    }

    /// Dimension d of x.
    pub fn dim(&self) -> usize {
        self.a.ncols()
    }

    /// The loss value `f(x)`.
    pub fn loss(&self, x: &DVector<f64>) -> f64 {
        let ax = &self.a * x;
        match self.loss {
            Loss::Squared => 0.5 * (ax - &self.y).norm_squared(),
            Loss::Exponential => ax.iter().zip(self.y.iter()).map(|(m, y)| (-y * m).exp()).sum(),
            Loss::Logistic => ax.iter().zip(self.y.iter()).map(|(m, y)| softplus(-y * m)).sum(),
            Loss::LogExponential => {
                let e = self.neg_margins(&ax);
                let top = e.max();
                top + e.iter().map(|v| (v - top).exp()).sum::<f64>().ln()
            }
        }
    }

    /// `−y_k (Ax)_k`, the negated margins.
    fn neg_margins(&self, ax: &DVector<f64>) -> DVector<f64> {
        -ax.component_mul(&self.y)
    }

    /// `softmax(−y ⊙ Ax)`, shifted by its largest entry so that it never overflows or underflows
    /// to all zeros.
    fn softmax(&self, ax: &DVector<f64>) -> DVector<f64> {
        let e = self.neg_margins(ax);
        let top = e.max();
        let p = e.map(|v| (v - top).exp());
        let total = p.sum();
        p / total
    }

    /// `∂f/∂(Ax)`: the residual `Ax − y` for the squared loss.
    fn outer_gradient(&self, ax: &DVector<f64>) -> DVector<f64> {
        match self.loss {
            Loss::Squared => ax - &self.y,
            Loss::Exponential => DVector::from_fn(ax.len(), |k, _| -self.y[k] * (-self.y[k] * ax[k]).exp()),
            Loss::Logistic => DVector::from_fn(ax.len(), |k, _| -self.y[k] * logistic(-self.y[k] * ax[k])),
            Loss::LogExponential => -self.softmax(ax).component_mul(&self.y),
        }
    }

    /// The gradient `∇f(x) = Aᵀ ∂f/∂(Ax)`.
    pub fn gradient(&self, x: &DVector<f64>) -> DVector<f64> {
        self.a.tr_mul(&self.outer_gradient(&(&self.a * x)))
    }

    /// `e^c ∇f(x)`; for the exponential loss computed as `Aᵀ(−y ⊙ e^{c − y⊙Ax})`, so that a vanishing
    /// gradient times a huge `e^c` stays finite (the log-time flows of [`crate::flow`]).
    pub fn scaled_gradient(&self, x: &DVector<f64>, c: f64) -> DVector<f64> {
        let ax = &self.a * x;
        match self.loss {
            Loss::Exponential => self.a.tr_mul(&self.neg_margins(&ax).zip_map(&self.y, |e, y| -y * (c + e).exp())),
            _ => self.a.tr_mul(&self.outer_gradient(&ax)) * c.exp(),
        }
    }

    /// The Hessian `∇²f(x) = Aᵀ H A`, H the Hessian in `Ax`: `I` (squared), `diag(f_k'')` (exponential,
    /// logistic), `diag(y)(diag(p) − ppᵀ)diag(y)` with `p` the softmax (log-exponential).
    pub fn hessian(&self, x: &DVector<f64>) -> DMatrix<f64> {
        let ax = &self.a * x;
        let outer = match self.loss {
            Loss::Squared => DMatrix::identity(ax.len(), ax.len()),
            Loss::Exponential => DMatrix::from_diagonal(&self.neg_margins(&ax).map(f64::exp)),
            Loss::Logistic => DMatrix::from_diagonal(&self.neg_margins(&ax).map(|m| {
                let s = logistic(m);
                s * (1.0 - s)
            })),
            Loss::LogExponential => {
                let p = self.softmax(&ax);
                let yp = p.component_mul(&self.y);
                DMatrix::from_diagonal(&p) - &yp * yp.transpose()
            }
        };
        self.a.tr_mul(&outer) * &self.a
    }
}

fn logistic(m: f64) -> f64 {
    1.0 / (1.0 + (-m).exp())
}

fn softplus(m: f64) -> f64 {
    if m > 30.0 {
        m + (-m).exp()
    } else {
        m.exp().ln_1p()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_a_valid_file() {
        let p = Problem::from_json("p.json", r#"{"a": [[1, 2], [3, 4], [5, 6]], "y": [1, 0, -1]}"#).unwrap();
        assert_eq!((p.samples(), p.dim()), (3, 2));
        assert_eq!(p.a[(2, 1)], 6.0);
    }

    #[test]
    fn rejects_bad_files_naming_the_field() {
        let e = Problem::from_json("p.json", r#"{"a": [[1, 2], [3, 4]], "y": [1]}"#).unwrap_err();
        assert!(e.to_string().contains("y") && e.to_string().contains("2 rows"), "{e}");
        let e = Problem::from_json("p.json", r#"{"a": [[1, 2], [3]], "y": [1, 2]}"#).unwrap_err();
        assert!(e.to_string().contains("a[1]"), "{e}");
        let e = Problem::from_json("p.json", r#"{"a": [[1, NaN]], "y": [1]}"#).unwrap_err();
        assert!(e.to_string().starts_with("p.json:1"), "{e}");
        let e = Problem::from_json("p.json", r#"{"a": [[1, 1e999]], "y": [1]}"#).unwrap_err();
        assert!(e.to_string().contains("a[0][1]") || e.to_string().contains("p.json"), "{e}");
        let e = Problem::from_json("p.json", r#"{"a": [], "y": []}"#).unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
    }

    #[test]
    fn gradient_and_hessian_match_finite_differences() {
        for loss in [Loss::Squared, Loss::Exponential, Loss::Logistic, Loss::LogExponential] {
            let mut p = Problem::random_regression(3, 4, 3, 0);
            p.y = p.y.map(|v| if v >= 0.0 { 1.0 } else { -1.0 });
            p.loss = loss;
            let x = DVector::from_vec(vec![0.3, -0.2, 0.1]);
            let g = p.gradient(&x);
            let h = p.hessian(&x);
            let eps = 1e-6;
            for j in 0..3 {
                let mut e = DVector::zeros(3);
                e[j] = eps;
                // central differences: error O(eps²) ≈ 1e-12 times third derivatives of O(10)
                let fd = (p.loss(&(&x + &e)) - p.loss(&(&x - &e))) / (2.0 * eps);
                assert!((fd - g[j]).abs() < 1e-7 * (1.0 + g[j].abs()), "{loss:?}");
                let fdg = (p.gradient(&(&x + &e)) - p.gradient(&(&x - &e))) / (2.0 * eps);
                assert!((fdg - h.column(j)).norm() < 1e-6 * (1.0 + h.norm()), "{loss:?}");
            }
            // e^c ∇f by the stable route vs the plain product (rounding only)
            let scaled = p.scaled_gradient(&x, 3.0);
            assert!((&scaled - g * 3f64.exp()).norm() < 1e-12 * (1.0 + scaled.norm()), "{loss:?}");
        }
    }
}
