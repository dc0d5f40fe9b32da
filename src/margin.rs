//! Max-margin reference problems (THEORY §5): `x̂ = argmin ‖x‖_r s.t. Gx ≥ 1`, `G = diag(y) A`,
//! whose optimal normalised margin is `γ* = 1/‖x̂‖_r`. The ℓ_p steepest flow on an L-homogeneous
//! diagonal model converges in direction to KKT points of this problem with `r = p/L`,
//! `p = q/(q−1)` (q = 1: r = ∞ for every L).
//!
//! - r = 1 and r = ∞: linear programs, r = 2: a QP, 1 < r < ∞: power cones — all solved by clarabel;
//! - 0 < r < 1 (nonconvex quasi-norm): `Σ|x_i|^r` is concave on each orthant, so its minimum over the
//!   polyhedron `{Gx ≥ 1} ∩ orthant` sits at a vertex; every vertex solves `G[K,S] x_S = 1` for an
//!   active set K and a support S with `|K| = |S|`. Enumerating them gives the global optimum, and the
//!   vertex's multipliers `λ_K = G[K,S]^{−T} (r|x_S|^{r−1} sign x_S)` tell whether it is a KKT point.

use crate::bias::{solve_conic, Reference};
use crate::error::{InputError, InputResult};
use crate::flow::{Flow, SteepestFlow, WeightDecay};
use crate::geometry::dual_exponent;
use crate::ode::{IntegrationFailure, Settings, Stats, Trajectory};
use crate::problem::{Loss, Problem};
use crate::reparam::{DeepDiagonal, Initialization};
use crate::verdict::worst_abs;
use nalgebra::{DMatrix, DVector};

/// The exponent r of the margin norm of the ℓ_q steepest flow at depth L: `r = p/L`,
/// `p = q/(q−1)` (∞ for q = 1).
pub fn margin_exponent(q: f64, depth: usize) -> f64 {
    dual_exponent(q) / depth as f64
}

/// `‖x‖_r = (Σ|x_i|^r)^{1/r}` (a quasi-norm for r < 1), `max |x_i|` for r = ∞; NaN propagates.
pub fn norm(x: &DVector<f64>, r: f64) -> f64 {
    if r.is_infinite() {
        worst_abs(x)
    } else {
        x.iter().map(|v| v.abs().powf(r)).sum::<f64>().powf(1.0 / r)
    }
}

/// The normalised margin `min_k (Gx)_k / ‖x‖_r`; NaN propagates.
pub fn normalised_margin(g: &DMatrix<f64>, x: &DVector<f64>, r: f64) -> f64 {
    let m = (g * x).iter().fold(f64::INFINITY, |m: f64, v| if v.is_nan() || m.is_nan() { f64::NAN } else { m.min(*v) });
    m / norm(x, r)
}

/// Largest number of (support, active set) pairs the vertex enumeration visits: `C(n + d, d) − 1`.
pub const MAX_VERTICES: f64 = 2e6;

/// `argmin ‖x‖_r s.t. Gx ≥ 1` for r > 0 (see the module doc for the routes). `objective` is `‖x̂‖_r`,
/// `nu` the multipliers of the margin constraints (empty for the enumeration) and `iterations` the
/// interior-point iterations or the number of vertices visited.
pub fn max_margin(g: &DMatrix<f64>, r: f64) -> InputResult<Reference> {
    use clarabel::solver::SupportedConeT::{NonnegativeConeT, PowerConeT};
    if r.is_nan() || r <= 0.0 {
        return Err(InputError::new("margin norm", format!("r must be positive, got {r}")));
    }
    let (n, d) = g.shape();
    if g.iter().any(|v| !v.is_finite()) {
        return Err(InputError::new("margin data", "non-finite entry"));
    }
    let mut result = if r < 1.0 {
        vertex_enumeration(g, r)?
    } else if r == 2.0 {
        let b = vec![-1.0; n];
        solve_conic(&DMatrix::identity(d, d), &vec![0.0; d], &(-g), &b, &[NonnegativeConeT(n)], n)?
    } else {
        // variables (x, t): x ∈ R^d, t ∈ R^d (r = 1, 1 < r < ∞) or t ∈ R (r = ∞); constraints
        // −Gx ≤ −1 first, then the norm bounds.
        let (nt, mut rows, mut b, mut cones) = (if r.is_infinite() { 1 } else { d }, vec![], vec![], vec![]);
        let width = d + nt;
        for k in 0..n {
            let mut row = vec![0.0; width];
            (0..d).for_each(|j| row[j] = -g[(k, j)]);
            rows.push(row);
            b.push(-1.0);
        }
        cones.push(NonnegativeConeT(n));
        if r == 1.0 || r.is_infinite() {
            // ±x_i − t_{i or 0} ≤ 0
            for sign in [1.0, -1.0] {
                for i in 0..d {
                    let mut row = vec![0.0; width];
                    row[i] = sign;
                    row[d + if nt == 1 { 0 } else { i }] = -1.0;
                    rows.push(row);
                    b.push(0.0);
                }
            }
            cones.push(NonnegativeConeT(2 * d));
        } else {
            // (t_i, 1, x_i) ∈ K_pow(1/r): t_i^{1/r} ≥ |x_i|, i.e. t_i ≥ |x_i|^r
            for i in 0..d {
                let mut t = vec![0.0; width];
                t[d + i] = -1.0;
                let mut x = vec![0.0; width];
                // (cargo-mutants: `1.0` here is equivalent: K_pow(α) bounds |z| of its third
                // component, so the sign of x_i's row does not change the cone)
                x[i] = -1.0;
                rows.extend([t, vec![0.0; width], x]);
                b.extend([0.0, 1.0, 0.0]);
                cones.push(PowerConeT(1.0 / r));
            }
        }
        let a = DMatrix::from_fn(rows.len(), width, |i, j| rows[i][j]);
        let cost: Vec<f64> = (0..width).map(|j| if j < d { 0.0 } else { 1.0 }).collect();
        let mut sol = solve_conic(&DMatrix::zeros(width, width), &cost, &a, &b, &cones, n)?;
        sol.x = sol.x.rows(0, d).into_owned();
        sol
    };
    result.objective = norm(&result.x, r);
    Ok(result)
}

