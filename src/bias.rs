//! Implicit-bias problems (THEORY §5): the Bregman projection
//! `x_∞ = argmin D_R(x, x0) s.t. Ax = y`, solved in the dual over `ν ∈ R^n`, and the convex
//! reference problems (min-ℓ1, min-ℓ2, Euclidean projection) through the conic solver clarabel.
//!
//! Dual: with `θ0 = R'(x0)` and `x(θ) = (R')^{-1}(θ)` (coordinate-wise), minimise the convex
//! `Φ(ν) = Σ_k R*(θ0_k + (Aᵀν)_k) − yᵀν`, whose gradient is the primal residual `A x(θ0 + Aᵀν) − y`
//! and whose Hessian is `A diag(1/R''(x)) Aᵀ`. The primal solution is `x(θ0 + Aᵀν*)`.
//!
//! Solvers: Newton with closed-form Hessians and a domain-aware backtracking line search on the
//! residual norm (a NaN or infinite `x(θ)` — θ outside the domain of `R*` — shrinks the step); if
//! Newton does not reach the residual tolerance, argmin's L-BFGS on `Φ` (with an Armijo
//! backtracking line search that treats `Φ = +∞` outside the domain) is the fallback. A solve that
//! misses the tolerance is reported as not converged, never as a result.

use crate::error::{InputError, InputResult};
use crate::potential::Potential;
use crate::reparam::{DeepDiagonal, Reparameterization};
use argmin::core::{CostFunction, Executor, Gradient, State};
use argmin::solver::linesearch::condition::ArmijoCondition;
use argmin::solver::linesearch::BacktrackingLineSearch;
use argmin::solver::quasinewton::LBFGS;
use nalgebra::{DMatrix, DVector};
use serde::Serialize;
use std::cell::Cell;

/// A separable mirror map given in the dual: `θ ↦ x(θ) = (R')^{-1}(θ)`, its slope
/// `dx/dθ = 1/R''(x(θ))` and the convex conjugate `R*(θ)` (with `(R*)' = x`).
pub trait MirrorMap: Sync {
    /// `x(θ)`; NaN or infinite outside the domain of `R*`.
    fn primal(&self, theta: f64) -> f64;
    /// `dx/dθ = 1/R''(x(θ)) > 0`.
    fn slope(&self, theta: f64) -> f64;
    /// `R*(θ)` up to an additive constant.
    fn conjugate(&self, theta: f64) -> f64;
    /// `R'(x)`, the dual coordinate of a primal point (to start from x0).
    fn dual_of(&self, x: f64) -> f64;
    /// A short description.
    fn describe(&self) -> String;
    /// Whether `x(θ) > 0` for every θ (`R'(0) = −∞`): the projection then needs an `x ≥ 0` with
    /// `Ax = y`.
    fn positive_only(&self) -> bool {
        false
    }
}

/// The mirror map of a [`Potential`]: `x = (R')^{-1}(θ)`, `dx/dθ = 1/R''(x)`,
/// `R*(θ) = θx − R(x)`.
pub struct PotentialMap<'a>(pub &'a dyn Potential);

impl MirrorMap for PotentialMap<'_> {
    fn primal(&self, theta: f64) -> f64 {
        self.0.grad_inverse(theta)
    }

    fn slope(&self, theta: f64) -> f64 {
        1.0 / self.0.hess(self.primal(theta))
    }

    fn conjugate(&self, theta: f64) -> f64 {
        let x = self.primal(theta);
        theta * x - self.0.value(x)
    }

    fn dual_of(&self, x: f64) -> f64 {
        self.0.grad(x)
    }

    fn describe(&self) -> String {
        self.0.describe()
    }

    fn positive_only(&self) -> bool {
        self.0.positive_only()
    }
}

/// The two-sided model `x = u − v` with `u = ∏w⁺`, `v = ∏w⁻` and both sides started at `u0`:
/// each side is a mirror flow of the one-sided potential `R_s` with opposite drives, so with
/// `c = R_s'(u0)`, `ψ = (R_s')^{-1}`: `x(z) = ψ(c + z) − ψ(c − z)`,
/// `dx/dz = ψ'(c + z) + ψ'(c − z)`, `R*(z) = R_s*(c + z) + R_s*(c − z)`. The map starts at z = 0
/// (x0 = 0). A side leaving the domain of `R_s*` makes `x` NaN.
pub struct TwoSidedMap<'a> {
    /// The potential of one side.
    pub side: &'a dyn Potential,
    /// The dual coordinate `c = R_s'(u0)` of the initial side product.
    pub center: f64,
}

impl TwoSidedMap<'_> {
    fn side(&self) -> PotentialMap<'_> {
        PotentialMap(self.side)
    }
}

impl MirrorMap for TwoSidedMap<'_> {
    fn primal(&self, z: f64) -> f64 {
        self.side().primal(self.center + z) - self.side().primal(self.center - z)
    }

    fn slope(&self, z: f64) -> f64 {
        self.side().slope(self.center + z) + self.side().slope(self.center - z)
    }

    fn conjugate(&self, z: f64) -> f64 {
        self.side().conjugate(self.center + z) + self.side().conjugate(self.center - z)
    }

    /// Only x = 0 (z = 0) is needed: the two-sided model starts there.
    fn dual_of(&self, x: f64) -> f64 {
        if x == 0.0 {
            0.0
        } else {
            f64::NAN
        }
    }

    fn describe(&self) -> String {
        format!("two-sided({})", self.side.describe())
    }
}

/// Literature oracles for the dual map, up to the scale of z (THEORY §5, §8): a rescaling of z
/// leaves `range(Aᵀ)` and hence the Bregman projection unchanged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Oracle {
    /// Woodworth et al. 2020, two-sided depth 2: `x(z) = 2α² sinh z`, `R* = 2α² cosh z`.
    Woodworth {
        /// Initial scale α.
        alpha: f64,
    },
    /// Two-sided depth D ≥ 3: `x(s) = α^D h_D(s)`, `h_D(s) = (1−s)^{−D/(D−2)} − (1+s)^{−D/(D−2)}`,
    /// |s| < 1; `R* = α^D (D−2)/2 · ((1−s)^{−2/(D−2)} + (1+s)^{−2/(D−2)})`.
    DeepTwoSided {
        /// Initial scale α.
        alpha: f64,
        /// Depth D.
        depth: usize,
    },
    /// Azulay et al. 2021, u⊙v with imbalance δ = u0² − v0²: `x(z) = (|δ|/2) sinh(c + z)`,
    /// `c = asinh(2u0v0/|δ|)`, `R* = (|δ|/2) cosh(c + z)`; starts at z = 0 (x0 = u0v0).
    Azulay {
        /// |δ|.
        delta: f64,
        /// `asinh(2u0v0/|δ|)`.
        c: f64,
    },
}

impl MirrorMap for Oracle {
    fn primal(&self, z: f64) -> f64 {
        match *self {
            Oracle::Woodworth { alpha } => 2.0 * alpha * alpha * z.sinh(),
            Oracle::DeepTwoSided { alpha, depth } => {
                let (d, k) = (depth as f64, -(depth as f64) / (depth as f64 - 2.0));
                if z.abs() >= 1.0 {
                    return f64::NAN;
                }
                alpha.powf(d) * ((1.0 - z).powf(k) - (1.0 + z).powf(k))
            }
            Oracle::Azulay { delta, c } => 0.5 * delta * (c + z).sinh(),
        }
    }

    fn slope(&self, z: f64) -> f64 {
        match *self {
            Oracle::Woodworth { alpha } => 2.0 * alpha * alpha * z.cosh(),
            Oracle::DeepTwoSided { alpha, depth } => {
                let (d, k) = (depth as f64, -(depth as f64) / (depth as f64 - 2.0));
                if z.abs() >= 1.0 {
                    return f64::NAN;
                }
                -k * alpha.powf(d) * ((1.0 - z).powf(k - 1.0) + (1.0 + z).powf(k - 1.0))
            }
            Oracle::Azulay { delta, c } => 0.5 * delta * (c + z).cosh(),
        }
    }

