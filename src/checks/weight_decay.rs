//! `weight-decay`: coupled (Adam + L2) vs decoupled (AdamW) weight decay, THEORY §1, §2, §6, §8:
//! equilibria, the separation between them, the time-dependent mirror potential, and the real
//! discrete optimizers against their flows.
//!
//! `claim` selects the statement:
//! - `equilibria`: the long-time limit of the balanced flow equals the stationary point of THEORY §6
//!   reached from the initialisation, computed by scalar root finding on the stationarity function
//!   of the regularised objective (decoupled SignGF: the KKT point of the box `|x| ≤ μ^{−L}`);
//! - `separation`: coupled and decoupled SignGF limits both match their predictions, and the one
//!   closer to the target is the predicted one (decoupled inside `(μ, μ^{−L})`, coupled above);
//! - `time-mirror`: L = 2, decoupled decay: `d/dt R'_{λ(t)}(x) = −φ_q(g)` with `λ(t) = λ_0 e^{−qμt}`
//!   (holds for q = 2 only, THEORY §8);
//! - `optimizer-order`: GD, SignGD, Adam, AdamW with step η vs their flows at a fixed flow time:
//!   the fitted order of the distance in η;
//! - `adam-beta2`: Adam(β1 = 0, β2) vs SignGD at one η: the distance grows with β2;
//! - `adamw-box`: AdamW converges to a KKT point of `min F(w) s.t. |w_j| ≤ 1/μ`.

use super::{Check, Tolerances};
use crate::claims::{constraint, CheckSpec, Kind, ParamSpec, Point};
use crate::discrete::{Method, OptState, Optimizer};
use crate::error::{check_depth, check_q, InputError, InputResult};
use crate::flow::{Flow, SteepestFlow, WeightDecay};
use crate::geometry::{dual_exponent, steepest_map};
use crate::ode::{sample_times, Settings, Trajectory};
use crate::potential::{LambdaBalanced, Potential};
use crate::problem::{Loss, Problem};
use crate::reparam::{DeepDiagonal, Initialization, Reparameterization};
use crate::roots::brent;
use crate::verdict::{Evidence, Metric};
use nalgebra::{DMatrix, DVector};

/// The `weight-decay` check kind.
pub struct WeightDecayCheck;

const PARAMS: [ParamSpec; 21] = [
    ParamSpec { name: "dim", kind: Kind::Int, valid: constraint::at_least_one, doc: "dimension d (random problems)" },
    ParamSpec { name: "claim", kind: Kind::Text, valid: constraint::any, doc: "which statement (module docs)" },
    ParamSpec { name: "depth", kind: Kind::Int, valid: constraint::at_least_one, doc: "depth L" },
    ParamSpec { name: "q", kind: Kind::Real, valid: constraint::q, doc: "steepest-descent exponent q ∈ [1, 2]" },
    ParamSpec { name: "alpha", kind: Kind::Real, valid: constraint::positive, doc: "initial scale α" },
    ParamSpec { name: "balance", kind: Kind::Real, valid: constraint::any, doc: "λ_0: layer 1 at (α^q + λ)^{1/q}" },
    ParamSpec { name: "weight_decay", kind: Kind::Real, valid: constraint::positive, doc: "μ > 0" },
    ParamSpec { name: "decay", kind: Kind::Text, valid: constraint::any, doc: "coupled | decoupled" },
    ParamSpec {
        name: "targets",
        kind: Kind::Reals,
        valid: constraint::positive,
        doc: "targets b > 0: one = scalar f = (x − b)²/2; several = regression with an orthonormal design",
    },
    ParamSpec { name: "seed", kind: Kind::Int, valid: constraint::nonnegative, doc: "seed of the design" },
    ParamSpec { name: "t_end", kind: Kind::Real, valid: constraint::positive, doc: "flow horizon (default 400)" },
    ParamSpec {
        name: "prediction",
        kind: Kind::Text,
        valid: constraint::any,
        doc: "stationary (default) | soft-threshold | box | coupled-closer | unconstrained: the claimed limit",
    },
    ParamSpec { name: "optimizer", kind: Kind::Text, valid: constraint::any, doc: "gd | signgd | adam | adamw" },
    ParamSpec { name: "lrs", kind: Kind::Reals, valid: constraint::positive, doc: "step sizes η" },
    ParamSpec { name: "beta1", kind: Kind::Real, valid: beta, doc: "Adam β1" },
    ParamSpec { name: "beta2", kind: Kind::Real, valid: beta, doc: "Adam β2" },
    ParamSpec { name: "beta2s", kind: Kind::Reals, valid: beta, doc: "β2 sweep (adam-beta2)" },
    ParamSpec { name: "eps", kind: Kind::Real, valid: constraint::nonnegative, doc: "Adam ε" },
    ParamSpec { name: "order", kind: Kind::Real, valid: constraint::positive, doc: "claimed order in η (default 1)" },
    ParamSpec { name: "steps", kind: Kind::Int, valid: constraint::at_least_one, doc: "optimizer steps" },
    ParamSpec { name: "lr", kind: Kind::Real, valid: constraint::positive, doc: "step size η" },
];