/// The number `C(n + d, d) − 1` of (support, active set) pairs the enumeration visits for n
/// constraints and d coordinates (`Σ_{k≥1} C(d, k) C(n, k)`, Vandermonde), or an input error when it
/// exceeds [`MAX_VERTICES`].
fn vertex_budget(n: usize, d: usize) -> InputResult<f64> {
    // C(n + d, d) = ∏_{k=1..d} (n + k)/k
    let count = (1..=d).fold(1.0, |c, k| c * (n + k) as f64 / k as f64) - 1.0;
    if count > MAX_VERTICES {
        return Err(InputError::new(
            "margin data",
            format!("ℓ_r with r < 1 enumerates C(n+d, d) − 1 = {count:.3e} vertices (limit {MAX_VERTICES:e})"),
        ));
    }
    Ok(count)
}

/// Global minimum of `Σ|x_i|^r` (0 < r ≤ 1) over the vertices of `{Gx ≥ 1}` split by orthants; of
/// tied vertices the first in enumeration order (supports, then active sets, lexicographically).
fn vertex_enumeration(g: &DMatrix<f64>, r: f64) -> InputResult<Reference> {
    let (n, d) = g.shape();
    vertex_budget(n, d)?;
    let mut best: Option<(f64, DVector<f64>)> = None;
    let mut visited = 0u32;
    for k in 1..=n.min(d) {
        for support in subsets(d, k) {
            for active in subsets(n, k) {
                visited += 1;
                let sub = DMatrix::from_fn(k, k, |i, j| g[(active[i], support[j])]);
                let Some(xs) = sub.lu().solve(&DVector::from_element(k, 1.0)) else { continue };
                let mut x = DVector::zeros(d);
                support.iter().zip(xs.iter()).for_each(|(&j, &v)| x[j] = v);
                // feasibility up to rounding of a k × k solve (cargo-mutants: `<=` is equivalent, a
                // margin exactly at 1 − 1e-9 is a tie of measure zero within that rounding slack)
                if !x.iter().all(|v| v.is_finite()) || (g * &x).iter().any(|&m| m < 1.0 - 1e-9) {
                    continue;
                }
                let value: f64 = x.iter().map(|v| v.abs().powf(r)).sum();
                if best.as_ref().is_none_or(|(b, _)| value < *b) {
                    best = Some((value, x));
                }
            }
        }
    }
    let (_, x) = best.ok_or_else(|| InputError::new("margin data", "not linearly separable: no feasible vertex"))?;
    Ok(Reference { x, nu: DVector::zeros(0), objective: f64::NAN, iterations: visited })
}

/// The k-subsets of {0, …, m−1} in lexicographic order.
fn subsets(m: usize, k: usize) -> impl Iterator<Item = Vec<usize>> {
    let mut next = Some((0..k).collect::<Vec<usize>>());
    std::iter::from_fn(move || {
        let current = next.take()?;
        let mut c = current.clone();
        // advance: the rightmost index that can move right
        if let Some(i) = (0..k).rev().find(|&i| c[i] < m - k + i) {
            c[i] += 1;
            for j in i + 1..k {
                c[j] = c[j - 1] + 1;
            }
            next = Some(c);
        }
        Some(current)
    })
}

/// `max_margin` restricted to the coordinates `support` (the others fixed at 0), embedded back
/// in R^d: on its support, a w-space KKT point of the diagonal model is this solution, since a
/// coordinate whose weights all vanish is a saddle of the product map and satisfies
/// stationarity trivially.
pub fn max_margin_on(g: &DMatrix<f64>, r: f64, support: &[usize]) -> InputResult<Reference> {
    if support.is_empty() {
        return Err(InputError::new("margin support", "no coordinate is alive"));
    }
    let sub = DMatrix::from_fn(g.nrows(), support.len(), |k, j| g[(k, support[j])]);
    let mut sol = max_margin(&sub, r)?;
    let mut x = DVector::zeros(g.ncols());
    support.iter().zip(sol.x.iter()).for_each(|(&j, &v)| x[j] = v);
    sol.x = x;
    Ok(sol)
}

/// Integrates the flow through `times`: plainly up to t = 1, in s = ln t beyond (q > 1).
fn trajectory(
    flow: &SteepestFlow,
    w0: &DVector<f64>,
    times: &[f64],
    settings: &Settings,
) -> Result<Trajectory, IntegrationFailure> {
    let early: Vec<f64> = times.iter().copied().filter(|&t| flow.q == 1.0 || t <= 1.0).collect();
    let late: Vec<f64> = times.iter().copied().filter(|&t| flow.q > 1.0 && t > 1.0).collect();
    if late.is_empty() {
        return flow.run(w0, &early, None, settings);
    }
    let mut head = flow.run(w0, &[early.as_slice(), &[1.0]].concat(), None, settings)?;
    let tail = flow.run_log_time(head.last(), &late, settings)?;
    head.t.pop();
    head.y.pop();
    // the wrapper stops exactly at the requested times: keep them rather than exp(ln t)
    head.t.extend(late.iter().take(tail.t.len() - 1));
    head.y.extend(tail.y.into_iter().skip(1));
    head.stats += tail.stats;
    Ok(head)
}

/// The margins of a flow along a sweep of times.
#[derive(Debug, Clone)]
pub struct Sweep {
    /// The sample times t > 0.
    pub times: Vec<f64>,
    /// x(t).
    pub x: Vec<DVector<f64>>,
    /// Normalised margins `min_k y_k a_kᵀx / ‖x‖_r`.
    pub margins: Vec<f64>,
    /// Smoothed margins `−ln F(w)/‖w‖_p^L` in the flow's parameter norm, `p = q/(q−1)`.
    pub smoothed: Vec<f64>,
    /// Solver statistics.
    pub stats: Stats,
}