    fn conjugate(&self, z: f64) -> f64 {
        match *self {
            Oracle::Woodworth { alpha } => 2.0 * alpha * alpha * z.cosh(),
            Oracle::DeepTwoSided { alpha, depth } => {
                let d = depth as f64;
                let k = -2.0 / (d - 2.0);
                if z.abs() >= 1.0 {
                    return f64::INFINITY;
                }
                alpha.powf(d) * 0.5 * (d - 2.0) * ((1.0 - z).powf(k) + (1.0 + z).powf(k))
            }
            Oracle::Azulay { delta, c } => 0.5 * delta * (c + z).cosh(),
        }
    }

    /// Every oracle starts at z = 0.
    fn dual_of(&self, _x: f64) -> f64 {
        0.0
    }

    fn describe(&self) -> String {
        match self {
            Oracle::Woodworth { .. } => "Woodworth x(z) = 2α² sinh z".into(),
            Oracle::DeepTwoSided { depth, .. } => format!("depth-{depth} two-sided x(s) = α^D h_D(s)"),
            Oracle::Azulay { .. } => "Azulay x(z) = (|δ|/2) sinh(c + z)".into(),
        }
    }
}

/// Limits and tolerances of the dual solve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SolveSettings {
    /// Newton iterations (and L-BFGS iterations of the fallback).
    pub max_iters: u64,
    /// Newton aims at `‖Ax − y‖ ≤ tol · (1 + ‖y‖)`.
    pub tol: f64,
    /// A solve counts as converged when `‖Ax − y‖ ≤ accept · (1 + ‖y‖)` (the floor set by rounding
    /// in `x(θ)`, e.g. the cancellation in `ψ(c + z) − ψ(c − z)` at large α, can sit above `tol`).
    pub accept: f64,
}

impl Default for SolveSettings {
    fn default() -> Self {
        Self { max_iters: 200, tol: 1e-12, accept: 1e-10 }
    }
}

/// Integer statistics of a dual solve.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SolverStats {
    /// `newton`, `newton+lbfgs` or `lbfgs`.
    pub method: String,
    /// Newton plus L-BFGS iterations.
    pub iterations: u64,
    /// Evaluations of the dual cost Φ.
    pub cost_evals: u64,
    /// Evaluations of the dual gradient (the primal residual).
    pub gradient_evals: u64,
    /// Evaluations of the dual Hessian.
    pub hessian_evals: u64,
}

/// The result of a Bregman projection.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    /// The solution x.
    pub x: DVector<f64>,
    /// The dual variable ν.
    pub nu: DVector<f64>,
    /// `‖Ax − y‖`.
    pub residual: f64,
    /// The primal objective `D_R(x, x0)` (when the map is a [`Potential`]; else from the dual).
    pub objective: f64,
    /// `P − D` with `D(ν) = yᵀν − Σ (R*(θ) − R*(θ0))`.
    pub gap: f64,
    /// Whether the acceptance tolerance was met with a finite bound, residual, objective and x.
    pub converged: bool,
    /// Solver statistics.
    pub stats: SolverStats,
}

struct Dual<'a> {
    map: &'a dyn MirrorMap,
    a: &'a DMatrix<f64>,
    /// Dual directions B (rows): θ = θ0 + Bᵀν. B = A for the Bregman projection.
    b: &'a DMatrix<f64>,
    y: &'a DVector<f64>,
    theta0: &'a DVector<f64>,
    costs: Cell<u64>,
    grads: Cell<u64>,
    hessians: Cell<u64>,
}

impl Dual<'_> {
    fn theta(&self, nu: &DVector<f64>) -> DVector<f64> {
        self.theta0 + self.b.tr_mul(nu)
    }

    fn x(&self, nu: &DVector<f64>) -> DVector<f64> {
        self.theta(nu).map(|t| self.map.primal(t))
    }

    fn residual(&self, nu: &DVector<f64>) -> DVector<f64> {
        self.grads.set(self.grads.get() + 1);
        self.a * self.x(nu) - self.y
    }

    fn jacobian(&self, nu: &DVector<f64>) -> DMatrix<f64> {
        self.hessians.set(self.hessians.get() + 1);
        let slope = self.theta(nu).map(|t| self.map.slope(t));
        self.a * DMatrix::from_diagonal(&slope) * self.b.transpose()
    }

    fn phi(&self, nu: &DVector<f64>) -> f64 {
        self.costs.set(self.costs.get() + 1);
        let v: f64 = self.theta(nu).iter().map(|&t| self.map.conjugate(t)).sum::<f64>() - self.y.dot(nu);
        if v.is_finite() {
            v
        } else {
            f64::INFINITY
        }
    }
}

/// The most dual-cost evaluations the L-BFGS fallback may spend.
const LBFGS_EVAL_CAP: u64 = 20_000;

/// The dual problem handed to argmin by reference (so that the call counters stay ours).
struct ArgminDual<'a, 'b>(&'b Dual<'a>);

impl CostFunction for ArgminDual<'_, '_> {
    type Param = DVector<f64>;
    type Output = f64;

    /// Errors after [`LBFGS_EVAL_CAP`] evaluations: argmin's backtracking has no iteration cap of
    /// its own and was seen to spin forever (CRATES.md, argmin issue #497).
    fn cost(&self, nu: &Self::Param) -> Result<f64, argmin::core::Error> {
        if self.0.costs.get() > LBFGS_EVAL_CAP {
            return Err(argmin::core::Error::msg("L-BFGS evaluation cap reached"));
        }
        Ok(self.0.phi(nu))
    }
}

impl Gradient for ArgminDual<'_, '_> {
    type Param = DVector<f64>;
    type Gradient = DVector<f64>;

    fn gradient(&self, nu: &Self::Param) -> Result<DVector<f64>, argmin::core::Error> {
        // (cargo-mutants: `>=` or `==` is equivalent: the counter rises by one per call, so either
        // stops at the cap one evaluation earlier)
        if self.0.grads.get() > LBFGS_EVAL_CAP {
            return Err(argmin::core::Error::msg("L-BFGS evaluation cap reached"));
        }
        let r = self.0.residual(nu);
        Ok(if r.iter().all(|v| v.is_finite()) { r } else { DVector::zeros(r.len()) })
    }
}

/// Damped Newton on `A x(θ0 + Bᵀν) = y` with backtracking on the residual norm; a step whose
/// `x` is not finite (θ outside the domain) is halved. Returns the iterate and iteration count.
fn newton(dual: &Dual<'_>, nu0: DVector<f64>, target: f64, max_iters: u64) -> (DVector<f64>, u64) {
    let mut nu = nu0;
    let mut r = dual.residual(&nu);
    let mut iters = 0;
    // merit: Armijo on the convex Φ when B = A (a Newton direction of an SPD Hessian descends), or
    // a decrease of the residual norm (near the optimum Φ stalls at rounding level)
    let symmetric = dual.a == dual.b;
    // (cargo-mutants: `>=` for `r.norm() > target` is equivalent: a residual exactly at the target
    // is a tie of measure zero, and one more iteration from it stays below it)
    while iters < max_iters && r.norm() > target && r.iter().all(|v| v.is_finite()) {
        iters += 1;
        let jac = dual.jacobian(&nu);
        let Some(mut step) = jac.lu().solve(&r) else { break };
        if !step.iter().all(|v| v.is_finite()) {
            break;
        }
        // cap the move of the dual coordinates at max(4, ‖θ‖∞) per iteration: at small scales the
        // Hessian is tiny and the raw step overflows exponential maps by hundreds of orders
        let theta_max = dual.theta(&nu).amax();
        let move_max = dual.b.tr_mul(&step).amax();
        let cap = theta_max.max(4.0);
        // (cargo-mutants: `>=` is equivalent: at move_max = cap the step is scaled by 1)
        if move_max > cap {
            step *= cap / move_max;
        }
        let phi = if symmetric { dual.phi(&nu) } else { f64::NAN };
        let slope = -r.dot(&step);
        let mut t = 1.0;
        let mut accepted = false;
        // (cargo-mutants: `>=` is equivalent: t is a power of two and never equals 1e-30)
        while t > 1e-30 {
            let trial = &nu - &step * t;
            let rt = dual.residual(&trial);
            let finite = rt.iter().all(|v| v.is_finite());
            let armijo = symmetric && phi.is_finite() && dual.phi(&trial) <= phi + 1e-4 * t * slope;
            if finite && (armijo || sufficient_decrease(rt.norm(), r.norm(), t)) {
                nu = trial;
                r = rt;
                accepted = true;
                break;
            }
            t *= 0.5;
        }
        if !accepted {
            break;
        }
    }
    (nu, iters)
}