/// An Adam moment decay β ∈ [0, 1).
fn beta(v: &toml::Value) -> Result<(), String> {
    let x = match v {
        toml::Value::Float(f) => *f,
        toml::Value::Integer(i) => *i as f64,
        other => return Err(format!("expected a number, got {other}")),
    };
    if (0.0..1.0).contains(&x) {
        Ok(())
    } else {
        Err(format!("β must lie in [0, 1), got {x}"))
    }
}

impl Check for WeightDecayCheck {
    fn spec(&self) -> CheckSpec {
        CheckSpec { params: &PARAMS, tolerances: &["wd"] }
    }

    fn run(&self, p: &Point, case: &str, tol: &Tolerances) -> InputResult<Vec<Evidence>> {
        let tolerance = tol.get("wd");
        match p.text_or("claim", "equilibria")?.as_str() {
            "equilibria" => {
                let c = Case::from_point(p)?;
                let decay = c.decay(&p.text_or("decay", "coupled")?)?;
                let prediction = p.text_or("prediction", "stationary")?;
                c.equilibria(decay, &prediction, case, tolerance)
            }
            "separation" => separation(&Case::from_point(p)?, &p.text_or("prediction", "stationary")?, case, tolerance),
            "time-mirror" => time_mirror(p, case, tolerance),
            "optimizer-order" => optimizer_order(p, case, tolerance),
            "adam-beta2" => adam_beta2(p, case, tolerance),
            "adamw-box" => adamw_box(p, case, tolerance),
            other => Err(InputError::new("parameters.claim", format!("unknown claim '{other}'"))),
        }
    }
}

/// A flow counts as settled when x moved at most this much (relative to max(1, ‖x‖∞)) over the last
/// tenth of its horizon: the rtol 1e−11 noise floor of a stiff explicit integration is ≈ 1e−11‖x‖.
const SETTLED: f64 = 1e-9;

/// A regression `f = ½‖Qx − Qb‖² = ½‖x − b‖²` (Q with orthonormal columns; Q = 1 for one target)
/// on a balanced deep diagonal model.
struct Case {
    problem: Problem,
    model: DeepDiagonal,
    targets: Vec<f64>,
    q: f64,
    mu: f64,
    w0: DVector<f64>,
    t_end: f64,
}

/// A problem whose loss is `½‖x − b‖²` up to a constant: scalar for one target, otherwise a dense
/// design with orthonormal columns (thin QR of a seeded Gaussian matrix, n = d + 2).
fn design(targets: &[f64], seed: u64) -> Problem {
    let d = targets.len();
    let b = DVector::from_column_slice(targets);
    if d == 1 {
        return Problem { a: DMatrix::from_element(1, 1, 1.0), y: b, loss: Loss::Squared };
    }
    let raw = Problem::random_regression(seed, d + 2, d, 0).a;
    let q = raw.qr().q();
    let y = &q * b;
    Problem { a: q, y, loss: Loss::Squared }
}

impl Case {
    fn from_point(p: &Point) -> InputResult<Self> {
        let depth = check_depth("parameters.depth", p.int("depth")?)?;
        let q = check_q("parameters.q", p.real("q")?)?;
        let targets = p.reals("targets")?;
        if targets.is_empty() {
            return Err(InputError::new("parameters.targets", "at least one target is needed"));
        }
        let problem = design(&targets, p.int_or("seed", 1)? as u64);
        let model = DeepDiagonal::new(depth, targets.len());
        let w0 = model.init(&Initialization::balanced(p.real("alpha")?, depth), q)?;
        let t_end = p.real_or("t_end", 400.0)?;
        Ok(Self { problem, model, targets, q, mu: p.real("weight_decay")?, w0, t_end })
    }

