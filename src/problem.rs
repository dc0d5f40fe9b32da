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

    /// Reads and parses a JSON problem file (see [`Problem::from_json`]).
    pub fn load(path: &std::path::Path) -> InputResult<Self> {
        Self::load_data(path, None)
    }

    /// The one loader of `--data`, by the file's extension:
    /// - `.json`: `{"a": [[…], …], "y": […], "loss": …}` ([`Problem::from_json`]; `targets` must be None);
    /// - `.csv`: the matrix A, one sample per row, comma-separated numbers (a header row, i.e. a first
    ///   row that is not all numbers, is skipped), with `targets` a CSV file of the n targets (one
    ///   per row or all in one row, a header row skipped likewise);
    /// - `.npy`: the matrix A (float64, 2-D, C or Fortran order), with `targets` a `.npy` (1-D, or
    ///   n × 1) or `.csv` file;
    /// - `.npz`: the arrays `a` and `y` of one archive (`np.savez(path, a=A, y=y)`).
    ///
    /// Numbers parse correctly rounded in every format, so copies of the same data give the same
    /// problem bit for bit. CSV and NumPy data have the squared loss.
    pub fn load_data(path: &std::path::Path, targets: Option<&std::path::Path>) -> InputResult<Self> {
        let source = path.display().to_string();
        let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).unwrap_or_default();
        let needs_targets = |what: &str| {
            InputError::new("--targets", format!("{what} data ({source}) needs the targets in a file of their own"))
        };
        let (a, y) = match (ext.as_str(), targets) {
            ("json", None) => {
                let text =
                    std::fs::read_to_string(path).map_err(|e| InputError::new(&source, format!("cannot read: {e}")))?;
                return Self::from_json(&source, &text);
            }
            ("json", Some(_)) | ("npz", Some(_)) => {
                return Err(InputError::new("--targets", format!("{source} holds its targets already")));
            }
            ("csv", Some(t)) => (read_csv(path)?, read_targets(t)?),
            ("npy", Some(t)) => (read_npy(&source, open(path)?)?, read_targets(t)?),
            ("npz", None) => read_npz(path)?,
            ("csv", None) => return Err(needs_targets("CSV")),
            ("npy", None) => return Err(needs_targets(".npy")),
            _ => {
                return Err(InputError::new(&source, "unknown data format: expected .json, .csv, .npy or .npz"));
            }
        };
        let (n, d) = (a.nrows, a.ncols);
        let y = DVector::from_vec(y);
        let a = a.into_matrix();
        if y.len() != n {
            return Err(InputError::new(
                format!("{}: y", targets.map_or(source.clone(), |t| t.display().to_string())),
                format!("has {} entries but a has {n} rows (a is {n} × {d})", y.len()),
            ));
        }
        Self::new(a, y, Loss::Squared).map_err(|e| InputError::new(format!("{source}: {}", e.location), e.message))
    }

    /// The problem with its loss scaled: `Sum` leaves `f = ½‖Ax − y‖²`; `Mean` gives
    /// `f = 1/(2n)‖Ax − y‖²` by scaling A and y by `1/√n` (each entry rounded once). Only the
    /// squared loss has a mean form here.
    pub fn with_loss_scale(self, scale: LossScale) -> InputResult<Self> {
        match scale {
            LossScale::Sum => Ok(self),
            LossScale::Mean if self.loss != Loss::Squared => {
                Err(InputError::new("--loss-scale", "mean is defined for the squared loss only"))
            }
            LossScale::Mean => {
                let root = (self.samples() as f64).sqrt();
                Ok(Self { a: self.a / root, y: self.y / root, loss: self.loss })
            }
        }
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

    /// `ℓ'(Ax) = ∂f/∂(Ax)`: the residual `Ax − y` for the squared loss.
    pub fn outer_gradient(&self, ax: &DVector<f64>) -> DVector<f64> {
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

    /// One component `∂f/∂x_k = A_kᵀ ℓ'(Ax)` (column k of A against the outer gradient: half the work
    /// of the whole gradient).
    pub fn gradient_component(&self, x: &DVector<f64>, k: usize) -> f64 {
        self.a.column(k).dot(&self.outer_gradient(&(&self.a * x)))
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

    /// The Hessian `∇²f(x) = Aᵀ H A` with H the [`Problem::outer_hessian`] at `Ax`.
    pub fn hessian(&self, x: &DVector<f64>) -> DMatrix<f64> {
        self.a.tr_mul(&self.outer_hessian(&(&self.a * x))) * &self.a
    }

    /// `H = ∂²f/∂(Ax)²` at `ax`: `I` (squared), `diag(f_k'')` (exponential, logistic),
    /// `diag(y)(diag(p) − ppᵀ)diag(y)` with `p` the softmax (log-exponential).
    pub fn outer_hessian(&self, ax: &DVector<f64>) -> DMatrix<f64> {
        match self.outer_hessian_diagonal(ax) {
            Some(h) => DMatrix::from_diagonal(&h),
            None => {
                let p = self.softmax(ax);
                let yp = p.component_mul(&self.y);
                DMatrix::from_diagonal(&p) - &yp * yp.transpose()
            }
        }
    }

    /// `H M` for `H` = [`Problem::outer_hessian`] at `ax`, in O(n·m) (H is diagonal, or diagonal
    /// minus rank one) instead of a dense n × n product.
    pub fn outer_hessian_mul(&self, ax: &DVector<f64>, mut m: DMatrix<f64>) -> DMatrix<f64> {
        let scale_rows = |m: &mut DMatrix<f64>, h: &DVector<f64>| {
            for (mut row, hk) in m.row_iter_mut().zip(h.iter()) {
                row *= *hk;
            }
        };
        match self.outer_hessian_diagonal(ax) {
            Some(h) => {
                scale_rows(&mut m, &h);
                m
            }
            None => {
                let p = self.softmax(ax);
                let yp = p.component_mul(&self.y);
                let rank_one = &yp * (yp.transpose() * &m);
                scale_rows(&mut m, &p);
                m - rank_one
            }
        }
    }

    /// The diagonal of `H` when the outer loss is separable (squared: ones; exponential: `e^{−y_k m_k}`;
    /// logistic: `s(1 − s)`); None for the log-exponential loss, whose H couples the samples.
    fn outer_hessian_diagonal(&self, ax: &DVector<f64>) -> Option<DVector<f64>> {
        match self.loss {
            Loss::Squared => Some(DVector::from_element(ax.len(), 1.0)),
            Loss::Exponential => Some(self.neg_margins(ax).map(f64::exp)),
            Loss::Logistic => Some(self.neg_margins(ax).map(|m| {
                let s = logistic(m);
                s * (1.0 - s)
            })),
            Loss::LogExponential => None,
        }
    }
}

/// How the squared loss is normalised over the n samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LossScale {
    /// `f(x) = ½‖Ax − y‖²` (the default).
    #[default]
    Sum,
    /// `f(x) = 1/(2n)‖Ax − y‖²`.
    Mean,
}

/// A data matrix read row by row (C order) or column by column (Fortran order).
struct Matrix {
    nrows: usize,
    ncols: usize,
    values: Vec<f64>,
    column_major: bool,
}

impl Matrix {
    fn into_matrix(self) -> DMatrix<f64> {
        if self.column_major {
            DMatrix::from_vec(self.nrows, self.ncols, self.values)
        } else {
            DMatrix::from_row_slice(self.nrows, self.ncols, &self.values)
        }
    }
}

fn open(path: &std::path::Path) -> InputResult<std::fs::File> {
    std::fs::File::open(path).map_err(|e| InputError::new(path.display().to_string(), format!("cannot read: {e}")))
}

/// The rows of a CSV file of numbers (the csv crate; fields trimmed; a first row that is not all
/// numbers is a header and skipped). Every row must have the same number of fields.
fn csv_rows(path: &std::path::Path) -> InputResult<Vec<Vec<f64>>> {
    let source = path.display().to_string();
    let mut reader =
        csv::ReaderBuilder::new().has_headers(false).trim(csv::Trim::All).comment(Some(b'#')).from_reader(open(path)?);
    let mut rows = Vec::new();
    for (k, record) in reader.records().enumerate() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(String::new(), |p| format!(":{}", p.line()));
            InputError::new(format!("{source}{line}"), format!("malformed CSV: {e}"))
        })?;
        let line = record.position().map_or(k as u64 + 1, |p| p.line());
        let parsed: Vec<Result<f64, &str>> = record.iter().map(|f| f.parse::<f64>().map_err(|_| f)).collect();
        match parsed.iter().find_map(|v| v.as_ref().err()) {
            // a header: the first row, not all numbers
            Some(_) if k == 0 => continue,
            Some(field) => {
                return Err(InputError::new(format!("{source}:{line}"), format!("'{field}' is not a number")));
            }
            None => rows.push(parsed.into_iter().map(|v| v.expect("checked")).collect()),
        }
    }
    if rows.is_empty() {
        return Err(InputError::new(&source, "no rows of numbers"));
    }
    Ok(rows)
}