/// The residual merit of [`newton`]'s backtracking: `‖r_new‖ ≤ (1 − 10⁻⁴ t)‖r_old‖` at step
/// fraction t (a decrease proportional to the step, so that the search cannot cycle).
fn sufficient_decrease(new: f64, old: f64, t: f64) -> bool {
    new <= (1.0 - 1e-4 * t) * old
}

/// A tolerance relative to the data: `tol · (1 + ‖y‖)` (Newton's target and the acceptance bound).
fn relative(tol: f64, y: &DVector<f64>) -> f64 {
    tol * (1.0 + y.norm())
}

/// The Bregman projection `argmin D_R(x, x0) s.t. Ax = y` for a mirror map, from `θ0 = R'(x0)`.
pub fn bregman_projection(
    map: &dyn MirrorMap,
    a: &DMatrix<f64>,
    y: &DVector<f64>,
    theta0: &DVector<f64>,
    settings: &SolveSettings,
) -> Projection {
    generalized_projection(map, a, a, y, theta0, settings)
}

/// The generalised projection of THEORY §5: the x with `Ax = y` and
/// `R'(x) − θ0 ∈ range(Bᵀ)` (B = A: the Bregman projection; B = φ_q(A) for one sample: the limit of
/// the ℓ_q steepest mirror flow). For B ≠ A the duality gap is not defined and reported as NaN.
pub fn generalized_projection(
    map: &dyn MirrorMap,
    a: &DMatrix<f64>,
    b: &DMatrix<f64>,
    y: &DVector<f64>,
    theta0: &DVector<f64>,
    settings: &SolveSettings,
) -> Projection {
    let dual = Dual { map, a, b, y, theta0, costs: Cell::new(0), grads: Cell::new(0), hessians: Cell::new(0) };
    if map.positive_only() && !nonnegative_solution_exists(a, y) {
        // no point of the map's domain interpolates: say so at once instead of letting the
        // fallback search an empty domain (minutes for quadrature potentials)
        let stats =
            SolverStats { method: "none: no x ≥ 0 solves Ax = y (clarabel LP)".into(), ..SolverStats::default() };
        let nan = DVector::from_element(a.ncols(), f64::NAN);
        return Projection {
            x: nan,
            nu: DVector::zeros(a.nrows()),
            residual: f64::INFINITY,
            objective: f64::NAN,
            gap: f64::NAN,
            converged: false,
            stats,
        };
    }
    let target = relative(settings.tol, y);
    let (mut nu, mut iterations) = newton(&dual, DVector::zeros(a.nrows()), target, settings.max_iters);
    let mut method = "newton".to_string();
    let mut residual = dual.residual(&nu).norm();
    // (cargo-mutants: `>=` is equivalent: a residual exactly at the target is a tie of measure zero)
    if (residual.is_nan() || residual > target) && a == b {
        // fallback: argmin L-BFGS on Φ (tol_grad ≥ 1e−10 and tol_cost > 0: CRATES.md), then Newton
        // again from its iterate
        method = "newton+lbfgs".into();
        let start = if residual.is_finite() { nu.clone() } else { DVector::zeros(a.nrows()) };
        // argmin's backtracking has no iteration cap (CRATES.md): start only from a finite cost
        let line = BacktrackingLineSearch::new(ArmijoCondition::new(1e-4).expect("valid constant"));
        let solver = LBFGS::new(line, 10)
            .with_tolerance_grad(1e-10)
            .and_then(|s| s.with_tolerance_cost(1e-15))
            .expect("valid tolerances");
        let run = if dual.phi(&start).is_finite() {
            let max_iters = settings.max_iters;
            Executor::new(ArgminDual(&dual), solver).configure(|s| s.param(start).max_iters(max_iters)).run().ok()
        } else {
            None
        };
        if let Some(res) = run {
            iterations += res.state().get_iter();
            if let Some(p) = res.state().get_best_param() {
                let (polished, more) = newton(&dual, p.clone(), target, settings.max_iters);
                iterations += more;
                nu = polished;
            }
        }
        residual = dual.residual(&nu).norm();
    }
    let x = dual.x(&nu);
    let theta = dual.theta(&nu);
    let dual_value = if a == b {
        y.dot(&nu) - theta.iter().zip(theta0.iter()).map(|(&t, &t0)| map.conjugate(t) - map.conjugate(t0)).sum::<f64>()
    } else {
        f64::NAN
    };
    // D_R(x, x0) = Σ (θ − θ0)x − R*(θ) + R*(θ0), using R(x) = θx − R*(θ) at θ = R'(x)
    let objective = theta
        .iter()
        .zip(theta0.iter())
        .zip(x.iter())
        .map(|((&t, &t0), &xk)| (t - t0) * xk - map.conjugate(t) + map.conjugate(t0))
        .sum::<f64>();
    // converged: the residual meets the acceptance bound, and every figure is finite (data whose
    // norms overflow make the bound itself infinite: that is never convergence)
    let bound = relative(settings.accept, y);
    let converged = bound.is_finite()
        && residual.is_finite()
        && residual <= bound
        && objective.is_finite()
        && x.iter().all(|v| v.is_finite());
    let stats = SolverStats {
        method,
        iterations,
        cost_evals: dual.costs.get(),
        gradient_evals: dual.grads.get(),
        hessian_evals: dual.hessians.get(),
    };
    Projection { x, nu, residual, objective, gap: objective - dual_value, converged, stats }
}

/// The Bregman projection of `x0` for a potential: `θ0 = R'(x0)`.
pub fn project(potential: &dyn Potential, a: &DMatrix<f64>, y: &DVector<f64>, x0: &DVector<f64>) -> Projection {
    let theta0 = x0.map(|v| potential.grad(v));
    bregman_projection(&PotentialMap(potential), a, y, &theta0, &SolveSettings::default())
}

/// A solved reference problem.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    /// The solution.
    pub x: DVector<f64>,
    /// The dual multipliers of the equality constraints (sign as returned by the solver).
    pub nu: DVector<f64>,
    /// The optimal value.
    pub objective: f64,
    /// Interior-point iterations.
    pub iterations: u32,
}

fn csc(m: &DMatrix<f64>) -> clarabel::algebra::CscMatrix<f64> {
    let rows: Vec<Vec<f64>> = (0..m.nrows()).map(|i| m.row(i).iter().copied().collect()).collect();
    clarabel::algebra::CscMatrix::from(&rows)
}

/// Runs clarabel on `min ½vᵀPv + qᵀv s.t. b − Av ∈ cones` (gap and feasibility tolerance 1e−12):
/// the solver status and its last iterate, `nu` the duals of the first `n_eq` rows.
fn run_conic(
    p: &DMatrix<f64>,
    q: &[f64],
    a: &DMatrix<f64>,
    b: &[f64],
    cones: &[clarabel::solver::SupportedConeT<f64>],
    n_eq: usize,
) -> InputResult<(clarabel::solver::SolverStatus, Reference)> {
    use clarabel::solver::{DefaultSettingsBuilder, DefaultSolver, IPSolver};
    let settings = DefaultSettingsBuilder::default()
        .verbose(false)
        .max_iter(200)
        .tol_gap_abs(1e-12)
        .tol_gap_rel(1e-12)
        .tol_feas(1e-12)
        .build()
        .map_err(|e| InputError::new("clarabel", format!("{e:?}")))?;
    let mut solver = DefaultSolver::new(&csc(p), q, &csc(a), b, cones, settings)
        .map_err(|e| InputError::new("clarabel", format!("{e:?}")))?;
    solver.solve();
    let s = &solver.solution;
    let reference = Reference {
        x: DVector::from_vec(s.x.clone()),
        nu: DVector::from_vec(s.z[..n_eq].to_vec()),
        objective: s.obj_val,
        iterations: s.iterations,
    };
    Ok((s.status, reference))
}

/// [`run_conic`] that must solve: any other status is an input error naming clarabel.
pub(crate) fn solve_conic(
    p: &DMatrix<f64>,
    q: &[f64],
    a: &DMatrix<f64>,
    b: &[f64],
    cones: &[clarabel::solver::SupportedConeT<f64>],
    n_eq: usize,
) -> InputResult<Reference> {
    use clarabel::solver::SolverStatus;
    let (status, reference) = run_conic(p, q, a, b, cones, n_eq)?;
    if status != SolverStatus::Solved && status != SolverStatus::AlmostSolved {
        return Err(InputError::new("clarabel", format!("reference problem not solved: {status:?}")));
    }
    Ok(reference)
}