    fn decay(&self, name: &str) -> InputResult<WeightDecay> {
        match name {
            "coupled" => Ok(WeightDecay::Coupled(self.mu)),
            "decoupled" => Ok(WeightDecay::Decoupled(self.mu)),
            other => Err(InputError::new("parameters.decay", format!("unknown decay '{other}'"))),
        }
    }

    /// The flow's state at t_end (q > 1: possibly stopped earlier, see the stop rule below), its
    /// trajectory, and how far x moved over the last tenth of the horizon (0 when the stop fired);
    /// callers compare that with [`SETTLED`].
    fn limit(&self, decay: WeightDecay) -> Result<(DVector<f64>, Trajectory, f64), String> {
        let flow = SteepestFlow { problem: &self.problem, model: &self.model, q: self.q, decay };
        // q > 1: stop once ‖ẇ‖∞ ≤ 1e−10 (1 + ‖w‖∞) (distance to the equilibrium ≈ that over its
        // rate), or, under coupled decay, once the drive ∇F + μw, whose φ_q the velocity is, is at
        // rounding level (there the equilibrium is reached in finite time and any integrator
        // chatters on the non-Lipschitz |r|^(q−1))
        let still = |_t: f64, w: &DVector<f64>| {
            let scale = 1.0 + w.amax();
            if self.q == 1.0 {
                return false;
            }
            if flow.velocity(w).amax() <= 1e-10 * scale {
                return true;
            }
            let g = self.problem.gradient(&self.model.x(w));
            decay != WeightDecay::Decoupled(self.mu)
                && (self.model.pullback(w, &g) + w * self.mu).amax() <= 1e-11 * scale.powi(self.model.depth as i32)
        };
        let tr = flow
            .run(&self.w0, &[0.9 * self.t_end, self.t_end], Some(&still), &Settings::default())
            .map_err(|e| e.to_string())?;
        let x = self.model.x(tr.last());
        let moved = if tr.stopped { 0.0 } else { (self.model.x(&tr.y[tr.y.len() - 2]) - &x).amax() };
        Ok((x, tr, moved))
    }

    /// The predicted limit of coordinate k (see [`predicted_limit`]).
    fn predict(&self, decay: WeightDecay, prediction: &str, k: usize) -> Result<f64, String> {
        let x0 = self.model.x(&self.w0)[k];
        predicted_limit(decay, prediction, self.q, self.model.depth, self.mu, self.targets[k], x0)
    }

    fn equilibria(&self, decay: WeightDecay, prediction: &str, case: &str, tol: f64) -> InputResult<Vec<Evidence>> {
        let route =
            "ODE in w (flow limit) vs root finding on the stationarity equation (decoupled SignGF: box projection)";
        let (x, tr, moved) = match self.limit(decay) {
            Ok(r) => r,
            Err(e) => return Ok(vec![Evidence::inconclusive(case, "flow limit", route, e)]),
        };
        if moved > SETTLED * x.amax().max(1.0) {
            let why = format!("not settled by t_end: x moved {moved:.2e} over the last tenth ({:?})", tr.stats);
            return Ok(vec![Evidence::inconclusive(case, "flow limit", route, why)]);
        }
        let mut rows = Vec::new();
        for k in 0..self.targets.len() {
            let quantity = format!("limit x[{k}] (target {})", self.targets[k]);
            match self.predict(decay, prediction, k) {
                Ok(pred) => {
                    let err = (pred - x[k]).abs() / pred.abs().max(1.0);
                    rows.push(Evidence::with_error(case, &quantity, pred, x[k], err, tol, route).with_stats(tr.stats));
                }
                Err(e) => rows.push(Evidence::inconclusive(case, &quantity, route, e)),
            }
        }
        Ok(rows)
    }
}