/// A CSV data matrix, one sample per row.
fn read_csv(path: &std::path::Path) -> InputResult<Matrix> {
    let rows = csv_rows(path)?;
    let (nrows, ncols) = (rows.len(), rows[0].len());
    Ok(Matrix { nrows, ncols, values: rows.into_iter().flatten().collect(), column_major: false })
}

/// Targets from a `.npy` (1-D, or one column) or `.csv` file (one per row, or one row).
fn read_targets(path: &std::path::Path) -> InputResult<Vec<f64>> {
    let source = path.display().to_string();
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("npy") => vector(&source, read_npy_any(&source, open(path)?)?),
        Some("csv") => {
            let rows = csv_rows(path)?;
            if rows.len() == 1 || rows.iter().all(|r| r.len() == 1) {
                Ok(rows.into_iter().flatten().collect())
            } else {
                Err(InputError::new(&source, "targets: one number per row, or all in one row"))
            }
        }
        _ => Err(InputError::new(&source, "unknown targets format: expected .csv or .npy")),
    }
}

/// An array of a `.npy` stream: shape, values in file order, whether Fortran order. float64 only
/// (npyz).
fn read_npy_any(source: &str, reader: impl std::io::Read) -> InputResult<(Vec<u64>, Vec<f64>, bool)> {
    let file = npyz::NpyFile::new(reader).map_err(|e| InputError::new(source, format!("not a .npy array: {e}")))?;
    let shape = file.shape().to_vec();
    let fortran = file.order() == npyz::Order::Fortran;
    let dtype = file.dtype().descr();
    let values = file
        .into_vec::<f64>()
        .map_err(|e| InputError::new(source, format!("the array must be float64 (dtype {dtype}): {e}")))?;
    Ok((shape, values, fortran))
}

