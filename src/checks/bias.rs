//! `implicit-bias`: the limit of the steepest flow of a deep diagonal model on an under-determined
//! regression, compared with a predicted implicit-bias problem (THEORY §5, §8).
//!
//! `claim` selects the prediction:
//! - `bregman`: the Bregman projection `argmin D_R(x, x0) s.t. Ax = y` of the model's potential
//!   (one-sided: [`potential::for_model`]; two-sided: [`TwoSidedMap`]), solved in the dual; where a
//!   literature oracle exists (Woodworth, depth-D `h_D`, Azulay) its projection is a second route;
//! - `generalised`: the x with `Ax = y` and `R'(x) − R'(x0) ∈ range(φ_q(A)ᵀ)` (the limit for one
//!   sample, q < 2);
//! - `euclidean` (a negative control): the Euclidean projection of x0 (min-ℓ2 for two-sided
//!   models), solved by clarabel.
//!
//! The flow runs in parameter space (`SteepestFlow`) to `loss ≤ loss_target` (q = 2) or to its
//! interpolation floor (q < 2, finite-time arrival); a flow that does not get there, or a dual
//! solve that does not converge, makes the point INCONCLUSIVE.
//!
//! `rich-kernel` (claim): for two-sided GF models, the Bregman projection over a sweep of α:
//! the distance to the min-ℓ1 interpolator (clarabel LP) is predicted as `C α^{2c}` (THEORY §8:
//! c the smallest off-support slack `1 − |Aᵀν|` of the ℓ1 dual certificate, for L = 2) and
//! fitted on the two smallest α of the sweep; the largest α must be closer to min-ℓ2 than to
//! min-ℓ1.

use super::{Check, Setup, Tolerances, MODEL_PARAMS};
use crate::bias::{self, MirrorMap, Oracle, PotentialMap, Projection, SolveSettings, TwoSidedMap};
use crate::claims::{constraint, CheckSpec, Kind, ParamSpec, Point};
use crate::error::{InputError, InputResult};
use crate::flow::{run_to_stationarity, run_until_loss, Flow, SteepestFlow, WeightDecay};
use crate::geometry::steepest_map;
use crate::ode::{Settings, Stats};
use crate::potential;
use crate::problem::Problem;
use crate::reparam::{DeepDiagonal, Reparameterization};
use crate::verdict::{Evidence, Metric};
use nalgebra::{DMatrix, DVector};

/// The `implicit-bias` check kind.
pub struct BiasCheck;

const EXTRA: [ParamSpec; 8] = [
    ParamSpec {
        name: "small_limit",
        kind: Kind::Text,
        valid: constraint::any,
        doc: "rich-kernel: the claimed small-α limit, \"min-l1\" (default) or \"min-l2\" (negative control)",
    },
    ParamSpec {
        name: "claim",
        kind: Kind::Text,
        valid: constraint::any,
        doc: "\"bregman\", \"generalised\", \"euclidean\" (negative control) or \"rich-kernel\"",
    },
    ParamSpec { name: "model", kind: Kind::Text, valid: constraint::any, doc: "\"one-sided\" or \"two-sided\"" },
    ParamSpec {
        name: "sparsity",
        kind: Kind::Int,
        valid: constraint::nonnegative,
        doc: "y = A x* with a k-sparse positive x* (0: Gaussian y)",
    },
    ParamSpec { name: "t_end", kind: Kind::Real, valid: constraint::positive, doc: "flow horizon" },
    ParamSpec { name: "loss_target", kind: Kind::Real, valid: constraint::positive, doc: "q = 2: stop at this loss" },
    ParamSpec {
        name: "alphas",
        kind: Kind::Reals,
        valid: constraint::positive,
        doc: "rich-kernel: the α sweep, increasing",
    },
    ParamSpec {
        name: "rate_exponent",
        kind: Kind::Real,
        valid: constraint::any,
        doc: "rich-kernel: multiplies the predicted exponent 2c (1 = THEORY §8; controls change it)",
    },
];