/// The limit of the balanced scalar flow from `x0 > 0` towards target `b > 0` (THEORY §6, §8).
/// With all layers equal to `w = x^{1/L}` the flow is one-dimensional and `ẋ` has the sign of
/// `−S(x)`, with `S` the derivative of the regularised objective:
/// - coupled (any q) and q = 2: `S(x) = x − b + μ x^{2/L − 1}` (`f + (μL/2)|x|^{2/L}`);
/// - decoupled, q ∈ (1, 2): `S(x) = x − b + μ^{p−1} x^{p/L − 1}` (`f + (μ^{p−1}L/p)|x|^{p/L}`);
/// - decoupled, q = 1: the KKT point of `min f s.t. x ≤ μ^{−L}`: `min(b, μ^{−L})`.
///
/// x moves monotonically to the first zero of S in the direction of `−S(x0)` (a geometric scan
/// with ratio 1.001, then Brent), or to 0 when S stays positive below x0 (stable point reached from
/// the initialisation). `prediction` = `soft-threshold` (`max(b − μ, 0)`) or `box`
/// (`min(b, μ^{−L})`) replaces the rule by a fixed claim (negative controls).
pub fn predicted_limit(
    decay: WeightDecay,
    prediction: &str,
    q: f64,
    depth: usize,
    mu: f64,
    b: f64,
    x0: f64,
) -> Result<f64, String> {
    let l = depth as f64;
    match prediction {
        "soft-threshold" => return Ok((b - mu).max(0.0)),
        "box" => return Ok(b.min(mu.powf(-l))),
        "stationary" => {}
        other => return Err(format!("unknown prediction '{other}'")),
    }
    let (coef, expo) = match decay {
        WeightDecay::Decoupled(_) if q == 1.0 => return Ok(b.min(mu.powf(-l))),
        WeightDecay::Decoupled(_) if q < 2.0 => {
            let p = dual_exponent(q);
            (mu.powf(p - 1.0), p / l - 1.0)
        }
        _ => (mu, 2.0 / l - 1.0),
    };
    let s = |x: f64| x - b + coef * x.powf(expo);
    let s0 = s(x0);
    if s0 == 0.0 {
        return Ok(x0);
    }
    let ratio: f64 = if s0 < 0.0 { 1.001 } else { 1.0 / 1.001 };
    let mut a = x0;
    for _ in 0..1_000_000 {
        let next = a * ratio;
        if s(next) * s0 <= 0.0 {
            let (lo, hi) = if a < next { (a, next) } else { (next, a) };
            return brent(s, lo, hi, 1e-15 * hi).map_err(|e| e.to_string());
        }
        if next < 1e-100 {
            return Ok(0.0);
        }
        a = next;
    }
    Err("no zero of the stationarity function found in the scan".into())
}

fn separation(c: &Case, prediction: &str, case: &str, tol: f64) -> InputResult<Vec<Evidence>> {
    if c.q != 1.0 {
        return Err(InputError::new("parameters.q", "the separation is about SignGF: q = 1"));
    }
    let mut rows = c.equilibria(WeightDecay::Coupled(c.mu), "stationary", &format!("{case} coupled"), tol)?;
    rows.extend(c.equilibria(WeightDecay::Decoupled(c.mu), "stationary", &format!("{case} decoupled"), tol)?);
    let (Ok((xc, _, mc)), Ok((xd, _, md))) =
        (c.limit(WeightDecay::Coupled(c.mu)), c.limit(WeightDecay::Decoupled(c.mu)))
    else {
        return Ok(rows);
    };
    if mc.max(md) > SETTLED * xc.amax().max(xd.amax()).max(1.0) {
        return Ok(rows);
    }
    let l = c.model.depth as f64;
    for (k, &b) in c.targets.iter().enumerate() {
        // +1: decoupled ends closer to the target (b inside (μ, μ^{−L})), −1: coupled does
        let predicted = match prediction {
            "coupled-closer" => -1.0,
            _ if b > c.mu && b < c.mu.powf(-l) => 1.0,
            _ if b > c.mu.powf(-l) => -1.0,
            _ => 0.0,
        };
        let gap = (b - xc[k]).abs() - (b - xd[k]).abs();
        let measured = if gap.abs() <= tol * b.max(1.0) { 0.0 } else { gap.signum() };
        let quantity = format!("closer to target {b}: +1 decoupled, −1 coupled");
        let route = "coupled vs decoupled SignGF limits (ODE in w, events)";
        rows.push(Evidence::compare(case, &quantity, predicted, measured, 0.0, Metric::Absolute, route));
    }
    Ok(rows)
}

