//! Reparameterizations `x = G(w)`: the deep diagonal product `x = w_1 ⊙ … ⊙ w_L` (one- or
//! two-sided), its initialisations and balance quantities, and a non-commuting map used as a
//! negative control.
//!
//! Parameters are stored flat, layer-major: `w[i·d + k]` is coordinate k of layer i.

use crate::error::{InputError, InputResult};
use nalgebra::DVector;

/// A smooth map from parameters w to the predictor x, with the pull-back of gradients.
pub trait Reparameterization: Send + Sync {
    /// Dimension of x.
    fn dim(&self) -> usize;
    /// Number of parameters.
    fn n_params(&self) -> usize;
    /// `x = G(w)`.
    fn x(&self, w: &DVector<f64>) -> DVector<f64>;
    /// `∇_w F = J_G(w)ᵀ g` for `F = f ∘ G` and `g = ∇f(G(w))`.
    fn pullback(&self, w: &DVector<f64>, g: &DVector<f64>) -> DVector<f64>;

    /// For coordinate-wise maps (each parameter feeds one coordinate of x): the partial derivatives
    /// `∂x_k/∂w_j` and the coordinate k of every parameter j. `None` for other maps.
    fn diagonal_jacobian(&self, _w: &DVector<f64>) -> Option<(DVector<f64>, Vec<usize>)> {
        None
    }

    /// Per parameter: whether it belongs to a coordinate caught at the saddle `w = 0`, where the
    /// steepest flow stays (its Filippov solution) although a discretisation would chatter.
    fn at_saddle(&self, w: &DVector<f64>) -> Vec<bool> {
        vec![false; w.len()]
    }

    /// The model as a [`DeepDiagonal`], when it is one (the event-driven sign flow of
    /// [`crate::signflow`] needs its factor groups).
    fn as_deep_diagonal(&self) -> Option<&DeepDiagonal> {
        None
    }
}

/// Below this magnitude a weight counts as zero for [`Reparameterization::at_saddle`]. Sign flows
/// approach 0 linearly and the error control resolves a crossing to about `atol` (1e−13).
pub const SADDLE_RADIUS: f64 = 1e-12;

/// Initial scale and balance of a deep diagonal model: layer i starts at
/// `w_i = (α^q + λ_i)^{1/q}` in every coordinate, so `|w_i|^q − |w_j|^q = λ_i − λ_j`.
#[derive(Debug, Clone, PartialEq)]
pub struct Initialization {
    /// The scale α > 0.
    pub alpha: f64,
    /// The per-layer constants `λ_1, …, λ_L` (all zero: balanced).
    pub constants: Vec<f64>,
}

impl Initialization {
    /// Balanced: all layers at α.
    pub fn balanced(alpha: f64, depth: usize) -> Self {
        Self { alpha, constants: vec![0.0; depth] }
    }

    /// λ-balanced: layer 1 at `(α^q + λ)^{1/q}`, layers 2..L at α.
    pub fn lambda(alpha: f64, depth: usize, lambda: f64) -> Self {
        let mut constants = vec![0.0; depth];
        if let Some(first) = constants.first_mut() {
            *first = lambda;
        }
        Self { alpha, constants }
    }

    /// Coercive: layer 1 at 0, layers 2..L at α (`λ_1 = −α^q`, the others 0), so `x(0) = 0` on each
    /// side while the other layers keep the gain `∏_{j≠1} |w_j|^q = α^{q(L−1)}` of layer 1 non-zero.
    pub fn coercive(alpha: f64, depth: usize, q: f64) -> Self {
        Self::lambda(alpha, depth, -alpha.powf(q))
    }

    /// The starting value of every layer, validated: needs `α^q + λ_i ≥ 0` (0: a coercive layer).
    pub fn layer_values(&self, q: f64) -> InputResult<Vec<f64>> {
        crate::error::check_positive("alpha", self.alpha)?;
        self.constants
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                let base = self.alpha.powf(q) + c;
                if c.is_finite() && base >= 0.0 {
                    Ok(base.powf(1.0 / q))
                } else {
                    Err(InputError::new(
                        "balance",
                        format!("layer {} constant {c} needs α^q + λ ≥ 0 (α = {}, q = {q})", i + 1, self.alpha),
                    ))
                }
            })
            .collect()
    }
}