/// Runs the ℓ_q steepest flow of the two-sided balanced depth-L model (scale α) on
/// exponential-loss data through increasing `times` (q > 1: all above t = 1) and measures the
/// ℓ_r margins, integrating with `settings`. The outer error is bad input, the inner one an integration failure.
pub fn sweep(
    problem: &Problem,
    depth: usize,
    q: f64,
    alpha: f64,
    times: &[f64],
    r: f64,
    settings: &Settings,
) -> InputResult<Result<Sweep, IntegrationFailure>> {
    let model = DeepDiagonal::two_sided(depth, problem.dim());
    let w0 = model.init(&Initialization::balanced(alpha, depth), q)?;
    sweep_from(problem, &model, &w0, q, times, r, settings)
}

/// [`sweep`] for any deep diagonal `model` started at `w0` (e.g. a coercive init).
pub fn sweep_from(
    problem: &Problem,
    model: &DeepDiagonal,
    w0: &DVector<f64>,
    q: f64,
    times: &[f64],
    r: f64,
    settings: &Settings,
) -> InputResult<Result<Sweep, IntegrationFailure>> {
    let depth = model.depth;
    if problem.loss != Loss::Exponential {
        return Err(InputError::new("loss", "margins are measured for the exponential loss"));
    }
    if times.is_empty() || times.windows(2).any(|p| p[1] <= p[0]) || times.iter().any(|t| t.is_nan() || *t <= 0.0) {
        return Err(InputError::new("times", "must be positive and increasing"));
    }
    if q > 1.0 && times[0] <= 1.0 {
        // log time from t = 1, and the rate envelope of q > 1 flows is in ln t
        return Err(InputError::new("times", "for q > 1 the sweep must lie above t = 1"));
    }
    let log_loss = Problem { loss: Loss::LogExponential, ..problem.clone() };
    // sign flows: ln F has the signs of ∇F and never underflows
    let driven = if q == 1.0 { &log_loss } else { problem };
    let flow = SteepestFlow { problem: driven, model, q, decay: WeightDecay::None };
    let traj = match trajectory(&flow, w0, times, settings) {
        Ok(t) => t,
        Err(e) => return Ok(Err(e)),
    };
    let g = signed_data(problem);
    let p = dual_exponent(q);
    let mut out = Sweep { times: vec![], x: vec![], margins: vec![], smoothed: vec![], stats: traj.stats };
    for (t, w) in traj.t.iter().zip(&traj.y).filter(|(t, _)| **t > 0.0) {
        let x = flow.predictor(w);
        out.times.push(*t);
        out.margins.push(normalised_margin(&g, &x, r));
        out.smoothed.push(-log_loss.loss(&x) / norm(w, p).powi(depth as i32));
        out.x.push(x);
    }
    Ok(Ok(out))
}

/// `G = diag(y) A`.
pub fn signed_data(problem: &Problem) -> DMatrix<f64> {
    DMatrix::from_fn(problem.samples(), problem.dim(), |k, j| problem.y[k] * problem.a[(k, j)])
}

/// The predicted max-margin point for a flow ending at `x`: the global optimum, or (a w-space
/// KKT point) the optimum on the coordinates alive at x, `|x_i| ≥ floor·‖x‖∞`; with those
/// coordinates.
pub fn prediction(
    g: &DMatrix<f64>,
    r: f64,
    x: &DVector<f64>,
    floor: f64,
    global: bool,
) -> InputResult<(Reference, Vec<usize>)> {
    let top = norm(x, f64::INFINITY);
    let alive: Vec<usize> = (0..x.len()).filter(|&i| x[i].abs() >= floor * top).collect();
    let reference = if global { max_margin(g, r)? } else { max_margin_on(g, r, &alive)? };
    Ok((reference, alive))
}

/// Nonnegative least squares `argmin_{μ ≥ 0} ‖Bμ − c‖₂` by the active-set method of Lawson and
/// Hanson: move the variable with the largest gradient `(Bᵀ(c − Bμ))_j > 0` into the passive set,
/// solve the unconstrained least squares on it, and step back to the boundary while a passive
/// variable would turn negative. The loops are capped (3m + 10 outer, m + 2 inner steps): `Some(μ)`
/// when no variable with a positive gradient is left (the KKT conditions hold to the entering
/// threshold), `None` when the outer budget ran out (the caller's figure is then undefined).
pub fn nnls(b: &DMatrix<f64>, c: &DVector<f64>) -> Option<DVector<f64>> {
    let m = b.ncols();
    let mut mu = DVector::zeros(m);
    let mut passive = vec![false; m];
    // the entering threshold scales with ‖B‖‖c‖, the size of the gradient Bᵀc itself
    let tol = 1e-13 * (b.norm() * c.norm()).max(f64::MIN_POSITIVE);
    // (cargo-mutants: the budget's form, 3m + 10 against m + 13 or 30m, is not distinguishable by any
    // problem we constructed: every test passes with m + 13 outer steps, as that mutant showed
    // (`nnls_budget_admits_every_variable` needs m; 3/m + 10 fails it); `>=` for `>` below is a tie
    // of measure zero)
    for _ in 0..3 * m + 10 {
        let w = b.transpose() * (c - b * &mu);
        let entering = (0..m).filter(|&j| !passive[j]).max_by(|&i, &j| w[i].total_cmp(&w[j])).filter(|&j| w[j] > tol);
        let Some(j) = entering else { return Some(mu) };
        passive[j] = true;
        // (cargo-mutants: `m * 2` for `m + 2` is equivalent: each inner pass drops a passive variable
        // or ends, so m passes always suffice)
        for _ in 0..m + 2 {
            let idx: Vec<usize> = (0..m).filter(|&j| passive[j]).collect();
            if idx.is_empty() {
                break;
            }
            let bp = b.select_columns(&idx);
            // rank cut relative to ‖B‖ (the face of a tiny-scaled B is not rank-deficient)
            let Ok(z) = bp.clone().svd(true, true).solve(c, 1e-14 * b.norm()) else { break };
            // (cargo-mutants: `==`, `<` or `>=` for `>` is equivalent up to rounding: with every z_j > 0
            // the step back below is min(∅ ∪ {1}) = 1 and sets μ = z on the passive set, keeping the
            // same set; z_j = 0 exactly is a tie of measure zero)
            if z.iter().all(|&v| v > 0.0) {
                mu.fill(0.0);
                idx.iter().zip(z.iter()).for_each(|(&j, &v)| mu[j] = v);
                break;
            }
            // step from μ towards z until the first passive variable reaches 0
            let step = idx
                .iter()
                .zip(z.iter())
                .filter(|(_, &v)| v <= 0.0)
                .map(|(&j, &v)| mu[j] / (mu[j] - v))
                .fold(1.0, f64::min);
            for (&j, &v) in idx.iter().zip(z.iter()) {
                mu[j] += step * (v - mu[j]);
                if mu[j] <= 1e-15 * z.amax() {
                    mu[j] = 0.0;
                    passive[j] = false;
                }
            }
        }
    }
    // no problem we constructed exhausts the outer budget (see above), so no test reaches this
    None
}