fn time_mirror(p: &Point, case: &str, tol: f64) -> InputResult<Vec<Evidence>> {
    let q = check_q("parameters.q", p.real("q")?)?;
    let targets = p.reals("targets")?;
    if targets.is_empty() {
        return Err(InputError::new("parameters.targets", "at least one target is needed"));
    }
    let problem = design(&targets, p.int_or("seed", 1)? as u64);
    let model = DeepDiagonal::new(2, targets.len());
    let lambda0 = p.real("balance")?;
    if lambda0 == 0.0 {
        return Err(InputError::new("parameters.balance", "the time-dependent potential needs λ_0 ≠ 0"));
    }
    let w0 = model.init(&Initialization::lambda(p.real("alpha")?, 2, lambda0), q)?;
    let mu = p.real("weight_decay")?;
    let flow = SteepestFlow { problem: &problem, model: &model, q, decay: WeightDecay::Decoupled(mu) };
    // central differences of R'_{λ(t)}(x(t)) with h = 1e−3: truncation error h²/6·|d³/dt³| ≈ 1e−7
    let h = 1e-3;
    let centres = sample_times(p.real("t_end")?, 20);
    let mut times = Vec::new();
    for &t in &centres[1..] {
        times.extend([t - h, t, t + h]);
    }
    let route = "ODE in w; R'_λ by closed form (q = 2) or quadrature of R''; central differences in t";
    let tr = match flow.run(&w0, &times, None, &Settings::default()) {
        Ok(t) => t,
        Err(e) => return Ok(vec![Evidence::inconclusive(case, "mirror identity", route, e.to_string())]),
    };
    let dual = |t: f64, w: &DVector<f64>| {
        let lam = lambda0.abs() * (-q * mu * t).exp();
        let pot = LambdaBalanced { q, lambda: lam };
        model.x(w).map(|x| pot.grad(x))
    };
    let (mut worst, mut scale): (f64, f64) = (0.0, 0.0);
    let mut lam_err: f64 = 0.0;
    for i in 0..centres.len() - 1 {
        let (a, m, b) = (1 + 3 * i, 2 + 3 * i, 3 + 3 * i);
        let lhs = (dual(tr.t[b], &tr.y[b]) - dual(tr.t[a], &tr.y[a])) / (tr.t[b] - tr.t[a]);
        let g = problem.gradient(&model.x(&tr.y[m]));
        let rhs = g.map(|v| -steepest_map(q, v));
        worst = crate::verdict::worst(worst, crate::verdict::worst_abs(&(lhs - &rhs)));
        scale = scale.max(rhs.amax());
        let measured = model.balances(&tr.y[m], q);
        let pred = lambda0 * (-q * mu * tr.t[m]).exp();
        lam_err =
            crate::verdict::worst(lam_err, crate::verdict::worst_abs(&measured.map(|v| v - pred)) / lambda0.abs());
    }
    let mismatch = worst / scale;
    Ok(vec![
        Evidence::with_error(case, "λ(t) vs λ_0 e^(−qμt) (relative)", 0.0, lam_err, lam_err, tol, route)
            .with_stats(tr.stats),
        Evidence::with_error(case, "max |d/dt R'_λ(t)(x) + φ_q(g)| / max|φ_q(g)|", 0.0, mismatch, mismatch, tol, route),
    ])
}

/// The optimizer named in the card and its flow (q, decay): GD ↔ GF, SignGD / Adam ↔ SignGF,
/// AdamW ↔ decoupled SignGF.
fn optimizer_of(p: &Point, lr: f64) -> InputResult<(Optimizer, f64)> {
    let mu = p.real_or("weight_decay", 0.0)?;
    let name = p.text_or("optimizer", "gd")?;
    let adam =
        Method::Adam { beta1: p.real_or("beta1", 0.9)?, beta2: p.real_or("beta2", 0.99)?, eps: p.real_or("eps", 0.0)? };
    let coupled = if mu > 0.0 { WeightDecay::Coupled(mu) } else { WeightDecay::None };
    let decoupled = if mu > 0.0 { WeightDecay::Decoupled(mu) } else { WeightDecay::None };
    let (method, q, decay) = match name.as_str() {
        "gd" => (Method::Gd, 2.0, decoupled),
        "signgd" => (Method::SignGd, 1.0, decoupled),
        "adam" => (adam, 1.0, coupled),
        "adamw" => (adam, 1.0, decoupled),
        other => return Err(InputError::new("parameters.optimizer", format!("unknown optimizer '{other}'"))),
    };
    Ok((Optimizer { method, lr, decay }, q))
}