/// The deep diagonal model `x = ∏_i w_i` (one-sided) or `x = ∏_i w⁺_i − ∏_i w⁻_i` (two-sided).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeepDiagonal {
    /// Depth L ≥ 1.
    pub depth: usize,
    /// Dimension d of x.
    pub dim: usize,
    /// Two-sided: a second product is subtracted.
    pub two_sided: bool,
}

impl DeepDiagonal {
    /// A one-sided model of depth L on R^d.
    pub fn new(depth: usize, dim: usize) -> Self {
        Self { depth, dim, two_sided: false }
    }

    /// A two-sided model `∏w⁺ − ∏w⁻` of depth L on R^d.
    pub fn two_sided(depth: usize, dim: usize) -> Self {
        Self { depth, dim, two_sided: true }
    }

    fn sides(&self) -> usize {
        if self.two_sided {
            2
        } else {
            1
        }
    }

    /// The initial parameters: every coordinate of layer i at `(α^q + λ_i)^{1/q}` (both sides).
    pub fn init(&self, init: &Initialization, q: f64) -> InputResult<DVector<f64>> {
        if init.constants.len() != self.depth {
            return Err(InputError::new(
                "balance",
                format!("{} per-layer constants given for depth {}", init.constants.len(), self.depth),
            ));
        }
        let layers = init.layer_values(q)?;
        let product: f64 = layers.iter().product();
        if layers.iter().all(|v| *v != 0.0) && (product == 0.0 || !product.is_finite()) {
            return Err(InputError::new(
                "alpha",
                format!(
                    "the initial product ∏ w_i = {product:e} under- or overflows f64 at depth {} (layers {:e}…): x would start at {product}",
                    self.depth, layers[0]
                ),
            ));
        }
        Ok(DVector::from_fn(self.n_params(), |j, _| layers[(j / self.dim) % self.depth]))
    }

    /// Parameter `w[side][layer][k]`.
    fn at(&self, w: &DVector<f64>, side: usize, layer: usize, k: usize) -> f64 {
        w[(side * self.depth + layer) * self.dim + k]
    }

    /// The product of one side, coordinate k, leaving out `skip` (a layer index, or none).
    fn product(&self, w: &DVector<f64>, side: usize, k: usize, skip: Option<usize>) -> f64 {
        (0..self.depth).filter(|&i| Some(i) != skip).map(|i| self.at(w, side, i, k)).product()
    }

    /// The mirror gain `h = Σ_sides Σ_i ∏_{j≠i} |w_j|^q`, so that `ẋ = −h ⊙ φ_q(g)` (THEORY §3).
    pub fn gain(&self, w: &DVector<f64>, q: f64) -> DVector<f64> {
        DVector::from_fn(self.dim, |k, _| {
            (0..self.sides())
                .flat_map(|s| (0..self.depth).map(move |i| (s, i)))
                .map(|(s, i)| self.product(w, s, k, Some(i)).abs().powf(q))
                .sum()
        })
    }

    /// The balance quantities `|w_i|^q − |w_L|^q` of side 0, for layers `i < L`, every coordinate
    /// (layer-major, length `(L−1)·d`).
    pub fn balances(&self, w: &DVector<f64>, q: f64) -> DVector<f64> {
        let last = self.depth - 1;
        DVector::from_fn(last * self.dim, |j, _| {
            let (i, k) = (j / self.dim, j % self.dim);
            self.at(w, 0, i, k).abs().powf(q) - self.at(w, 0, last, k).abs().powf(q)
        })
    }
}

impl Reparameterization for DeepDiagonal {
    fn dim(&self) -> usize {
        self.dim
    }

    fn as_deep_diagonal(&self) -> Option<&DeepDiagonal> {
        Some(self)
    }

    fn n_params(&self) -> usize {
        self.sides() * self.depth * self.dim
    }

    fn x(&self, w: &DVector<f64>) -> DVector<f64> {
        DVector::from_fn(self.dim, |k, _| {
            let plus = self.product(w, 0, k, None);
            if self.two_sided {
                plus - self.product(w, 1, k, None)
            } else {
                plus
            }
        })
    }

    fn pullback(&self, w: &DVector<f64>, g: &DVector<f64>) -> DVector<f64> {
        DVector::from_fn(self.n_params(), |j, _| {
            let k = j % self.dim;
            let layer = (j / self.dim) % self.depth;
            let side = j / (self.dim * self.depth);
            let sign = if side == 0 { 1.0 } else { -1.0 };
            sign * g[k] * self.product(w, side, k, Some(layer))
        })
    }