/// The first-order (KKT) conditions of `min Σ|x_i|^r s.t. Gx ≥ 1` (0 < r < ∞) at the direction of a
/// flow's `x` with its dead coordinates (`|x_i| < s‖x‖∞`, floor s) set to 0 — the claimed limit is
/// supported on the alive ones — scaled to `x̂ = x_S / min_k (Gx_S)_k`: stationarity
/// `∇_i = r sign(x̂_i)|x̂_i|^{r−1} = (Gᵀμ)_i` on the alive coordinates S, with `μ ≥ 0` found by
/// nonnegative least squares ([`nnls`]) on the active constraints (slack `(Gx̂)_k − 1 ≤ active`, μ = 0
/// elsewhere, so complementary slackness holds up to `active`), and at the dead coordinates
/// (r ≥ 1, when `dead` is set) the condition at `x̂_i = 0`: `(Gᵀμ)_i = r|0|^{r−1} = 0` for r > 1,
/// `|(Gᵀμ)_i| ≤ 1` (the ℓ1 subdifferential) for r = 1; for r < 1 it is vacuous (`|x|^r` has
/// infinite slope at 0).
#[derive(Debug, Clone)]
pub struct Kkt {
    /// `‖(Gᵀμ − ∇)_S‖₂ / ‖∇_S‖₂`.
    pub stationarity: f64,
    /// `Σ_k μ_k ((Gx̂)_k − 1) / Σ_k μ_k`: the multiplier-weighted slack of the margin constraints.
    pub slackness: f64,
    /// r ≥ 1: `max_{i dead} (|(Gᵀμ)_i| − b)₊ / ‖∇_S‖∞` with `b = 1` for r = 1 and `b = 0` for
    /// r > 1; 0 for r < 1 (where the first-order condition at x_i = 0 is vacuous), without dead
    /// coordinates, or when the condition is not claimed.
    pub dead: f64,
    /// The multipliers μ ≥ 0.
    pub multipliers: DVector<f64>,
    /// `(Gᵀμ)_i / ‖∇_S‖∞` at each coordinate (for reports).
    pub dual: DVector<f64>,
}

impl Kkt {
    /// Every figure NaN (n constraints, d coordinates): the conditions could not be evaluated.
    fn undefined(n: usize, d: usize) -> Self {
        Kkt {
            stationarity: f64::NAN,
            slackness: f64::NAN,
            dead: f64::NAN,
            multipliers: DVector::from_element(n, f64::NAN),
            dual: DVector::from_element(d, f64::NAN),
        }
    }
}