fn random_setup(p: &Point, q: f64) -> InputResult<(Problem, DeepDiagonal, DVector<f64>)> {
    let depth = check_depth("parameters.depth", p.int("depth")?)?;
    let d = p.int_or("dim", 4)? as usize;
    let problem = Problem::random_regression(p.int_or("seed", 1)? as u64, 3, d, 0);
    let model = DeepDiagonal::new(depth, d);
    let w0 = model.init(&Initialization::lambda(p.real("alpha")?, depth, p.real_or("balance", 0.0)?), q)?;
    Ok((problem, model, w0))
}

fn optimizer_order(p: &Point, case: &str, tol: f64) -> InputResult<Vec<Evidence>> {
    let lrs = p.reals("lrs")?;
    if lrs.len() < 2 {
        return Err(InputError::new("parameters.lrs", "at least two step sizes are needed for a fit"));
    }
    let (opt0, q) = optimizer_of(p, lrs[0])?;
    let c = Case::from_point(p)?;
    let (problem, model, w0) = (&c.problem, &c.model, &c.w0);
    let t = p.real("t_end")?;
    let flow = SteepestFlow { problem, model, q, decay: opt0.decay };
    let route = "optimizer iterates at k = T/η vs the flow at T (ODE in w), log-log fit";
    let tr = match flow.run(w0, &[t], None, &Settings::default()) {
        Ok(tr) => tr,
        Err(e) => return Ok(vec![Evidence::inconclusive(case, "order in η", route, e.to_string())]),
    };
    let reference = tr.last();
    let mut pts = Vec::new();
    for &lr in &lrs {
        let (opt, _) = optimizer_of(p, lr)?;
        let steps = (t / lr).round() as usize;
        let s = opt.run(problem, model, w0, steps);
        pts.push((lr.ln(), (&s.w - reference).amax().ln()));
    }
    let order = crate::fit::fit_line(&pts).slope;
    let claimed = p.real_or("order", 1.0)?;
    let smallest = pts.last().map_or(f64::NAN, |v| v.1.exp());
    Ok(vec![
        Evidence::compare(case, "fitted order of the distance in η", claimed, order, tol, Metric::Absolute, route)
            .with_stats(tr.stats),
        Evidence::with_error(case, "distance at the smallest η", 0.0, smallest, 0.0, f64::INFINITY, route),
    ])
}

fn adam_beta2(p: &Point, case: &str, tol: f64) -> InputResult<Vec<Evidence>> {
    let (problem, model, w0) = random_setup(p, 1.0)?;
    let lr = p.real("lr")?;
    let steps = p.int("steps")? as usize;
    let eps = p.real_or("eps", 0.0)?;
    let sign = Optimizer { method: Method::SignGd, lr, decay: WeightDecay::None }.run(&problem, &model, &w0, steps);
    let route = "Adam(β1 = 0, β2) vs SignGD iterates at the same η and step count";
    let mut rows = Vec::new();
    let mut last: f64 = -1.0;
    let mut violations = 0.0;
    for b2 in p.reals("beta2s")? {
        let adam = Optimizer { method: Method::Adam { beta1: 0.0, beta2: b2, eps }, lr, decay: WeightDecay::None };
        let dist = (adam.run(&problem, &model, &w0, steps).w - &sign.w).amax();
        rows.push(Evidence::with_error(
            case,
            &format!("distance to SignGD at β2 = {b2}"),
            0.0,
            dist,
            0.0,
            f64::INFINITY,
            route,
        ));
        // growth: each larger β2 at least `1 + tol` times farther (β2 = 0: distance 0 up to rounding)
        if dist <= last * (1.0 + tol) {
            violations += 1.0;
        }
        last = dist;
    }
    rows.push(Evidence::compare(
        case,
        "β2 steps where the distance did not grow",
        0.0,
        violations,
        0.0,
        Metric::Absolute,
        route,
    ));
    Ok(rows)
}