/// The residual `min_{x ≥ 0} ‖Ax − y‖₂` of the orthant feasibility problem, by non-negative least
/// squares ([`crate::margin::nnls`]): zero (to rounding) iff some `x ≥ 0` solves `Ax = y`, the
/// set a balanced one-sided model `x = ∏_i w_i` (all layers at α > 0) can reach. NaN when the
/// active-set budget ran out (feasibility unknown).
pub fn nonnegative_residual(a: &DMatrix<f64>, y: &DVector<f64>) -> f64 {
    crate::margin::nnls(a, y).map_or(f64::NAN, |x| (a * x - y).norm())
}

/// `Some(residual)` when [`nonnegative_residual`] exceeds `1e−8·‖y‖` (the active-set solve
/// stops at a gradient of 1e−13·‖A‖‖y‖, so a residual that large is the data's, not the solver's);
/// `None` also when the residual is unknown (NaN), leaving the question to the dual solve.
pub fn nonnegative_infeasible(a: &DMatrix<f64>, y: &DVector<f64>) -> Option<f64> {
    let r = nonnegative_residual(a, y);
    (r > 1e-8 * y.norm()).then_some(r)
}

/// Whether some `x ≥ 0` solves `Ax = y` (the feasibility LP `min 0 s.t. Ax = y, x ≥ 0`, clarabel):
/// false only on a certificate of infeasibility; a solver failure leaves the question to the dual
/// solve, whose own failure is reported.
pub fn nonnegative_solution_exists(a: &DMatrix<f64>, y: &DVector<f64>) -> bool {
    use clarabel::solver::SolverStatus::{AlmostPrimalInfeasible, PrimalInfeasible};
    use clarabel::solver::SupportedConeT::{NonnegativeConeT, ZeroConeT};
    let (n, d) = a.shape();
    let mut c = DMatrix::zeros(n + d, d);
    c.view_mut((0, 0), (n, d)).copy_from(a);
    c.view_mut((n, 0), (d, d)).copy_from(&-DMatrix::<f64>::identity(d, d));
    let b: Vec<f64> = y.iter().copied().chain(std::iter::repeat_n(0.0, d)).collect();
    let cones = [ZeroConeT(n), NonnegativeConeT(d)];
    !matches!(
        run_conic(&DMatrix::zeros(d, d), &vec![0.0; d], &c, &b, &cones, n),
        Ok((PrimalInfeasible | AlmostPrimalInfeasible, _))
    )
}

/// `min ‖x‖₁ s.t. Ax = y` as an LP over `(x, t)`: `min Σt`, `Ax = y`, `−t ≤ x ≤ t`. The returned
/// `nu` is an ℓ1 dual certificate: `‖Aᵀν‖∞ ≤ 1`, `|Aᵀν| = 1` on the support.
pub fn min_l1(a: &DMatrix<f64>, y: &DVector<f64>) -> InputResult<Reference> {
    use clarabel::solver::SupportedConeT::{NonnegativeConeT, ZeroConeT};
    let (n, d) = a.shape();
    let mut c = DMatrix::zeros(n + 2 * d, 2 * d);
    c.view_mut((0, 0), (n, d)).copy_from(a);
    for k in 0..d {
        c[(n + k, k)] = 1.0;
        c[(n + k, d + k)] = -1.0;
        c[(n + d + k, k)] = -1.0;
        c[(n + d + k, d + k)] = -1.0;
    }
    let b: Vec<f64> = y.iter().copied().chain(std::iter::repeat_n(0.0, 2 * d)).collect();
    let q: Vec<f64> = std::iter::repeat_n(0.0, d).chain(std::iter::repeat_n(1.0, d)).collect();
    let mut r = solve_conic(&DMatrix::zeros(2 * d, 2 * d), &q, &c, &b, &[ZeroConeT(n), NonnegativeConeT(2 * d)], n)?;
    r.x = r.x.rows(0, d).into_owned();
    Ok(r)
}

/// `min Σ_k x_k s.t. Ax = y, x ≥ 0` (the min-ℓ1 interpolator of the non-negative orthant, the set a
/// one-sided model `x = ∏_i w_i` from a positive init reaches) as an LP: rows `[A; −I]`, cones
/// `{0}ⁿ × R₊ᵈ`.
pub fn min_l1_nonnegative(a: &DMatrix<f64>, y: &DVector<f64>) -> InputResult<Reference> {
    use clarabel::solver::SupportedConeT::{NonnegativeConeT, ZeroConeT};
    let (n, d) = a.shape();
    let mut c = DMatrix::zeros(n + d, d);
    c.view_mut((0, 0), (n, d)).copy_from(a);
    c.view_mut((n, 0), (d, d)).copy_from(&-DMatrix::<f64>::identity(d, d));
    let b: Vec<f64> = y.iter().copied().chain(std::iter::repeat_n(0.0, d)).collect();
    solve_conic(&DMatrix::zeros(d, d), &vec![1.0; d], &c, &b, &[ZeroConeT(n), NonnegativeConeT(d)], n)
}

/// The Euclidean projection of `x0` onto `{Ax = y}` as a QP: `min ½‖x − x0‖²` (x0 = 0: min-ℓ2).
pub fn euclidean_projection(a: &DMatrix<f64>, y: &DVector<f64>, x0: &DVector<f64>) -> InputResult<Reference> {
    use clarabel::solver::SupportedConeT::ZeroConeT;
    let (n, d) = a.shape();
    let q: Vec<f64> = x0.iter().map(|v| -v).collect();
    let mut r = solve_conic(&DMatrix::identity(d, d), &q, a, y.as_slice(), &[ZeroConeT(n)], n)?;
    r.objective += 0.5 * x0.norm_squared();
    Ok(r)
}

// ---- the projection of a deep diagonal model (one- or two-sided) ----

/// The potential of one side of the model: [`crate::potential::for_model`].
pub fn side_potential(model: &DeepDiagonal, q: f64, constants: &[f64]) -> Box<dyn Potential> {
    crate::potential::for_model(model.depth, q, constants)
}

/// The dual centre `c = R_s'(u0)` of a two-sided model: `u0 = ∏_i w_i(0)` of one side.
fn center(model: &DeepDiagonal, w0: &DVector<f64>, side: &dyn Potential) -> f64 {
    let u0: f64 = (0..model.depth).map(|i| w0[i * model.dim]).product();
    side.grad(u0)
}

/// The generalised projection through the model's mirror map (THEORY §5): the x with `Ax = y` and
/// `R'(x) − R'(x0) ∈ range(Bᵀ)` (B = A: the Bregman projection `argmin D_R(x, x0) s.t. Ax = y`).
/// One-sided: the map of [`crate::potential::for_model`] from `θ0 = R'(x0)`; two-sided: [`TwoSidedMap`]
/// from z = 0.
pub fn predicted_limit(
    model: &DeepDiagonal,
    w0: &DVector<f64>,
    q: f64,
    constants: &[f64],
    a: &DMatrix<f64>,
    b: &DMatrix<f64>,
    y: &DVector<f64>,
) -> Projection {
    let side = side_potential(model, q, constants);
    let settings = SolveSettings::default();
    if model.two_sided {
        let map = TwoSidedMap { side: side.as_ref(), center: center(model, w0, side.as_ref()) };
        generalized_projection(&map, a, b, y, &DVector::zeros(model.dim), &settings)
    } else {
        let map = PotentialMap(side.as_ref());
        let theta0 = model.x(w0).map(|v| map.dual_of(v));
        generalized_projection(&map, a, b, y, &theta0, &settings)
    }
}