/// [`Kkt`] of `x` for the exponent `r` (finite, > 0) with the alive coordinates
/// `|x_i| ≥ floor · ‖x‖∞`, the active constraints within `active` of the margin and the
/// dead-coordinate bound if `dead`. NaN fields when x_S does not separate the data (`min (Gx_S)_k ≤ 0`).
pub fn kkt(g: &DMatrix<f64>, x: &DVector<f64>, r: f64, floor: f64, active: f64, dead: bool) -> Kkt {
    let (n, d) = g.shape();
    // the claimed limit is supported on the alive coordinates: the dead ones are set to 0
    let top = worst_abs(x);
    let x = &x.map(|v| if v.abs() >= floor * top { v } else { 0.0 });
    let m = (g * x).iter().fold(f64::INFINITY, |a: f64, &v| if v.is_nan() { f64::NAN } else { a.min(v) });
    if !(m > 0.0 && m.is_finite() && r > 0.0 && r.is_finite()) {
        return Kkt::undefined(n, d);
    }
    let xh = x / m;
    let alive: Vec<usize> = (0..d).filter(|&i| xh[i] != 0.0).collect();
    let grad =
        // (cargo-mutants: `/` for the first `*` is equivalent: the sign of an alive coordinate is ±1)
        DVector::from_iterator(alive.len(), alive.iter().map(|&i| r * xh[i].signum() * xh[i].abs().powf(r - 1.0)));
    let slack = g * &xh;
    let rows: Vec<usize> = (0..n).filter(|&k| slack[k] - 1.0 <= active).collect();
    let gs = DMatrix::from_fn(alive.len(), rows.len(), |i, k| g[(rows[k], alive[i])]);
    let Some(mu_rows) = nnls(&gs, &grad) else { return Kkt::undefined(n, d) };
    let mut mu = DVector::zeros(n);
    rows.iter().zip(mu_rows.iter()).for_each(|(&k, &v)| mu[k] = v);
    let gs = DMatrix::from_fn(alive.len(), n, |i, k| g[(k, alive[i])]);
    let stationarity = (&gs * &mu - &grad).norm() / grad.norm();
    let slackness = mu.iter().zip(slack.iter()).map(|(u, s)| u * (s - 1.0)).sum::<f64>() / mu.sum();
    let scale = grad.amax();
    let dual = g.transpose() * &mu / scale;
    // at x_i = 0: |∂_i| ≤ 1 for r = 1 (∇ = sign on S, so ‖∇_S‖∞ = 1), ∂_i = 0 for r > 1
    let bound = if r == 1.0 { 1.0 / scale } else { 0.0 };
    let dead = if r < 1.0 || !dead {
        0.0
    } else {
        (0..d).filter(|i| !alive.contains(i)).map(|i| (dual[i].abs() - bound).max(0.0)).fold(0.0, f64::max)
    };
    Kkt { stationarity, slackness, dead, multipliers: mu, dual }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::Problem;

    #[test]
    fn smoothed_margin_is_minus_log_loss_over_the_norm() {
        // depth 1 (x = w): the smoothed margin is −ln F(x)/‖x‖_p with p = q/(q − 1), recomputed
        // here from the exponential loss itself (equal to rounding: the same x, one ln)
        let problem = Problem::separable(3, 6, 3, &[1.0, -0.5, 0.0]);
        let model = DeepDiagonal::new(1, 3);
        let w0 = model.init(&Initialization::balanced(0.1, 1), 1.5).unwrap();
        let sw = sweep_from(&problem, &model, &w0, 1.5, &[2.0, 4.0], 1.0, &Settings::default()).unwrap().unwrap();
        for (x, smoothed) in sw.x.iter().zip(&sw.smoothed) {
            let direct = -problem.loss(x).ln() / norm(x, 3.0);
            assert!((smoothed - direct).abs() <= 1e-12 * direct.abs().max(1.0), "{smoothed} vs {direct}");
        }
    }

    fn data(seed: u64) -> DMatrix<f64> {
        let p = Problem::separable(seed, 8, 5, &[1.0, -1.0]);
        DMatrix::from_fn(8, 5, |k, j| p.y[k] * p.a[(k, j)])
    }

    #[test]
    fn subsets_are_all_k_subsets() {
        let all: Vec<_> = subsets(5, 2).collect();
        assert_eq!(all.len(), 10);
        assert_eq!(all[0], vec![0, 1]);
        assert_eq!(all[9], vec![3, 4]);
    }

    #[test]
    fn vertex_enumeration_agrees_with_the_l1_linear_program() {
        // r = 1 is linear, hence concave: the enumeration is an independent route to the LP optimum
        for seed in [1, 2, 3] {
            let g = data(seed);
            let lp = max_margin(&g, 1.0).unwrap();
            let vertices = vertex_enumeration(&g, 1.0).unwrap();
            // clarabel's gap tolerance 1e-12 on an O(1) objective
            assert!((norm(&vertices.x, 1.0) - lp.objective).abs() < 1e-8, "seed {seed}");
        }
    }

    #[test]
    fn power_cone_route_is_stationary_and_between_the_lp_norms() {
        // the ℓ_{1.5} solution satisfies its KKT system r|x|^{r−1}sign x = Gᵀλ, λ ≥ 0 (clarabel's
        // multipliers of the margin rows, scaled by the objective's homogeneity)
        let g = data(1);
        let sol = max_margin(&g, 1.5).unwrap();
        let grad = sol.x.map(|v| 1.5 * v.abs().powf(0.5) * v.signum());
        let lambda = &sol.nu;
        assert!(lambda.min() > -1e-9);
        let residual = (g.transpose() * lambda - &grad).norm() / grad.norm();
        assert!(residual < 1e-6, "stationarity residual {residual}");
        // ‖·‖_r is nonincreasing in r, so the optimal norms are ordered
        let norms: Vec<f64> =
            [1.0, 1.5, 2.0, f64::INFINITY].iter().map(|&r| max_margin(&g, r).unwrap().objective).collect();
        assert!(norms.windows(2).all(|p| p[1] <= p[0] + 1e-9), "{norms:?}");
    }

    #[test]
    fn restricted_problem_embeds_and_never_beats_the_full_one() {
        let g = data(1);
        for r in [2.0 / 3.0, 1.0, 1.5, f64::INFINITY] {
            let full = max_margin(&g, r).unwrap();
            let part = max_margin_on(&g, r, &[1, 3, 4]).unwrap();
            assert_eq!((part.x[0], part.x[2]), (0.0, 0.0));
            assert!((&g * &part.x).min() > 1.0 - 1e-7, "feasible, r = {r}");
            assert!(part.objective >= full.objective * (1.0 - 1e-9), "r = {r}");
        }
        assert!(max_margin_on(&g, 1.0, &[]).is_err());
    }

    #[test]
    fn bad_exponent_and_inseparable_data_are_input_errors() {
        let g = data(1);
        assert!(max_margin(&g, 0.0).is_err());
        assert!(max_margin(&g, f64::NAN).is_err());
        let inseparable = DMatrix::from_row_slice(2, 1, &[1.0, -1.0]);
        assert!(max_margin(&inseparable, 0.5).is_err());
    }

    #[test]
    fn nnls_matches_least_squares_inside_and_clips_outside_the_orthant() {
        // an interior solution is the least-squares one
        let b = DMatrix::from_row_slice(3, 2, &[1.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
        let mu = nnls(&b, &(&b * DVector::from_vec(vec![2.0, 3.0]))).unwrap();
        assert!((mu - DVector::from_vec(vec![2.0, 3.0])).norm() < 1e-12);
        // c = (1, −1) with B = I: the nonnegative optimum is (1, 0)
        let mu = nnls(&DMatrix::identity(2, 2), &DVector::from_vec(vec![1.0, -1.0])).unwrap();
        assert!((mu - DVector::from_vec(vec![1.0, 0.0])).norm() < 1e-12);
    }

    #[test]
    fn the_optimum_satisfies_its_own_kkt_conditions_and_not_another_exponents() {
        // the clarabel ℓ_{1.5} optimum (dense): stationarity on every coordinate with μ ≥ 0
        let g = data(1);
        let x = max_margin(&g, 1.5).unwrap().x;
        let own = kkt(&g, &x, 1.5, 1e-6, 1e-6, true);
        assert!(own.stationarity < 1e-6, "{}", own.stationarity);
        assert!(own.multipliers.min() >= 0.0);
        // the same point is no KKT point of the ℓ_2 problem
        assert!(kkt(&g, &x, 2.0, 1e-6, 1e-6, true).stationarity > 1e-2);
        // the ℓ1 LP optimum: |(Gᵀμ)_i| ≤ 1 off its support, and ℓ_{1.2} fails there
        let x = max_margin(&g, 1.0).unwrap().x;
        let l1 = kkt(&g, &x, 1.0, 1e-6, 1e-6, true);
        assert!(l1.stationarity < 1e-6 && l1.dead < 1e-6, "{l1:?}");
        // a direction that does not separate gives NaN
        assert!(kkt(&g, &DVector::zeros(5), 1.0, 1e-2, 1e-2, true).stationarity.is_nan());
    }

    #[test]
    fn margin_exponent_is_the_dual_exponent_over_the_depth() {
        // r = p/L with p = q/(q − 1) (THEORY §5): q = 1.5 → p = 3; q = 2 → p = 2; q = 1 → p = ∞
        for (q, depth) in [(1.5, 2), (2.0, 1), (2.0, 3), (1.25, 4)] {
            let expected = q / (q - 1.0) / depth as f64;
            assert!((margin_exponent(q, depth) - expected).abs() < 1e-15 * expected, "q = {q}, L = {depth}");
        }
        assert_eq!(margin_exponent(1.0, 2), f64::INFINITY);
    }

    #[test]
    fn normalised_margin_follows_its_definition() {
        // by hand: G = diag(1, 2), x = (3, 4): Gx = (3, 8), min 3; ‖x‖₁ = 7, ‖x‖₂ = 5, ‖x‖∞ = 4
        let g = DMatrix::from_row_slice(2, 2, &[1.0, 0.0, 0.0, 2.0]);
        let x = DVector::from_vec(vec![3.0, 4.0]);
        for (r, expected) in [(1.0, 3.0 / 7.0), (2.0, 3.0 / 5.0), (f64::INFINITY, 3.0 / 4.0)] {
            assert!((normalised_margin(&g, &x, r) - expected).abs() < 1e-15, "r = {r}");
        }
        // a negative margin stays negative; NaN propagates
        assert!((normalised_margin(&g, &-&x, 2.0) + 8.0 / 5.0).abs() < 1e-15);
        assert!(normalised_margin(&g, &DVector::from_vec(vec![f64::NAN, 1.0]), 2.0).is_nan());
        // a NaN in one margin only (finite ‖x‖) is still NaN, not the minimum of the others
        let g_nan = DMatrix::from_row_slice(2, 2, &[f64::NAN, 0.0, 1.0, 1.0]);
        assert!(normalised_margin(&g_nan, &DVector::from_vec(vec![1.0, 1.0]), 2.0).is_nan());
    }

    /// `C(m, k)` by Pascal's triangle (an independent route to the product formula).
    fn binomial(m: usize, k: usize) -> f64 {
        let mut row = vec![1.0_f64];
        for _ in 0..m {
            let mut next = vec![1.0; row.len() + 1];
            (1..row.len()).for_each(|j| next[j] = row[j - 1] + row[j]);
            row = next;
        }
        row[k]
    }

    #[test]
    fn vertex_budget_counts_the_pairs_and_stops_above_the_limit() {
        for (n, d) in [(1, 1), (3, 2), (2, 5), (8, 5), (7, 7), (12, 9)] {
            // C(n + d, d) − 1 = Σ_{k≥1} C(d, k) C(n, k): the pairs (support, active set) visited
            let pairs: f64 = (1..=n.min(d)).map(|k| binomial(d, k) * binomial(n, k)).sum();
            assert_eq!(vertex_budget(n, d).unwrap(), binomial(n + d, d) - 1.0, "n = {n}, d = {d}");
            assert_eq!(pairs, binomial(n + d, d) - 1.0);
        }
        // the limit itself is allowed: C(2e6 + 1, 1) − 1 = 2e6 pairs, one more is refused
        assert_eq!(vertex_budget(2_000_000, 1).unwrap(), MAX_VERTICES);
        assert!(vertex_budget(2_000_001, 1).is_err());
        // C(24, 12) − 1 = 2 704 155 > 2e6: max_margin refuses at once
        let g = DMatrix::from_fn(12, 12, |k, j| if k == j { 1.0 } else { 0.0 });
        assert!(max_margin(&g, 0.5).is_err());
        assert!(max_margin(&DMatrix::from_fn(6, 6, |k, j| if k == j { 1.0 } else { 0.0 }), 0.5).is_ok());
        // the enumeration reports the pairs it visited: every one of them
        let g = DMatrix::from_fn(3, 4, |k, j| 1.0 + ((k * 4 + j) as f64).sin().abs());
        assert_eq!(vertex_enumeration(&g, 0.5).unwrap().iterations as f64, binomial(3 + 4, 4) - 1.0);
    }

    #[test]
    fn prediction_keeps_the_coordinates_above_the_floor() {
        // x = (4, 1, 1e-3) with floor 1e-3: alive means |x_i| ≥ 1e-3·‖x‖∞ = 4e-3, so {0, 1}
        let g = DMatrix::from_row_slice(2, 3, &[1.0, 0.5, 0.2, 0.5, 1.0, 0.2]);
        let x = DVector::from_vec(vec![4.0, 1.0, 1e-3]);
        let (reference, alive) = prediction(&g, 2.0, &x, 1e-3, false).unwrap();
        assert_eq!(alive, vec![0, 1]);
        assert_eq!(reference.x[2], 0.0);
        // the global optimum uses every coordinate it likes, whatever the flow ended with
        let (global, _) = prediction(&g, 2.0, &x, 1e-3, true).unwrap();
        assert!(global.x[2] != 0.0, "{}", global.x);
    }

    #[test]
    fn vertex_enumeration_keeps_the_first_of_tied_vertices() {
        // x₁ + x₂ ≥ 1: the vertices (1, 0) and (0, 1) tie for every r; the enumeration order
        // (supports in lexicographic order) makes the result (1, 0), a reproducible choice
        let g = DMatrix::from_row_slice(1, 2, &[1.0, 1.0]);
        for r in [0.5, 1.0] {
            assert_eq!(vertex_enumeration(&g, r).unwrap().x, DVector::from_vec(vec![1.0, 0.0]), "r = {r}");
        }
    }

    /// NNLS by brute force: the optimum solves least squares on its support with positive entries,
    /// and every such candidate is feasible, so the best candidate over all supports is the
    /// optimum (B of full column rank: it is unique).
    fn nnls_brute_force(b: &DMatrix<f64>, c: &DVector<f64>) -> DVector<f64> {
        let m = b.ncols();
        let mut best = (c.norm(), DVector::zeros(m));
        for mask in 1..(1usize << m) {
            let idx: Vec<usize> = (0..m).filter(|j| mask >> j & 1 == 1).collect();
            let bs = b.select_columns(&idx);
            // normal equations: a different route from the SVD of nnls
            let Some(z) = (bs.transpose() * &bs).cholesky().map(|ch| ch.solve(&(bs.transpose() * c))) else {
                continue;
            };
            if z.iter().all(|&v| v > 0.0) {
                let res = (&bs * &z - c).norm();
                if res < best.0 {
                    let mut mu = DVector::zeros(m);
                    idx.iter().zip(z.iter()).for_each(|(&j, &v)| mu[j] = v);
                    best = (res, mu);
                }
            }
        }
        best.1
    }

    #[test]
    fn nnls_rank_cut_is_relative_to_the_columns() {
        // B = 1e−16·A: every singular value (~1e−16) lies below an absolute cut of 1e−14, which
        // would drop the whole face and return μ = 0; the cut 1e−14‖B‖ keeps the face, and μ for
        // (1e−16A, 1e−16y) is μ for (A, y) (both within the 1e−9 of the brute-force comparison)
        for seed in 0..4 {
            let p = Problem::random_regression(seed, 7, 5, 0);
            let mu = nnls(&p.a, &p.y).unwrap();
            let tiny = nnls(&(&p.a * 1e-16), &(&p.y * 1e-16)).unwrap();
            assert!(mu.norm() > 0.0 && (&tiny - &mu).norm() <= 1e-9 * mu.norm(), "seed {seed}: {tiny} vs {mu}");
        }
    }

    #[test]
    fn nnls_budget_admits_every_variable() {
        // B = I₁₂, c = 1: every one of the 12 variables must enter (12 outer steps)
        let mu = nnls(&DMatrix::identity(12, 12), &DVector::from_element(12, 1.0)).unwrap();
        assert!((mu - DVector::from_element(12, 1.0)).norm() < 1e-14);
    }

    #[test]
    fn nnls_agrees_with_brute_force_and_meets_its_kkt_conditions_at_every_scale() {
        let mut stepped = 0;
        for seed in 0..12 {
            let p = Problem::random_regression(seed, 7, 5, 0);
            // scale 1e-16: the gradient Bᵀc ≈ 1e-16 must still pass the entering threshold, which
            // therefore scales with ‖B‖‖c‖ (a threshold 1e-13(‖B‖ + ‖c‖) would return μ = 0)
            for scale in [1e-16, 1e-8, 1.0, 1e8] {
                let c = &p.y * scale;
                let mu = nnls(&p.a, &c).unwrap();
                let brute = nnls_brute_force(&p.a, &c);
                // both solve a 7 × ≤5 least-squares problem of condition ≲ 1e2: relative error ≲ 1e-13
                assert!((&mu - &brute).norm() <= 1e-9 * (brute.norm() + scale), "seed {seed}");
                // KKT: μ ≥ 0, gradient Bᵀ(c − Bμ) ≤ 0 where μ = 0 and = 0 on the support
                let w = p.a.transpose() * (&c - &p.a * &mu);
                let unit = 1e-9 * p.a.norm() * c.norm();
                for j in 0..5 {
                    assert!(mu[j] >= 0.0);
                    if mu[j] == 0.0 {
                        assert!(w[j] <= unit, "seed {seed}: entering gradient {}", w[j]);
                    } else {
                        assert!(w[j].abs() <= unit, "seed {seed}: support gradient {}", w[j]);
                    }
                }
            }
            // count the problems whose unconstrained solution leaves the orthant
            let ls = p.a.clone().svd(true, true).solve(&p.y, 1e-14).unwrap();
            let mu = nnls(&p.a, &p.y).unwrap();
            if ls.iter().any(|&v| v < 0.0) && mu.iter().filter(|&&v| v > 0.0).count() >= 2 {
                stepped += 1;
            }
        }
        assert!(stepped >= 3, "the sample must exercise the step back to the boundary: {stepped}");
    }

    #[test]
    fn kkt_fields_follow_their_definitions() {
        // a non-KKT point (the ℓ_{1.5} optimum, perturbed) of the ℓ_r problems, with a generous
        // active set so that slacks, multipliers and the dual all differ from their trivial values
        let g = data(1);
        let base = max_margin(&g, 1.5).unwrap().x;
        let x = DVector::from_fn(5, |i, _| base[i] * (1.0 + 0.1 * i as f64));
        let x = DVector::from_fn(5, |i, _| if i == 2 { 0.0 } else { 3.0 * x[i] });
        for r in [0.5, 1.0, 1.5, 2.0] {
            let k = kkt(&g, &x, r, 1e-6, 0.5, true);
            let m = (&g * &x).min();
            let xh = &x / m;
            let alive: Vec<usize> = (0..5).filter(|&i| i != 2).collect();
            let grad = DVector::from_iterator(4, alive.iter().map(|&i| r * xh[i].signum() * xh[i].abs().powf(r - 1.0)));
            let slack = &g * &xh;
            let rows: Vec<usize> = (0..8).filter(|&k| slack[k] <= 1.5).collect();
            let gs = DMatrix::from_fn(4, rows.len(), |i, k| g[(rows[k], alive[i])]);
            let mut mu = DVector::zeros(8);
            rows.iter().zip(nnls_brute_force(&gs, &grad).iter()).for_each(|(&k, &v)| mu[k] = v);
            assert!((&k.multipliers - &mu).norm() < 1e-9 * mu.norm(), "r = {r}");
            let full = g.transpose() * &mu;
            let resid: f64 = alive.iter().enumerate().map(|(a, &i)| (full[i] - grad[a]).powi(2)).sum::<f64>().sqrt();
            assert!((k.stationarity - resid / grad.norm()).abs() < 1e-9, "r = {r}");
            assert!(k.stationarity > 1e-3, "a perturbed point is no KKT point");
            let weighted = mu.iter().zip(slack.iter()).map(|(u, s)| u * (s - 1.0)).sum::<f64>() / mu.sum();
            assert!((k.slackness - weighted).abs() < 1e-9 && weighted > 1e-3, "r = {r}: {weighted}");
            let scale = grad.amax();
            assert!((&k.dual - &full / scale).norm() < 1e-9 * (&full / scale).norm(), "r = {r}");
            // coordinate 2 is dead: |(Gᵀμ)_2|/‖∇‖∞ less b (1 for r = 1 since ∇ = sign, 0 for r > 1);
            // vacuous for r < 1
            let dead = if r < 1.0 {
                0.0
            } else if r == 1.0 {
                (full[2].abs() - 1.0).max(0.0) / scale
            } else {
                full[2].abs() / scale
            };
            assert!((k.dead - dead).abs() < 1e-9, "r = {r}: {} vs {dead}", k.dead);
            if r > 1.0 {
                assert!(dead > 1e-3, "the dead coordinate must be tested at r = {r}");
            }
        }
    }

    #[test]
    fn kkt_sees_only_the_direction_of_x() {
        // floor 1e-6 relative to ‖x‖∞: a 1e-9 coordinate is dead at every scale of x
        let g = data(2);
        let mut x = max_margin(&g, 1.0).unwrap().x;
        x.iter_mut().filter(|v| **v == 0.0).for_each(|v| *v = 1e-9 * x_max(&g));
        for r in [1.0, 1.5] {
            let base = kkt(&g, &x, r, 1e-6, 1e-6, true);
            for s in [1e-4, 3.0, 1e4] {
                let k = kkt(&g, &(&x * s), r, 1e-6, 1e-6, true);
                assert!((k.stationarity - base.stationarity).abs() < 1e-9, "r = {r}, scale {s}");
                assert!((k.dead - base.dead).abs() < 1e-9, "r = {r}, scale {s}");
                assert!((&k.multipliers - &base.multipliers).norm() < 1e-9 * base.multipliers.norm());
            }
        }
    }

    fn x_max(g: &DMatrix<f64>) -> f64 {
        max_margin(g, 1.0).unwrap().x.amax()
    }

    #[test]
    fn kkt_is_undefined_unless_the_direction_separates_and_r_is_positive() {
        let g = data(1);
        let x = max_margin(&g, 1.5).unwrap().x;
        assert!(kkt(&g, &x, 1.5, 1e-6, 1e-6, true).stationarity < 1e-6);
        // the negated optimum has a finite negative margin; r = 0 has no gradient
        for (point, r) in [(-&x, 1.5), (x.clone(), 0.0), (x.clone(), f64::INFINITY)] {
            let k = kkt(&g, &point, r, 1e-6, 1e-6, true);
            assert!(k.stationarity.is_nan() && k.slackness.is_nan() && k.dead.is_nan(), "r = {r}: {k:?}");
            assert!(k.multipliers.iter().chain(k.dual.iter()).all(|v| v.is_nan()), "r = {r}");
        }
    }

    #[test]
    fn nnls_steps_back_to_the_boundary_on_correlated_columns() {
        // columns sharing a large common part: least squares on them has coefficients of both
        // signs, so variables entering later push earlier ones out through the step back
        let mut rng = crate::rng::SplitMix64::new(17);
        let mut stepped = 0;
        for _ in 0..40 {
            let common: Vec<f64> = (0..9).map(|_| rng.normal()).collect();
            let b = DMatrix::from_fn(9, 7, |i, _| common[i] + 0.3 * rng.normal());
            let c = DVector::from_fn(9, |_, _| rng.normal());
            let mu = nnls(&b, &c).unwrap();
            let brute = nnls_brute_force(&b, &c);
            // condition of the 9 × ≤7 least squares ≲ 1e3: relative error ≲ 1e-12
            assert!((&mu - &brute).norm() <= 1e-8 * (1.0 + brute.norm()), "{mu} vs {brute}");
            let ls = b.clone().svd(true, true).solve(&c, 1e-14).unwrap();
            stepped += usize::from(
                ls.iter().filter(|&&v| v < 0.0).count() >= 2 && mu.iter().filter(|&&v| v > 0.0).count() >= 2,
            );
        }
        assert!(stepped >= 10, "{stepped}");
    }
}