fn adamw_box(p: &Point, case: &str, tol: f64) -> InputResult<Vec<Evidence>> {
    let c = Case::from_point(p)?;
    let lr = p.real("lr")?;
    let steps = p.int("steps")? as usize;
    let opt = Optimizer::adamw(lr, p.real_or("beta1", 0.9)?, p.real_or("beta2", 0.999)?, p.real_or("eps", 1e-8)?, c.mu);
    let prediction = p.text_or("prediction", "box")?;
    let s: OptState = opt.run(&c.problem, &c.model, &c.w0, steps);
    let w = &s.w;
    let grad = c.model.pullback(w, &c.problem.gradient(&c.model.x(w)));
    let scale = c.model.pullback(&c.w0, &c.problem.gradient(&c.model.x(&c.w0))).amax();
    let radius = 1.0 / c.mu;
    // KKT of min F(w) s.t. |w_j| ≤ 1/μ: feasibility; interior (|w_j| < 1/μ − 10η): ∂F/∂w_j = 0;
    // active: the multiplier −sign(w_j)∂F/∂w_j ≥ 0
    let (mut feas, mut stat, mut mult): (f64, f64, f64) = (0.0, 0.0, 0.0);
    let mut active = 0.0;
    for j in 0..w.len() {
        feas = crate::verdict::worst(feas, w[j].abs() - radius);
        if w[j].abs() < radius - 10.0 * lr {
            stat = crate::verdict::worst(stat, grad[j].abs() / scale);
        } else {
            active += 1.0;
            mult = crate::verdict::worst(mult, (grad[j] * w[j].signum()).max(0.0) / scale);
        }
    }
    let route = "AdamW iterates; KKT residuals of the box-constrained problem";
    let p_route = "box-constrained minimiser per coordinate: min(b, μ^{−L})";
    let mut rows = vec![
        Evidence::with_error(case, "feasibility max(|w| − 1/μ)⁺", 0.0, feas.max(0.0), feas.max(0.0), tol, route),
        Evidence::with_error(case, "interior stationarity |∂F/∂w| (relative)", 0.0, stat, stat, tol, route),
        Evidence::with_error(case, "active multipliers of the wrong sign (relative)", 0.0, mult, mult, tol, route),
    ];
    let x = c.model.x(w);
    let expected_active =
        c.targets.iter().filter(|&&b| b >= c.mu.powf(-(c.model.depth as f64))).count() as f64 * c.model.depth as f64;
    rows.push(Evidence::compare(case, "active constraints", expected_active, active, 0.0, Metric::Absolute, route));
    for k in 0..c.targets.len() {
        let pred = match prediction.as_str() {
            "unconstrained" => c.targets[k],
            _ => c.targets[k].min(c.mu.powf(-(c.model.depth as f64))),
        };
        let err = (pred - x[k]).abs() / pred.max(1.0);
        rows.push(Evidence::with_error(case, &format!("x[{k}] vs box solution"), pred, x[k], err, tol, p_route));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_depth_three_basin_of_theory_section_8() {
        // THEORY §8: y = 1, μ = 0.1, L = 3, coupled: x → 0 for α ≤ 0.09, x → 0.896 for α ≥ 0.11
        let limit = |alpha: f64| {
            predicted_limit(WeightDecay::Coupled(0.1), "stationary", 2.0, 3, 0.1, 1.0, alpha.powi(3)).unwrap()
        };
        assert_eq!(limit(0.09), 0.0);
        assert!((limit(0.11) - 0.896).abs() < 1e-3, "{}", limit(0.11));
        // THEORY §6 table (L = 2, μ = 0.1): soft threshold for coupled, box for decoupled SignGF
        let c = |y: f64| predicted_limit(WeightDecay::Coupled(0.1), "stationary", 1.0, 2, 0.1, y, 0.01).unwrap();
        let d = |y: f64| predicted_limit(WeightDecay::Decoupled(0.1), "stationary", 1.0, 2, 0.1, y, 0.01).unwrap();
        assert_eq!((c(0.05), d(0.05)), (0.0, 0.05));
        // Brent to 1e−15 relative; 0.1^(−2) is 100 up to rounding
        assert!((c(0.5) - 0.4).abs() < 1e-12, "{}", c(0.5));
        assert!((c(200.0) - 199.9).abs() < 1e-9, "{}", c(200.0));
        assert!((d(200.0) - 100.0).abs() < 1e-12, "{}", d(200.0));
        // decoupled q = 1.5, L = 2: (y − x) = μ² sqrt(x)
        let x = predicted_limit(WeightDecay::Decoupled(0.1), "stationary", 1.5, 2, 0.1, 0.5, 0.01).unwrap();
        assert!((0.5 - x - 0.01 * x.sqrt()).abs() < 1e-13, "{x}");
    }
}