/// `D_R(x, x0) = Σ_k (θ_k − θ0_k) x_k − R*(θ_k) + R*(θ0_k)` with `θ = R'(x)`, `θ0 = R'(x0)` (the
/// same formula as the dual solver's primal objective, so the two are comparable). One-sided:
/// `θ = R'(x)` of the potential; two-sided: θ = z solves `ψ(c + z) − ψ(c − z) = x` (odd and
/// increasing in z; [`inverse_increasing`]). NaN where x leaves the map's range.
pub fn divergence(model: &DeepDiagonal, w0: &DVector<f64>, q: f64, constants: &[f64], x: &DVector<f64>) -> f64 {
    let side = side_potential(model, q, constants);
    if model.two_sided {
        let map = TwoSidedMap { side: side.as_ref(), center: center(model, w0, side.as_ref()) };
        let z_of = |v: f64| -> f64 {
            if v == 0.0 {
                return 0.0;
            }
            inverse_increasing(|z| map.primal(z), v.abs()).copysign(v)
        };
        x.iter().map(|&v| z_of(v) * v - map.conjugate(z_of(v)) + map.conjugate(0.0)).sum()
    } else {
        let map = PotentialMap(side.as_ref());
        let x0 = model.x(w0);
        x.iter()
            .zip(x0.iter())
            .map(|(&v, &v0)| {
                let (t, t0) = (map.dual_of(v), map.dual_of(v0));
                (t - t0) * v - map.conjugate(t) + map.conjugate(t0)
            })
            .sum()
    }
}