    fn diagonal_jacobian(&self, w: &DVector<f64>) -> Option<(DVector<f64>, Vec<usize>)> {
        let ones = DVector::from_element(self.dim, 1.0);
        Some((self.pullback(w, &ones), (0..self.n_params()).map(|j| j % self.dim).collect()))
    }

    /// Weights of one coordinate (and side) that reach 0 together in an even-sized group (equal
    /// magnitudes: a balanced pair, or all layers for even L) stay there: each one's velocity
    /// `−s·sign(∏_{j≠i} w_j)` flips when the others cross, so the field points back to 0 from both
    /// sides (a Filippov sliding mode; a discretisation would chatter). An odd-sized group sees the
    /// same field on both sides and passes through (the sign flips of THEORY §3 for odd L).
    fn at_saddle(&self, w: &DVector<f64>) -> Vec<bool> {
        let mut stuck = vec![false; w.len()];
        for side in 0..self.sides() {
            for k in 0..self.dim {
                let zeros: Vec<usize> = (0..self.depth)
                    .map(|i| (side * self.depth + i) * self.dim + k)
                    .filter(|&j| w[j].abs() <= SADDLE_RADIUS)
                    .collect();
                if zeros.len() >= 2 && zeros.len().is_multiple_of(2) {
                    for j in zeros {
                        stuck[j] = true;
                    }
                }
            }
        }
        stuck
    }
}

/// The non-commuting map `G(w) = (w₁w₂, w₂w₃)` of THEORY §3: its Jacobian columns have a non-zero
/// Lie bracket `(−w₃, 0, w₁)`, so its gradient flow is not a mirror flow (negative control).
#[derive(Debug, Clone, Copy, Default)]
pub struct NonCommuting;

impl Reparameterization for NonCommuting {
    fn dim(&self) -> usize {
        2
    }

    fn n_params(&self) -> usize {
        3
    }

    fn x(&self, w: &DVector<f64>) -> DVector<f64> {
        DVector::from_vec(vec![w[0] * w[1], w[1] * w[2]])
    }

    fn pullback(&self, w: &DVector<f64>, g: &DVector<f64>) -> DVector<f64> {
        DVector::from_vec(vec![g[0] * w[1], g[0] * w[0] + g[1] * w[2], g[1] * w[1]])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finite_difference_pullback(r: &dyn Reparameterization, w: &DVector<f64>, g: &DVector<f64>) -> DVector<f64> {
        let eps = 1e-6;
        DVector::from_fn(r.n_params(), |j, _| {
            let mut e = DVector::zeros(r.n_params());
            e[j] = eps;
            (r.x(&(w + &e)) - r.x(&(w - &e))).dot(g) / (2.0 * eps)
        })
    }

    #[test]
    fn pullback_is_the_jacobian_transpose() {
        let g = DVector::from_vec(vec![0.3, -1.2, 0.7]);
        for model in [DeepDiagonal::new(3, 3), DeepDiagonal::two_sided(2, 3)] {
            let w = DVector::from_fn(model.n_params(), |j, _| 0.5 + 0.1 * j as f64 - 0.05 * (j % 2) as f64);
            let diff = model.pullback(&w, &g) - finite_difference_pullback(&model, &w, &g);
            // central differences of a cubic: error O(eps²) = 1e-12
            assert!(diff.norm() < 1e-8, "{diff}");
        }
        let w = DVector::from_vec(vec![0.4, -0.3, 1.1]);
        let g2 = DVector::from_vec(vec![0.3, -1.2]);
        let diff = NonCommuting.pullback(&w, &g2) - finite_difference_pullback(&NonCommuting, &w, &g2);
        assert!(diff.norm() < 1e-8);
    }

    #[test]
    fn initialization_sets_the_balance_constants() {
        let model = DeepDiagonal::new(3, 2);
        let init = Initialization { alpha: 0.2, constants: vec![0.3, 0.1, 0.0] };
        let w = model.init(&init, 1.5).unwrap();
        let b = model.balances(&w, 1.5);
        assert!((b[0] - 0.3).abs() < 1e-14 && (b[2] - 0.1).abs() < 1e-14);
        let bad = Initialization::lambda(0.1, 2, -0.5);
        assert!(model.init(&bad, 2.0).is_err());
        assert!(DeepDiagonal::new(2, 2).init(&bad, 2.0).unwrap_err().to_string().contains("balance"));
    }
}