static PARAMS: std::sync::LazyLock<Vec<ParamSpec>> =
    std::sync::LazyLock::new(|| MODEL_PARAMS.iter().chain(EXTRA.iter()).copied().collect());

impl Check for BiasCheck {
    fn spec(&self) -> CheckSpec {
        CheckSpec { params: PARAMS.as_slice(), tolerances: &["limit", "oracle", "residual", "rate"] }
    }

    fn run(&self, p: &Point, case: &str, tol: &Tolerances) -> InputResult<Vec<Evidence>> {
        let claim = p.text_or("claim", "bregman")?;
        let two_sided = match p.text_or("model", "one-sided")?.as_str() {
            "one-sided" => false,
            "two-sided" => true,
            other => return Err(InputError::new("parameters.model", format!("unknown model '{other}'"))),
        };
        let mut s = Setup::from_point(p)?;
        s.problem = Problem::random_regression(
            p.int_or("seed", 1)? as u64,
            s.problem.samples(),
            s.problem.dim(),
            p.int_or("sparsity", 0)? as usize,
        );
        if two_sided {
            s.model = DeepDiagonal::two_sided(s.model.depth, s.model.dim);
            s.w0 = s.model.init(&s.init, s.q)?;
        }
        match claim.as_str() {
            "bregman" | "generalised" | "euclidean" => limit_rows(&s, &claim, p, case, tol),
            "rich-kernel" => rich_kernel(&s, p, case, tol),
            other => Err(InputError::new("parameters.claim", format!("unknown claim '{other}'"))),
        }
    }
}

/// The predicted limit of a model from its initialisation: the projection through its mirror map,
/// with `B` the dual directions (A for the Bregman projection).
pub fn predicted_limit(
    model: &DeepDiagonal,
    w0: &DVector<f64>,
    q: f64,
    constants: &[f64],
    a: &DMatrix<f64>,
    b: &DMatrix<f64>,
    y: &DVector<f64>,
) -> Projection {
    let side = potential::for_model(model.depth, q, constants);
    let settings = SolveSettings::default();
    if model.two_sided {
        // the initial product of one side: every coordinate of layer i starts at the same value
        let u0: f64 = (0..model.depth).map(|i| w0[i * model.dim]).product();
        let map = TwoSidedMap { side: side.as_ref(), center: side.grad(u0) };
        bias::generalized_projection(&map, a, b, y, &DVector::zeros(model.dim), &settings)
    } else {
        let x0 = model.x(w0);
        let map = PotentialMap(side.as_ref());
        let theta0 = x0.map(|v| map.dual_of(v));
        bias::generalized_projection(&map, a, b, y, &theta0, &settings)
    }
}

/// The literature oracle for a model, if one applies (q = 2), with its starting dual point.
fn oracle(s: &Setup, two_sided: bool) -> Option<Oracle> {
    let balanced = s.init.constants.iter().all(|&c| c == 0.0);
    match (two_sided, balanced, s.model.depth) {
        (true, true, 2) => Some(Oracle::Woodworth { alpha: s.init.alpha }),
        (true, true, d) if d >= 3 => Some(Oracle::DeepTwoSided { alpha: s.init.alpha, depth: d }),
        (false, false, 2) => {
            let (u0, v0) = (s.w0[0], s.w0[s.model.dim]);
            let delta = (u0 * u0 - v0 * v0).abs();
            Some(Oracle::Azulay { delta, c: (2.0 * u0 * v0 / delta).asinh() })
        }
        _ => None,
    }
}

fn solve_label(p: &Projection) -> String {
    format!(
        "{}: {} it, {} grad, {} hess, {} cost",
        p.stats.method, p.stats.iterations, p.stats.gradient_evals, p.stats.hessian_evals, p.stats.cost_evals
    )
}