/// The z ≥ 0 with `f(z) = target` for an increasing `f` with `f(0) ≤ target` whose domain may end
/// (a side potential with bounded `R'` range: `f` is NaN or +∞ beyond the end, where it tends to
/// +∞): bisection, with a non-finite value counted as above the target, on a bracket doubled from
/// [0, 1] (at most 1024 doublings before it overflows: NaN, no bracket) and halved until its ends are
/// neighbouring floats (at most ~1100 halvings); of the two ends, the one whose value is closer to
/// the target.
pub fn inverse_increasing(f: impl Fn(f64) -> f64, target: f64) -> f64 {
    let above = |z: f64| {
        let v = f(z);
        !v.is_finite() || v >= target
    };
    let (mut lo, mut hi) = (0.0, 1.0);
    while !above(hi) {
        lo = hi;
        hi *= 2.0;
        if !hi.is_finite() {
            return f64::NAN;
        }
    }
    loop {
        let mid = lo + 0.5 * (hi - lo);
        if !(lo < mid && mid < hi) {
            break;
        }
        if above(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    let miss = |z: f64| (f(z) - target).abs();
    // cargo-mutants: `<` → `<=` is equivalent up to exact ties, where either end is as close.
    if f(hi).is_finite() && miss(hi) < miss(lo) {
        hi
    } else {
        lo
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::potential::{Balanced, LambdaBalanced};
    use crate::problem::Problem;

    /// The ν with `Σ_i a_i x_i(ν) = 1` for an increasing `x(ν)`, by bisection (A = [1, 2], y = 1).
    pub(crate) fn scalar_dual(x_of: impl Fn(f64) -> [f64; 2]) -> [f64; 2] {
        let (mut lo, mut hi) = (-30.0, 30.0);
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            let x = x_of(mid);
            if x[0] + 2.0 * x[1] > 1.0 {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        x_of(0.5 * (lo + hi))
    }

    #[test]
    fn newton_counts_its_evaluations() {
        // pure Newton: one Jacobian per iteration, and residuals for the start, at least one trial
        // per iteration and the final check, so gradients ≥ iterations + 2 (the counters feed the
        // reported statistics and the L-BFGS evaluation caps)
        let problem = Problem::random_regression(3, 4, 9, 2);
        let p = project(&Balanced::new(2, 2.0), &problem.a, &problem.y, &DVector::from_element(9, 0.01));
        assert!(p.converged && p.stats.method == "newton", "{:?}", p.stats);
        assert!(p.stats.iterations >= 2, "{:?}", p.stats);
        assert_eq!(p.stats.hessian_evals, p.stats.iterations, "{:?}", p.stats);
        assert!(p.stats.gradient_evals >= p.stats.iterations + 2, "{:?}", p.stats);
    }

    #[test]
    fn predicted_limits_of_u_v_are_the_entropy_projections_by_hand() {
        // depth 2, q = 2 (GF on u ⊙ v): R'(x) = ½ ln x per side, so one-sided x = x0 e^{2Aᵀν} and
        // two-sided (both sides at α) x = 2α² sinh(2Aᵀν) (THEORY §5); A = [1, 2], y = 1, ν by
        // bisection against the engine's dual Newton solve: 1e-9
        let a = DMatrix::from_row_slice(1, 2, &[1.0, 2.0]);
        let y = DVector::from_vec(vec![1.0]);
        let w0 = DVector::from_vec(vec![0.3, 0.2, 0.3, 0.2]);
        let p = predicted_limit(&DeepDiagonal::new(2, 2), &w0, 2.0, &[0.0, 0.0], &a, &a, &y);
        let want = scalar_dual(|nu| [0.09 * (2.0 * nu).exp(), 0.04 * (4.0 * nu).exp()]);
        assert!(
            p.converged && (p.x[0] - want[0]).abs() < 1e-9 && (p.x[1] - want[1]).abs() < 1e-9,
            "{} vs {want:?}",
            p.x
        );
        let alpha = 0.5;
        let w0 = DVector::from_element(8, alpha);
        let p = predicted_limit(&DeepDiagonal::two_sided(2, 2), &w0, 2.0, &[0.0, 0.0], &a, &a, &y);
        let want = scalar_dual(|nu| [2.0 * alpha * alpha * (2.0 * nu).sinh(), 2.0 * alpha * alpha * (4.0 * nu).sinh()]);
        assert!(
            p.converged && (p.x[0] - want[0]).abs() < 1e-9 && (p.x[1] - want[1]).abs() < 1e-9,
            "{} vs {want:?}",
            p.x
        );
    }

    #[test]
    fn divergences_of_u_v_are_the_entropy_divergences_by_hand() {
        // one-sided: R(x) = ½(x ln x − x), D = ½ Σ (x ln(x/x0) − x + x0); two-sided (sides at α):
        // x = 2α² sinh(2z), R'(x) = z = ½ asinh(x/(2α²)), R(x) = ∫_0^x R' = ½(x asinh(x/(2α²)) −
        // √(x² + 4α⁴) + 2α²), D(x, 0) = R(x). Closed forms against the engine's conjugate route
        // (quadratures and inversions to ≈1e-12): 1e-9
        let w0 = DVector::from_vec(vec![0.3, 0.2, 0.3, 0.2]);
        let x = DVector::from_vec(vec![0.5, 0.25]);
        let got = divergence(&DeepDiagonal::new(2, 2), &w0, 2.0, &[0.0, 0.0], &x);
        let want: f64 =
            [(0.5, 0.09), (0.25, 0.04)].iter().map(|&(v, v0): &(f64, f64)| 0.5 * (v * (v / v0).ln() - v + v0)).sum();
        assert!((got - want).abs() < 1e-9, "{got} vs {want}");
        let alpha = 0.5f64;
        let s = 2.0 * alpha * alpha;
        let x = DVector::from_vec(vec![0.7, -0.2, 0.0]);
        let got = divergence(&DeepDiagonal::two_sided(2, 3), &DVector::from_element(12, alpha), 2.0, &[0.0, 0.0], &x);
        let want: f64 = x.iter().map(|&v| 0.5 * (v * (v / s).asinh() - (v * v + s * s).sqrt() + s)).sum();
        assert!((got - want).abs() < 1e-9, "{got} vs {want}");
    }

    #[test]
    fn inverse_increasing_finds_roots_up_to_the_end_of_the_domain() {
        // z³ = 8 (a bracket doubled twice); 1/(1 − z) − 1 = 3 on a domain ending at 1 (NaN beyond):
        // z = ¾; a bounded f (1 − e^{−z} < 2 everywhere) has no root: NaN. Bisection to the last bit
        assert!((inverse_increasing(|z| z * z * z, 8.0) - 2.0).abs() < 1e-14);
        assert!((inverse_increasing(|z| z * z * z, 0.001) - 0.1).abs() < 1e-14);
        let ended = |z: f64| if z < 1.0 { 1.0 / (1.0 - z) - 1.0 } else { f64::NAN };
        assert!((inverse_increasing(ended, 3.0) - 0.75).abs() < 1e-14);
        assert!(inverse_increasing(|z| 1.0 - (-z).exp(), 2.0).is_nan());
        assert_eq!(inverse_increasing(|z| z, 0.0), 0.0);
    }

    #[test]
    fn newtons_merit_and_tolerances_are_the_stated_formulas() {
        // (1 − 10⁻⁴t)‖r‖: at t = 1 the bound is 0.9999, at t = ½ it is 0.99995
        assert!(sufficient_decrease(0.9998, 1.0, 1.0) && !sufficient_decrease(0.99995, 1.0, 1.0));
        assert!(sufficient_decrease(0.99994, 1.0, 0.5) && !sufficient_decrease(0.99996, 1.0, 0.5));
        // tol(1 + ‖y‖) with ‖(3, 4)‖ = 5, and with y = 0
        assert_eq!(relative(1e-3, &DVector::from_vec(vec![3.0, 4.0])), 6e-3);
        assert_eq!(relative(1e-3, &DVector::zeros(2)), 1e-3);
    }

    #[test]
    fn inverse_increasing_returns_the_float_whose_value_is_closest_to_the_target() {
        // no neighbour of the answer does better: bisection to neighbouring floats, then the closer
        // end (the identity's root is the target itself; z³ and e^z − 1 roots fall between floats;
        // 1e300 needs ~1000 doublings)
        let cube = |z: f64| z * z * z;
        let expm1 = |z: f64| z.exp_m1();
        assert_eq!(inverse_increasing(|z| z, 0.3), 0.3);
        assert_eq!(inverse_increasing(|z| z, 1e300), 1e300);
        for target in [2.0, 3.0, 5.0, 7.0, 10.0, 0.001, 1e-7, 123.456] {
            for f in [&cube as &dyn Fn(f64) -> f64, &expm1] {
                let z = inverse_increasing(f, target);
                let miss = |z: f64| (f(z) - target).abs();
                assert!(miss(z) <= miss(z.next_up()) && miss(z) <= miss(z.next_down()), "{target}: {z}");
            }
        }
    }

    #[test]
    fn positive_only_maps_refuse_data_outside_the_orthant_at_once() {
        // (Ax)_1 = x_1 + x_2 + x_3/2 ≥ 0 for x ≥ 0, so y_1 = −1 is out of reach
        let a = DMatrix::from_row_slice(2, 3, &[1.0, 1.0, 0.5, 1.0, 2.0, 0.3]);
        let y = DVector::from_vec(vec![-1.0, 1.0]);
        assert!(!nonnegative_solution_exists(&a, &y));
        assert!(nonnegative_solution_exists(&a, &DVector::from_vec(vec![1.0, 1.0])));
        let side = Balanced::new(3, 2.0); // e = 4/3: R'(0) = −∞
        assert!(side.positive_only() && !LambdaBalanced { q: 2.0, lambda: 0.5 }.positive_only());
        let p = project(&side, &a, &y, &DVector::from_element(3, 0.01));
        assert!(!p.converged && p.stats.method.starts_with("none") && p.stats.cost_evals == 0);
    }

    #[test]
    fn two_sided_maps_agree_with_the_oracles_up_to_the_scale_of_z() {
        // balanced depth 2: ψ(θ) = e^{2θ}, c = ln(α²)/2 → x = 2α² sinh(2z): Woodworth at 2z
        let alpha: f64 = 0.3;
        let side = Balanced::new(2, 2.0);
        let map = TwoSidedMap { side: &side, center: side.grad(alpha * alpha) };
        let oracle = Oracle::Woodworth { alpha };
        for z in [-0.7, 0.1, 1.3] {
            assert!((map.primal(z) - oracle.primal(2.0 * z)).abs() < 1e-13 * (1.0 + oracle.primal(2.0 * z).abs()));
        }
        // depth 3: s = (D−2) α^{D−2} z
        let side = Balanced::new(3, 2.0);
        let map = TwoSidedMap { side: &side, center: side.grad(alpha.powi(3)) };
        let oracle = Oracle::DeepTwoSided { alpha, depth: 3 };
        for z in [-2.0, 0.5, 3.0] {
            let s = alpha * z;
            assert!((map.primal(z) - oracle.primal(s)).abs() < 1e-12 * (1.0 + oracle.primal(s).abs()), "z = {z}");
        }
        // λ-balanced one side: ½λ sinh(2θ) with c = R'(u0v0) → Azulay at 2z
        let (u0, v0) = ((alpha * alpha + 0.4).sqrt(), alpha);
        let side = LambdaBalanced { q: 2.0, lambda: 0.4 };
        let oracle = Oracle::Azulay { delta: 0.4, c: (2.0 * u0 * v0 / 0.4_f64).asinh() };
        let map = PotentialMap(&side);
        let t0 = side.grad(u0 * v0);
        for z in [-0.4, 0.2] {
            assert!((map.primal(t0 + z) - oracle.primal(2.0 * z)).abs() < 1e-12);
        }
    }

    #[test]
    fn projection_of_the_euclidean_potential_is_the_euclidean_projection() {
        // R = x²/(2λ) near 0 is not exact; use the λ-balanced potential at huge λ: R'' ≈ 1/λ
        let p = Problem::random_regression(4, 3, 6, 0);
        let x0 = DVector::from_fn(6, |k, _| 0.1 * k as f64);
        let reference = euclidean_projection(&p.a, &p.y, &x0).unwrap();
        let pot = LambdaBalanced { q: 2.0, lambda: 1e6 };
        let proj = project(&pot, &p.a, &p.y, &x0);
        assert!(proj.converged && proj.residual < 1e-11);
        // R'' = 1/sqrt(λ² + 4x²) = (1/λ)(1 − 2x²/λ² + …): relative deviation ≈ 2x²/λ² ≈ 1e-11
        assert!((&proj.x - &reference.x).norm() < 1e-6 * reference.x.norm(), "{}", (&proj.x - &reference.x).norm());
        assert!(proj.gap.abs() < 1e-8);
    }

    #[test]
    fn overflowing_data_never_converge() {
        // entries 1e200: ‖y‖ and the residual overflow to inf, so "residual ≤ accept·(1 + ‖y‖)"
        // would read inf ≤ inf
        let a = DMatrix::from_row_slice(2, 3, &[1e200, 1.0, 2.0, 1.0, 1e200, 3.0]);
        let y = DVector::from_vec(vec![1e200, 1e200]);
        let p = project(&LambdaBalanced { q: 2.0, lambda: 0.5 }, &a, &y, &DVector::from_element(3, 0.1));
        assert!(!p.converged, "residual {} objective {}", p.residual, p.objective);
    }

    #[test]
    fn nonnegative_min_l1_interpolates_in_the_orthant_below_any_feasible_point() {
        let p = Problem::random_regression(5, 4, 12, 2);
        let r = min_l1_nonnegative(&p.a, &p.y).unwrap();
        assert!((&p.a * &r.x - &p.y).norm() < 1e-8 && r.x.min() > -1e-9);
        // x* = (x*_0, x*_1, 0, …) ≥ 0 is feasible: the LP's Σx is no larger, and at least the signed min-ℓ1
        let x_star = p.a.columns(0, 2).pseudo_inverse(0.0).unwrap() * &p.y;
        assert!(x_star.min() > 0.0 && r.x.sum() <= x_star.sum() + 1e-8);
        assert!(r.x.sum() >= min_l1(&p.a, &p.y).unwrap().x.abs().sum() - 1e-8);
    }

    #[test]
    fn min_l1_has_a_valid_certificate() {
        let p = Problem::random_regression(5, 4, 12, 2);
        let r = min_l1(&p.a, &p.y).unwrap();
        assert!((&p.a * &r.x - &p.y).norm() < 1e-8);
        let slack = p.a.tr_mul(&r.nu).amax();
        assert!((slack - 1.0).abs() < 1e-6, "{slack}");
        assert!((r.objective - r.x.lp_norm(1)).abs() < 1e-8);
    }

    fn dual<'a>(
        map: &'a dyn MirrorMap,
        a: &'a DMatrix<f64>,
        b: &'a DMatrix<f64>,
        y: &'a DVector<f64>,
        theta0: &'a DVector<f64>,
    ) -> Dual<'a> {
        Dual { map, a, b, y, theta0, costs: Cell::new(0), grads: Cell::new(0), hessians: Cell::new(0) }
    }

    #[test]
    fn dual_cost_is_the_woodworth_conjugate_sum_and_its_gradient_the_residual() {
        // Woodworth, θ0 = 0: Φ(ν) = Σ_k 2α² cosh((Aᵀν)_k) − yᵀν and ∇Φ = A x(Aᵀν) − y
        let alpha: f64 = 0.7;
        let p = Problem::random_regression(3, 2, 4, 0);
        let map = Oracle::Woodworth { alpha };
        let theta0 = DVector::zeros(4);
        let d = dual(&map, &p.a, &p.a, &p.y, &theta0);
        for nu in [DVector::from_vec(vec![0.3, -0.2]), DVector::from_vec(vec![-1.0, 0.5])] {
            let closed = p.a.tr_mul(&nu).iter().map(|z| 2.0 * alpha * alpha * z.cosh()).sum::<f64>() - p.y.dot(&nu);
            assert!((d.phi(&nu) - closed).abs() < 1e-13 * (1.0 + closed.abs()), "{} vs {closed}", d.phi(&nu));
            // central differences with h = 1e-5: truncation h²/6·|Φ'''| ≲ 1e-9 (|Aᵀν| ≲ 3),
            // rounding 1e-16·|Φ|/h ≲ 1e-10
            let r = d.residual(&nu);
            let h = 1e-5;
            for i in 0..2 {
                let e = DVector::from_fn(2, |j, _| if j == i { h } else { 0.0 });
                let fd = (d.phi(&(&nu + &e)) - d.phi(&(&nu - &e))) / (2.0 * h);
                assert!((fd - r[i]).abs() < 1e-7 * (1.0 + r.norm()), "∂Φ/∂ν_{i}: {fd} vs {}", r[i]);
            }
        }
    }

    #[test]
    fn lbfgs_cost_refuses_every_evaluation_beyond_the_cap() {
        // Newton's own evaluations can carry the counter past the cap before L-BFGS starts: the
        // guard must hold for every count above the cap, not only at it
        let p = Problem::random_regression(3, 2, 4, 0);
        let map = Oracle::Woodworth { alpha: 0.7 };
        let theta0 = DVector::zeros(4);
        let d = dual(&map, &p.a, &p.a, &p.y, &theta0);
        let cost = ArgminDual(&d);
        let nu = DVector::zeros(2);
        d.costs.set(LBFGS_EVAL_CAP);
        assert!(cost.cost(&nu).is_ok());
        assert!(cost.cost(&nu).is_err());
        d.costs.set(LBFGS_EVAL_CAP + 7);
        assert!(cost.cost(&nu).is_err());
    }

    #[test]
    fn tiny_scales_are_solved_by_capped_newton_steps() {
        // one sample a = (1, 1), y = 1, Woodworth at α = 1e-60: by symmetry x = (½, ½), and
        // 4α² sinh ν = 1 gives ν = asinh(1/(4α²)) ≈ 276. The raw first step is 1/(4α²) ≈ 1e119:
        // only the cap on the dual move lets Newton walk there without overflowing sinh
        let alpha: f64 = 1e-60;
        let a = DMatrix::from_row_slice(1, 2, &[1.0, 1.0]);
        let y = DVector::from_vec(vec![1.0]);
        let p = bregman_projection(&Oracle::Woodworth { alpha }, &a, &y, &DVector::zeros(2), &SolveSettings::default());
        assert!(p.converged && p.stats.method == "newton", "{:?}", p.stats);
        assert!((&p.x - DVector::from_element(2, 0.5)).amax() < 1e-11, "{}", p.x);
        // dν = dr/(4α² cosh ν) = dr/(1 + O(α²)): the residual tolerance 1e-12 carries over
        let nu = (0.25 / (alpha * alpha)).asinh();
        assert!((p.nu[0] - nu).abs() < 1e-9 * nu, "{} vs {nu}", p.nu[0]);
    }

    #[test]
    fn newton_stops_at_once_when_the_start_meets_the_tolerance() {
        // the documented target is tol·(1 + ‖y‖): with ‖y‖ ≈ 0.05, a start off by 4e-13 is within
        // 1e-12·(1 + ‖y‖) (but not within 1e-12·‖y‖) and must cost no iteration and no fallback
        let a = DMatrix::from_row_slice(2, 3, &[1.0, 0.5, -0.3, 0.2, -1.0, 0.4]);
        let map = Oracle::Woodworth { alpha: 0.1 };
        let theta0 = DVector::from_vec(vec![0.3, -0.6, 0.9]);
        let x0 = theta0.map(|t| map.primal(t));
        let delta = DVector::from_vec(vec![4e-13, 0.0]);
        let y = &a * &x0 + &delta;
        assert!(y.norm() < 0.2 && y.norm() > 0.01, "{}", y.norm());
        let p = bregman_projection(&map, &a, &y, &theta0, &SolveSettings::default());
        assert!(p.converged && p.stats.method == "newton" && p.stats.iterations == 0, "{:?}", p.stats);
        assert!((p.residual - 4e-13).abs() < 1e-15, "{}", p.residual);
    }

    /// A Woodworth problem at α = 1e-3 whose solution needs |z| ≈ ln(1/α²) ≈ 14: far more than a
    /// few Newton steps from ν = 0.
    fn hard_problem() -> (Oracle, Problem) {
        (Oracle::Woodworth { alpha: 1e-3 }, Problem::random_regression(5, 3, 6, 0))
    }

    #[test]
    fn iteration_budgets_are_respected_and_unfinished_solves_never_converge() {
        let (map, p) = hard_problem();
        let theta0 = DVector::zeros(6);
        let d = dual(&map, &p.a, &p.a, &p.y, &theta0);
        let target = 1e-12 * (1.0 + p.y.norm());
        for k in [0, 1, 3] {
            let (nu, iters) = newton(&d, DVector::zeros(3), target, k);
            assert_eq!(iters, k, "Newton's budget");
            assert!(d.residual(&nu).norm() > target);
        }
        // with budget k, Newton, L-BFGS and the polishing Newton each spend their k iterations
        for k in [0, 1, 3] {
            let settings = SolveSettings { max_iters: k, ..SolveSettings::default() };
            let proj = bregman_projection(&map, &p.a, &p.y, &theta0, &settings);
            assert!(proj.residual > 1e-3, "k = {k}: {}", proj.residual);
            assert!(!proj.converged, "k = {k}: residual {} reported as converged", proj.residual);
            assert_eq!(proj.stats.method, "newton+lbfgs");
            assert_eq!(proj.stats.iterations, 3 * k, "k = {k}: {:?}", proj.stats);
        }
        // the full budget solves it, with a duality gap at rounding level
        let proj = bregman_projection(&map, &p.a, &p.y, &theta0, &SolveSettings::default());
        assert!(proj.converged && proj.gap.abs() < 1e-9, "{:?} gap {}", proj.stats, proj.gap);
    }

    /// Replays Newton step by step (`newton` with budgets k and k + 1) and checks each accepted step
    /// against the documented rule: `ν_{k+1} = ν_k − τδ` along the Newton direction `δ = J⁻¹r`, with
    /// a dual move `τ‖Bᵀδ‖∞` at most `max(4, ‖θ_k‖∞)`, `τ = t·s` for `s = min(1, cap/‖Bᵀδ‖∞)` and t the
    /// largest of 1, ½, ¼, … whose trial has a finite residual and either Armijo's decrease
    /// `Φ(trial) ≤ Φ(ν) − 10⁻⁴ t rᵀ(sδ)` (B = A only) or `‖r(trial)‖ ≤ (1 − 10⁻⁴ t)‖r‖`.
    /// Returns the steps' t and s and the final residual.
    fn replay_newton(d: &Dual<'_>, target: f64) -> (Vec<(f64, f64)>, f64) {
        let m = d.a.nrows();
        let symmetric = d.a == d.b;
        let accepts = |nu: &DVector<f64>, trial: &DVector<f64>, slope: f64, t: f64| {
            let (r, rt) = (d.residual(nu), d.residual(trial));
            let armijo = symmetric && d.phi(trial) <= d.phi(nu) + 1e-4 * t * slope;
            rt.iter().all(|v| v.is_finite()) && (armijo || rt.norm() <= (1.0 - 1e-4 * t) * r.norm())
        };
        let mut steps = vec![];
        for k in 0..200 {
            let (nu, _) = newton(d, DVector::zeros(m), target, k);
            let (next, iters) = newton(d, DVector::zeros(m), target, k + 1);
            if iters == k {
                return (steps, d.residual(&nu).norm());
            }
            let r = d.residual(&nu);
            if (&nu - &next).norm() <= 1e-7 * nu.norm() {
                // a last step near rounding level: t cannot be read off ν − ν_next; it decreases
                // the residual or Φ
                let decrease = d.residual(&next).norm() < r.norm() || (symmetric && d.phi(&next) < d.phi(&nu));
                assert!(decrease, "step {k} increases both merits");
                steps.push((f64::NAN, f64::NAN));
                continue;
            }
            let delta = d.jacobian(&nu).svd(true, true).solve(&r, 1e-300).unwrap();
            let tau = (&nu - &next).dot(&delta) / delta.norm_squared();
            // along δ, up to the rounding of the two linear solves and of ν − ν_next
            assert!((&nu - &next - &delta * tau).norm() <= 1e-6 * (&nu - &next).norm(), "step {k} leaves δ");
            let move_max = d.b.tr_mul(&delta).amax();
            let cap = d.theta(&nu).amax().max(4.0);
            assert!(tau * move_max <= cap * (1.0 + 1e-9), "step {k}: dual move {} above {cap}", tau * move_max);
            let s = (cap / move_max).min(1.0);
            let t = (tau / s).log2().round().exp2();
            assert!((tau / s / t - 1.0).abs() < 1e-6 && t <= 1.0, "step {k}: t = {}", tau / s);
            let step = &delta * s;
            let slope = -r.dot(&step);
            assert!(accepts(&nu, &(&nu - &step * t), slope, t), "step {k}: t = {t} violates the rule");
            if t < 1.0 {
                assert!(!accepts(&nu, &(&nu - &step * (2.0 * t)), slope, 2.0 * t), "step {k}: 2t = {} passes", 2.0 * t);
            }
            steps.push((t, s));
        }
        panic!("no stop within 200 steps");
    }

    #[test]
    fn newton_steps_follow_the_capped_backtracking_rule_and_converge() {
        let (map, p) = hard_problem();
        let theta0 = DVector::zeros(6);
        // B = A (Bregman projection) and B = φ_q(A) at q = 1.5 (a generalised projection)
        let b = p.a.map(|v| v.signum() * v.abs().sqrt());
        for b in [&p.a, &b] {
            let d = dual(&map, &p.a, b, &p.y, &theta0);
            let target = 1e-12 * (1.0 + p.y.norm());
            let (steps, residual) = replay_newton(&d, target);
            assert!(residual <= target, "B = A: {}: residual {residual}", b == &p.a);
            // the path must exercise the cap, the backtracking and full steps
            assert!(steps.iter().any(|&(_, s)| s < 1.0), "{steps:?}");
            assert!(steps.iter().any(|&(t, _)| t < 1.0), "{steps:?}");
            assert!(steps.iter().any(|&(t, s)| t == 1.0 && s == 1.0), "{steps:?}");
        }
    }

    #[test]
    fn generalised_projections_never_consult_the_dual_cost() {
        // for B ≠ A, Φ is no potential of the residual map: the solve must run on the residual
        // alone, and its point satisfies Ax = y with R'(x) − θ0 ∈ range(Bᵀ)
        let (map, p) = hard_problem();
        let theta0 = DVector::zeros(6);
        let b = p.a.map(|v| v.signum() * v.abs().sqrt());
        let proj = generalized_projection(&map, &p.a, &b, &p.y, &theta0, &SolveSettings::default());
        assert!(proj.converged && proj.gap.is_nan(), "{:?}", proj.stats);
        assert_eq!(proj.stats.cost_evals, 0);
        // R'(x) = asinh(x/(2α²)) is θ; its component outside range(Bᵀ) vanishes
        let theta = proj.x.map(|v| (v / 2e-6).asinh());
        let qr = b.transpose().qr();
        let q = qr.q();
        let outside = &theta - &q * q.tr_mul(&theta);
        assert!(outside.norm() < 1e-8 * theta.norm(), "{}", outside.norm());
    }

    #[test]
    fn euclidean_projection_reports_half_the_squared_distance() {
        // x − x0 ∈ range(Aᵀ), Ax = y and objective ½‖x − x0‖²
        let p = Problem::random_regression(4, 3, 6, 0);
        let x0 = DVector::from_fn(6, |k, _| 0.3 - 0.2 * k as f64);
        let r = euclidean_projection(&p.a, &p.y, &x0).unwrap();
        assert!((&p.a * &r.x - &p.y).norm() < 1e-9);
        let dx = &r.x - &x0;
        let qr = p.a.transpose().qr();
        let q = qr.q();
        assert!((&dx - &q * q.tr_mul(&dx)).norm() < 1e-9);
        assert!((r.objective - 0.5 * dx.norm_squared()).abs() < 1e-9, "{} vs {}", r.objective, 0.5 * dx.norm_squared());
    }

    #[test]
    fn armijo_needs_a_sufficient_decrease_of_the_dual_cost() {
        // one sample, one coordinate, Woodworth with c = 2α²: Φ(ν) = c cosh ν − yν, r = c sinh ν − y,
        // J = c cosh ν. From ν = 0 the Newton direction is δ = −y/c; with y/c > 4 the dual move is
        // capped at 4, so the trials are ν = 4t. Choose c(cosh 4 − 1) = 4y(1 − 2.5e-5): at t = 1
        // Φ falls by only 1e-4·y, short of Armijo's 1e-4·t·|rᵀ(sδ)| = 4e-4·y, and the residual
        // c sinh 4 − y ≈ 3.15y grows: t = 1 must be refused. At t = ½ Φ falls by
        // 2y − c(cosh 2 − 1) ≈ 1.58y: accepted.
        let y = 1.0_f64;
        let c = 4.0 * y * (1.0 - 2.5e-5) / (4.0_f64.cosh() - 1.0);
        let map = Oracle::Woodworth { alpha: (0.5 * c).sqrt() };
        let (a, yv, theta0) = (DMatrix::from_element(1, 1, 1.0), DVector::from_element(1, y), DVector::zeros(1));
        let d = dual(&map, &a, &a, &yv, &theta0);
        let (first, _) = newton(&d, DVector::zeros(1), 1e-12, 1);
        assert!((first[0] - 2.0).abs() < 1e-12, "first iterate {} instead of ν = 4·½", first[0]);
        let (steps, residual) = replay_newton(&d, 1e-12 * (1.0 + y));
        assert!(residual <= 1e-12 * (1.0 + y) && steps[0].0 == 0.5, "{steps:?}");
    }

    #[test]
    fn armijo_scales_its_decrease_with_the_step_length() {
        // one active coordinate (a = (1, 0), y = 1), Woodworth with c = 2α² = 1/u: the Newton
        // direction from ν = 0 is δ = −u and Φ(ν) = c cosh ν − ν + const. The idle coordinate sits at
        // θ = 10 so that the cap max(4, ‖θ‖∞) = 10 leaves the move u ≈ 8.7 alone. Choose u with
        // D(½) = Φ(u/2) − Φ(0) = (cosh(u/2) − 1)/u − u/2 = −1e-4·u: at t = ½ Φ falls by more than
        // Armijo's 1e-4·t·|rᵀδ| = 0.5e-4·u (and by less than 2e-4·u), while the residual
        // c sinh(u/2) − 1 ≈ 3.5 grows; t = 1 overshoots (D(1) ≈ 340 > 0). So ν₁ = u/2 exactly.
        let d_half = |u: f64| ((0.5 * u).cosh() - 1.0) / u - 0.5 * u + 1e-4 * u;
        let (mut lo, mut hi) = (6.0_f64, 10.0_f64);
        assert!(d_half(lo) < 0.0 && d_half(hi) > 0.0);
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if d_half(mid) < 0.0 {
                lo = mid
            } else {
                hi = mid
            }
        }
        let u = 0.5 * (lo + hi);
        let map = Oracle::Woodworth { alpha: (0.5 / u).sqrt() };
        let a = DMatrix::from_row_slice(1, 2, &[1.0, 0.0]);
        let (yv, theta0) = (DVector::from_element(1, 1.0), DVector::from_vec(vec![0.0, 10.0]));
        let d = dual(&map, &a, &a, &yv, &theta0);
        let (first, _) = newton(&d, DVector::zeros(1), 1e-12, 1);
        assert!((first[0] - 0.5 * u).abs() < 1e-9 * u, "first iterate {} instead of u/2 = {}", first[0], 0.5 * u);
        let (steps, residual) = replay_newton(&d, 1e-12 * 2.0);
        assert!(residual <= 2e-12 && steps[0] == (0.5, 1.0), "{steps:?}");
    }
}