/// A 2-D float64 array as the data matrix.
fn read_npy(source: &str, reader: impl std::io::Read) -> InputResult<Matrix> {
    let (shape, values, column_major) = read_npy_any(source, reader)?;
    match shape[..] {
        [n, d] => Ok(Matrix { nrows: n as usize, ncols: d as usize, values, column_major }),
        _ => Err(InputError::new(source, format!("the data matrix must be 2-D, got shape {shape:?}"))),
    }
}

/// A 1-D array (or one column) as a vector.
fn vector(source: &str, (shape, values, _): (Vec<u64>, Vec<f64>, bool)) -> InputResult<Vec<f64>> {
    match shape[..] {
        [_] | [_, 1] | [1, _] => Ok(values),
        _ => Err(InputError::new(source, format!("the targets must be 1-D, got shape {shape:?}"))),
    }
}

/// The arrays `a` and `y` of an `.npz` archive (a zip of `a.npy`, `y.npy`, as `np.savez` writes).
fn read_npz(path: &std::path::Path) -> InputResult<(Matrix, Vec<f64>)> {
    let source = path.display().to_string();
    let mut archive =
        zip::ZipArchive::new(open(path)?).map_err(|e| InputError::new(&source, format!("not an .npz archive: {e}")))?;
    let mut member = |name: &str| -> InputResult<Vec<u8>> {
        let mut entry = archive
            .by_name(&format!("{name}.npy"))
            .map_err(|_| InputError::new(format!("{source}: {name}"), "no such array (expected arrays `a` and `y`)"))?;
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut bytes)
            .map_err(|e| InputError::new(format!("{source}: {name}"), format!("cannot read: {e}")))?;
        Ok(bytes)
    };
    let (a, y) = (member("a")?, member("y")?);
    let a = read_npy(&format!("{source}: a"), &a[..])?;
    let y = vector(&format!("{source}: y"), read_npy_any(&format!("{source}: y"), &y[..])?)?;
    Ok((a, y))
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
    fn outer_hessian_mul_is_the_dense_product() {
        // the structured product against H·M with H built densely; both sum the same few terms per
        // entry, so they agree to rounding (1e-14 relative to the entries' size, which is O(1) here)
        for loss in [Loss::Squared, Loss::Exponential, Loss::Logistic, Loss::LogExponential] {
            let mut p = Problem::random_regression(7, 4, 3, 0);
            p.y = p.y.map(|v| if v >= 0.0 { 1.0 } else { -1.0 });
            p.loss = loss;
            let ax = DVector::from_vec(vec![0.3, -0.2, 0.1, 0.7]);
            let m = DMatrix::from_fn(4, 5, |i, j| ((i * 5 + j) as f64).sin());
            let dense = p.outer_hessian(&ax) * &m;
            let fast = p.outer_hessian_mul(&ax, m);
            assert!((&fast - &dense).amax() < 1e-14, "{loss:?}: {}", (&fast - &dense).amax());
            assert!(dense.amax() > 0.1, "{loss:?}: a non-trivial product");
        }
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