/// Runs the flow to its limit; `Err` is the INCONCLUSIVE reason.
fn flow_limit(s: &Setup, t_end: f64, loss_target: f64) -> Result<(DVector<f64>, Stats, f64), String> {
    let flow = SteepestFlow { problem: &s.problem, model: &s.model, q: s.q, decay: WeightDecay::None };
    let settings = Settings::default();
    let tr = if s.q == 2.0 {
        run_until_loss(&flow, &s.w0, t_end, Some(loss_target), 1, &settings)
    } else {
        run_to_stationarity(&flow, &s.w0, &[t_end], None, &settings)
    }
    .map_err(|e| e.to_string())?;
    let loss = flow.loss(tr.last());
    let reached = if s.q == 2.0 { loss <= loss_target } else { tr.stationary_at.is_some() };
    if !reached {
        return Err(format!("flow did not reach its limit by t = {t_end} (loss {loss:.3e})"));
    }
    Ok((s.model.x(tr.last()), tr.stats, loss))
}

fn limit_rows(s: &Setup, claim: &str, p: &Point, case: &str, tol: &Tolerances) -> InputResult<Vec<Evidence>> {
    let (a, y) = (&s.problem.a, &s.problem.y);
    let t_end = p.real_or("t_end", 1e5)?;
    let loss_target = p.real_or("loss_target", 1e-14)?;
    let mut rows = Vec::new();
    let route_flow = format!("ODE in w (steepest flow, q = {}) to its limit", s.q);
    let (x_pred, route_pred) = match claim {
        "euclidean" => {
            let x0 = s.model.x(&s.w0);
            match bias::euclidean_projection(a, y, &x0) {
                Ok(r) => (r.x, format!("clarabel QP min ½‖x − x0‖² ({} iterations)", r.iterations)),
                Err(e) => return Ok(vec![Evidence::inconclusive(case, "limit", "clarabel", e.message)]),
            }
        }
        _ => {
            let b = if claim == "generalised" { a.map(|v| steepest_map(s.q, v)) } else { a.clone() };
            let proj = predicted_limit(&s.model, &s.w0, s.q, &s.init.constants, a, &b, y);
            let label = solve_label(&proj);
            if !proj.converged {
                let reason = format!("dual solve did not converge (residual {:.3e}; {label})", proj.residual);
                return Ok(vec![Evidence::inconclusive(case, "predicted limit", "dual Newton", reason)]);
            }
            rows.push(Evidence::with_error(
                case,
                &format!("dual solve residual ‖Ax − y‖ ({label})"),
                0.0,
                proj.residual,
                proj.residual,
                tol.get("residual"),
                "dual Newton on the mirror map",
            ));
            if claim == "bregman" && s.q == 2.0 {
                if let Some(o) = oracle(s, s.model.two_sided) {
                    let op =
                        bias::bregman_projection(&o, a, y, &DVector::zeros(s.model.dim), &SolveSettings::default());
                    if op.converged {
                        let d = (&op.x - &proj.x).norm() / proj.x.norm();
                        rows.push(Evidence::with_error(
                            case,
                            &format!("oracle vs potential projection ({})", o.describe()),
                            0.0,
                            d,
                            d,
                            tol.get("oracle"),
                            "dual Newton on the literature oracle map vs on the model's potential",
                        ));
                    } else {
                        rows.push(Evidence::inconclusive(case, "oracle projection", &o.describe(), "not converged"));
                    }
                }
            }
            let route = format!("{claim} projection of {}", if s.model.two_sided { "the two-sided map" } else { "R" });
            (proj.x, route)
        }
    };
    match flow_limit(s, t_end, loss_target) {
        Ok((x_flow, stats, _loss)) => {
            let d = (&x_flow - &x_pred).norm() / x_pred.norm();
            rows.push(
                Evidence::with_error(
                    case,
                    &format!("‖x_flow − x_{claim}‖/‖x_{claim}‖"),
                    0.0,
                    d,
                    d,
                    tol.get("limit"),
                    &format!("{route_flow} vs {route_pred}"),
                )
                .with_stats(stats),
            );
        }
        Err(reason) => rows.push(Evidence::inconclusive(case, "flow limit", &route_flow, reason)),
    }
    Ok(rows)
}

/// THEORY §8: the distance of the small-α limit to min-ℓ1 behaves like `α^{2c}`.
fn rich_kernel(s: &Setup, p: &Point, case: &str, tol: &Tolerances) -> InputResult<Vec<Evidence>> {
    let (a, y) = (&s.problem.a, &s.problem.y);
    let alphas = p.reals("alphas")?;
    if alphas.len() < 3 || alphas.windows(2).any(|w| w[1] <= w[0]) {
        return Err(InputError::new("parameters.alphas", "needs at least three increasing values"));
    }
    let factor = p.real_or("rate_exponent", 1.0)?;
    let l1 = match bias::min_l1(a, y) {
        Ok(r) => r,
        Err(e) => return Ok(vec![Evidence::inconclusive(case, "min-ℓ1", "clarabel LP", e.message)]),
    };
    // off-support slack of the certificate: support = |x_l1| > 1e-8 ‖x_l1‖∞
    let corr = a.tr_mul(&l1.nu).map(f64::abs);
    let xmax = l1.x.amax();
    let c =
        (0..s.model.dim).filter(|&k| l1.x[k].abs() <= 1e-8 * xmax).map(|k| 1.0 - corr[k]).fold(f64::INFINITY, f64::min);
    let exponent = 2.0 * c * factor;
    let mut dist = Vec::new();
    for &alpha in &alphas {
        let mut point = s.init.clone();
        point.alpha = alpha;
        let w0 = s.model.init(&point, s.q)?;
        let proj = predicted_limit(&s.model, &w0, s.q, &point.constants, a, a, y);
        if !proj.converged {
            return Ok(vec![Evidence::inconclusive(
                case,
                "Bregman projection",
                "dual Newton",
                format!("α = {alpha}: residual {:.3e}", proj.residual),
            )]);
        }
        // the large-α reference: min-ℓ2 (two-sided, x0 = 0) or the Euclidean projection of x0
        let x0 = s.model.x(&w0);
        let l2 = match bias::euclidean_projection(a, y, &x0) {
            Ok(r) => r,
            Err(e) => return Ok(vec![Evidence::inconclusive(case, "min-ℓ2", "clarabel QP", e.message)]),
        };
        dist.push(((&proj.x - &l1.x).norm(), (&proj.x - &l2.x).norm()));
    }
    let mut rows = Vec::new();
    let to_l2 = p.text_or("small_limit", "min-l1")? == "min-l2";
    let near = |i: usize| if to_l2 { dist[i].1 } else { dist[i].0 };
    // 1. the rate: log-log slope of the distance between the two smallest α
    let slope = (near(1) / near(0)).ln() / (alphas[1] / alphas[0]).ln();
    let target = if to_l2 { "min-ℓ2" } else { "min-ℓ1" };
    rows.push(Evidence::compare(
        case,
        &format!("slope of ln‖x(α) − x_{target}‖ vs ln α on [{:e}, {:e}] (2c, c = {:.4})", alphas[0], alphas[1], c),
        exponent,
        slope,
        tol.get("rate"),
        Metric::Relative,
        "dual Newton projections vs clarabel LP certificate",
    ));
    // 2. the trend: distance to min-ℓ1 grows and distance to min-ℓ2 shrinks along the sweep
    let violations = dist.windows(2).filter(|w| w[1].0 < w[0].0 || w[1].1 > w[0].1).count() as f64;
    rows.push(Evidence::with_error(
        case,
        "trend violations (‖x − x_ℓ1‖ increasing, ‖x − x_ℓ2‖ decreasing in α)",
        0.0,
        violations,
        violations,
        0.0,
        "dual Newton projections over the α sweep",
    ));
    // 3. the kernel end: the largest α is near min-ℓ2 (two-sided) / the Euclidean projection of x0
    let last = dist.len() - 1;
    let ratio = dist[last].1 / dist[last].0;
    rows.push(Evidence::with_error(
        case,
        &format!("large α = {:e}: ‖x − x_ℓ2‖/‖x − x_ℓ1‖", alphas[last]),
        0.0,
        ratio,
        ratio,
        tol.get("limit"),
        "dual Newton projection vs clarabel QP and LP",
    ));
    Ok(rows)
}
