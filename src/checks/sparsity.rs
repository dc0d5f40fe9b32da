//! `depth-sparsity`: the paper's figure (THEORY §5) that sign descent with depth L = 10 recovers the
//! single relevant feature of a separable problem (`x/‖x‖∞ ≈ e_k`) while L = 1 is dense. The setup
//! of the figure is unknown; THEORY §8 notes that the ℓ∞ max-margin prediction for SignGF is the
//! same for every L and so predicts dense limits. This check reproduces what it can.
//!
//! Data: [`Problem::separable`] with the teacher `e_1` (labels `y_k = sign(a_k1)`, exponential
//! loss). Model: the two-sided balanced deep diagonal model `x = ∏w⁺ − ∏w⁻` at scale α, for L = 1
//! and L = `depth`. Setups, all run to the same flow time T (`t_end`; discrete: `T/η` steps):
//! - **SignGF**: the Filippov sign flow `ẇ = −sign(∇_w F)` ([`SteepestFlow`], q = 1) on the
//!   log-exponential loss `ln f` ([`Loss::LogExponential`]): since f > 0, `∇ ln f = ∇f/f` has the
//!   signs of ∇f, so it is the same flow, but its switching functions stay of order one where ∇f
//!   itself falls below the absolute event tolerance of the switching solver (measured with ∇f: a
//!   stall at loss ≈ 1e−9, t ≈ 1.2 for L = 10) and later underflows;
//! - **SignGD**: `w ← w − η sign(∇_w F)` with the plain gradient, as a reader would run it: once
//!   every `exp(−y_k a_kᵀx)` underflows the gradient is exactly 0 and the iterate stops (reported);
//! - **SignGD on ∇f/f**: the same iteration on `ln f` (identical signs in exact arithmetic, never
//!   stopped by underflow);
//! - **Adam** (β1 = 0.9, β2 = 0.999, ε = `eps`): the practical proxy; its figures are reported in
//!   the summary row's reason, never judged.
//!
//! Measured on the final x: the concentration on the relevant feature
//! `C = 1 − ‖x/‖x‖∞ − sign(x_1) e_1‖∞` (1 iff `x/‖x‖∞ = ±e_1`; equal to one minus the runner-up
//! when x_1 is the largest entry, else 0), the runner-up `max_{j ≠ argmax} |x_j|/‖x‖∞`, and the
//! effective number of features `‖x‖₁/‖x‖∞` (1 for one feature, d for all equal). A direction is
//! judged only once the model is trained, `f(x) < 1` (which makes every margin positive).
//!
//! `claim` selects the statement: `paper` (default): for the sign-descent setups (SignGF and both
//! SignGD), L = `depth` is concentrated (`1 − C ≤ concentrated`) and L = 1 is dense (runner-up
//! `≥ 1 − dense`); all hold → PASS; otherwise INCONCLUSIVE (an unknown setup cannot be refuted),
//! the reason listing every figure. `shallow-sparse` (negative control): L = 1 is concentrated;
//! judged normally, so a dense measurement is a FAIL.

use super::{Check, Tolerances};
use crate::claims::{constraint, CheckSpec, Kind, ParamSpec, Point};
use crate::discrete::{Method, OptState, Optimizer};
use crate::error::{check_depth, InputError, InputResult};
use crate::flow::{Flow, SteepestFlow, WeightDecay};
use crate::geometry::sign;
use crate::ode::{Settings, Stats};
use crate::problem::{Loss, Problem};
use crate::reparam::{DeepDiagonal, Initialization, Reparameterization};
use crate::verdict::{worst, worst_abs, Evidence, Verdict};
use nalgebra::DVector;
use rayon::prelude::*;

/// The `depth-sparsity` check kind.
pub struct SparsityCheck;

const PARAMS: [ParamSpec; 10] = [
    ParamSpec { name: "dim", kind: Kind::Int, valid: constraint::at_least_one, doc: "dimension d ≥ 2" },
    ParamSpec { name: "samples", kind: Kind::Int, valid: constraint::at_least_one, doc: "samples n" },
    ParamSpec { name: "seed", kind: Kind::Int, valid: constraint::nonnegative, doc: "seed of the data" },
    ParamSpec { name: "alpha", kind: Kind::Real, valid: constraint::positive, doc: "initial scale α" },
    ParamSpec { name: "depth", kind: Kind::Int, valid: constraint::at_least_one, doc: "the deep L (default 10)" },
    ParamSpec { name: "t_end", kind: Kind::Real, valid: constraint::positive, doc: "flow time T of every setup" },
    ParamSpec { name: "lr", kind: Kind::Real, valid: constraint::positive, doc: "step η of SignGD and Adam" },
    ParamSpec { name: "eps", kind: Kind::Real, valid: constraint::nonnegative, doc: "Adam ε (default 1e−8)" },
    ParamSpec { name: "max_steps", kind: Kind::Int, valid: constraint::at_least_one, doc: "SignGF step budget" },
    ParamSpec { name: "claim", kind: Kind::Text, valid: constraint::any, doc: "paper (default) | shallow-sparse" },
];

/// Discrete runs longer than this are refused (`T/η` steps): a guard on the CI budget.
const MAX_DISCRETE_STEPS: f64 = 1e6;

/// The statement being checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Claim {
    /// Deep concentrated on e_1 and L = 1 dense; not reproduced → INCONCLUSIVE.
    Paper,
    /// L = 1 concentrated on e_1 (negative control): judged normally.
    ShallowSparse,
}

/// What the claim says about the direction at one depth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// `x/‖x‖∞ ≈ ±e_1`.
    Concentrated,
    /// Another feature comparable to the largest.
    Dense,
}

/// The optimisation setups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Setup {
    SignGf,
    SignGd,
    SignGdScaleFree,
    Adam,
}

impl Setup {
    const ALL: [Setup; 4] = [Setup::SignGf, Setup::SignGd, Setup::SignGdScaleFree, Setup::Adam];

    fn name(self) -> &'static str {
        match self {
            Setup::SignGf => "SignGF",
            Setup::SignGd => "SignGD",
            Setup::SignGdScaleFree => "SignGD on ∇f/f",
            Setup::Adam => "Adam",
        }
    }

    /// Sign descent proper: judged. Adam is reported only.
    fn judged(self) -> bool {
        self != Setup::Adam
    }
}

/// The concentration figures of a direction x (see the module docs); NaN for x = 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Concentration {
    /// `C = 1 − ‖x/‖x‖∞ − sign(x_1) e_1‖∞` (the relevant feature is coordinate 0).
    pub on_relevant: f64,
    /// `max_{j ≠ argmax} |x_j| / ‖x‖∞`.
    pub runner_up: f64,
    /// `‖x‖₁ / ‖x‖∞`.
    pub effective: f64,
    /// The index of the largest `|x_j|` (ties: the smallest index).
    pub argmax: usize,
}

impl Concentration {
    /// Measures x (length ≥ 2); every figure is NaN when `‖x‖∞` is 0 or not finite.
    pub fn of(x: &DVector<f64>) -> Self {
        let top = worst_abs(x);
        if !(top.is_finite() && top > 0.0) {
            return Self { on_relevant: f64::NAN, runner_up: f64::NAN, effective: f64::NAN, argmax: 0 };
        }
        let u = x / top;
        let argmax = (0..u.len()).find(|&j| u[j].abs() == 1.0).unwrap_or(0);
        let runner_up = (0..u.len()).filter(|&j| j != argmax).map(|j| u[j].abs()).fold(0.0, worst);
        let mut off = u.clone();
        off[0] -= sign(u[0]);
        let distance = worst_abs(&off);
        Self { on_relevant: 1.0 - distance, runner_up, effective: u.iter().map(|v| v.abs()).sum(), argmax }
    }
}

/// The parameters of a run, read from a grid point.
struct Config {
    problem: Problem,
    /// The same data with the loss `ln f`: same sign flow, no underflow.
    log_problem: Problem,
    alpha: f64,
    depth: usize,
    t_end: f64,
    lr: f64,
    steps: usize,
    eps: f64,
    settings: Settings,
    claim: Claim,
}

impl Config {
    fn from_point(p: &Point) -> InputResult<Self> {
        let d = p.int_or("dim", 20)?;
        if d < 2 {
            return Err(InputError::new("parameters.dim", format!("needs at least 2 features, got {d}")));
        }
        let n = p.int_or("samples", 10)? as usize;
        let problem = Problem::separable(p.int_or("seed", 1)? as u64, n, d as usize, &[1.0]);
        let depth = check_depth("parameters.depth", p.int_or("depth", 10)?)?;
        let t_end = p.real_or("t_end", 10.0)?;
        let lr = p.real_or("lr", 1e-3)?;
        let steps = (t_end / lr).round();
        if !(1.0..=MAX_DISCRETE_STEPS).contains(&steps) {
            return Err(InputError::new(
                "parameters.lr",
                format!("t_end/lr = {steps} discrete steps; between 1 and {MAX_DISCRETE_STEPS} are allowed"),
            ));
        }
        let claim = match p.text_or("claim", "paper")?.as_str() {
            "paper" => Claim::Paper,
            "shallow-sparse" => Claim::ShallowSparse,
            other => {
                return Err(InputError::new(
                    "parameters.claim",
                    format!("expected paper or shallow-sparse, got {other}"),
                ))
            }
        };
        let max_steps = p.int_or("max_steps", 50_000)?;
        let settings = Settings { max_steps: u32::try_from(max_steps).unwrap_or(u32::MAX), ..Settings::default() };
        let log_problem = Problem { loss: Loss::LogExponential, ..problem.clone() };
        Ok(Self {
            problem,
            log_problem,
            alpha: p.real_or("alpha", 0.01)?,
            depth,
            t_end,
            lr,
            steps: steps as usize,
            eps: p.real_or("eps", 1e-8)?,
            settings,
            claim,
        })
    }

    /// The depths the claim speaks about, with the shape it claims.
    fn depths(&self) -> Vec<(usize, Shape)> {
        match self.claim {
            Claim::Paper => vec![(self.depth, Shape::Concentrated), (1, Shape::Dense)],
            Claim::ShallowSparse => vec![(1, Shape::Concentrated)],
        }
    }
}

/// The final iterate of one setup at one depth, or why there is none.
struct Run {
    setup: Setup,
    depth: usize,
    shape: Shape,
    outcome: Result<(DVector<f64>, String), String>,
    stats: Option<Stats>,
}

impl Config {
    fn run(&self, setup: Setup, depth: usize, shape: Shape) -> Run {
        let model = DeepDiagonal::two_sided(depth, self.problem.dim());
        let mut stats = None;
        let outcome = model
            .init(&Initialization::balanced(self.alpha, depth), 1.0)
            .map_err(|e| e.to_string())
            .and_then(|w0| match setup {
                Setup::SignGf => {
                    let flow =
                        SteepestFlow { problem: &self.log_problem, model: &model, q: 1.0, decay: WeightDecay::None };
                    match flow.run(&w0, &[self.t_end], None, &self.settings) {
                        Ok(tr) => {
                            stats = Some(tr.stats);
                            Ok((model.x(tr.last()), format!("Filippov SignGF on ∇f/f to t = {}", self.t_end)))
                        }
                        Err(e) => {
                            stats = Some(e.stats);
                            Err(e.to_string())
                        }
                    }
                }
                Setup::SignGd => {
                    let opt = Optimizer { method: Method::SignGd, lr: self.lr, decay: WeightDecay::None };
                    let mut s = OptState::new(&w0);
                    let mut frozen = None;
                    for k in 1..=self.steps {
                        let before = s.w.clone();
                        opt.step(&self.problem, &model, &mut s);
                        if s.w == before {
                            frozen = Some(k);
                            break;
                        }
                    }
                    let note = match frozen {
                        Some(k) => format!(", stopped at step {k}: the gradient underflowed to 0"),
                        None => String::new(),
                    };
                    Ok((model.x(&s.w), format!("SignGD η = {}, {} steps{note}", self.lr, self.steps)))
                }
                Setup::SignGdScaleFree => {
                    let opt = Optimizer { method: Method::SignGd, lr: self.lr, decay: WeightDecay::None };
                    let s = opt.run(&self.log_problem, &model, &w0, self.steps);
                    Ok((model.x(&s.w), format!("SignGD on ∇f/f, η = {}, {} steps", self.lr, self.steps)))
                }
                Setup::Adam => {
                    let method = Method::Adam { beta1: 0.9, beta2: 0.999, eps: self.eps };
                    let opt = Optimizer { method, lr: self.lr, decay: WeightDecay::None };
                    let s = opt.run(&self.problem, &model, &w0, self.steps);
                    Ok((
                        model.x(&s.w),
                        format!("Adam(0.9, 0.999, ε = {:e}), η = {}, {} steps", self.eps, self.lr, self.steps),
                    ))
                }
            });
        Run { setup, depth, shape, outcome, stats }
    }
}

/// One line of the summary for a run.
fn describe(r: &Run, log_problem: &Problem) -> String {
    let head = format!("{} L={}", r.setup.name(), r.depth);
    match &r.outcome {
        Err(e) => format!("{head}: no result ({e})"),
        Ok((x, route)) => {
            let c = Concentration::of(x);
            let ln_f = log_problem.loss(x);
            let trained = if ln_f < 0.0 { String::new() } else { format!(", NOT trained: ln f = {ln_f:.3}") };
            let top = if c.argmax == 0 { String::new() } else { format!(", largest is feature {}", c.argmax + 1) };
            let stats = r.stats.map_or(String::new(), |s| format!(", {} steps, {} events", s.steps, s.events));
            format!(
                "{head}: C = {:.3}, runner-up {:.3}, ‖x‖₁/‖x‖∞ {:.2}{top}{trained} [{route}{stats}]",
                c.on_relevant, c.runner_up, c.effective
            )
        }
    }
}

/// The judged row of a sign-descent run: the claimed shape's figure (Adam's figures appear only in
/// the summary's reason: they are reported, never judged).
fn judged_row(r: &Run, log_problem: &Problem, case: &str, tol: &Tolerances) -> Evidence {
    let head = format!("{} L={}", r.setup.name(), r.depth);
    let (quantity, tolerance) = match r.shape {
        Shape::Concentrated => (format!("{head}: concentration 1 − ‖x/‖x‖∞ − e_1‖∞"), tol.get("concentrated")),
        Shape::Dense => (format!("{head}: runner-up |x_j|/‖x‖∞"), tol.get("dense")),
    };
    let row = match &r.outcome {
        Err(e) => Evidence::inconclusive(case, &quantity, r.setup.name(), e.clone()),
        Ok((x, route)) if log_problem.loss(x) >= 0.0 => {
            Evidence::inconclusive(case, &quantity, route, "not trained (f(x) ≥ 1): no direction to judge")
        }
        Ok((x, route)) => {
            let c = Concentration::of(x);
            let measured = match r.shape {
                Shape::Concentrated => c.on_relevant,
                Shape::Dense => c.runner_up,
            };
            Evidence::with_error(case, &quantity, 1.0, measured, 1.0 - measured, tolerance, route)
        }
    };
    with_stats(row, r.stats)
}

fn with_stats(e: Evidence, stats: Option<Stats>) -> Evidence {
    match stats {
        Some(s) => e.with_stats(s),
        None => e,
    }
}

impl Check for SparsityCheck {
    fn spec(&self) -> CheckSpec {
        CheckSpec { params: &PARAMS, tolerances: &["concentrated", "dense"] }
    }

    fn run(&self, point: &Point, case: &str, tol: &Tolerances) -> InputResult<Vec<Evidence>> {
        let cfg = Config::from_point(point)?;
        let jobs: Vec<(Setup, usize, Shape)> =
            cfg.depths().into_iter().flat_map(|(l, shape)| Setup::ALL.map(|s| (s, l, shape))).collect();
        let runs: Vec<Run> = jobs.par_iter().map(|&(s, l, shape)| cfg.run(s, l, shape)).collect();
        let mut body = Vec::new();
        let mut judged = (0, 0);
        for r in runs.iter().filter(|r| r.setup.judged()) {
            let mut row = judged_row(r, &cfg.log_problem, case, tol);
            judged.0 += 1;
            judged.1 += usize::from(row.verdict == Verdict::Pass);
            if cfg.claim == Claim::Paper {
                if let Verdict::Fail(why) = &row.verdict {
                    // an unknown setup cannot be refuted: a mismatch is "not reproduced"
                    row.verdict = Verdict::Inconclusive(format!("not reproduced: {why}"));
                }
            }
            body.push(row);
        }
        let figures: Vec<String> = runs.iter().map(|r| describe(r, &cfg.log_problem)).collect();
        let d = cfg.problem.dim();
        let n = cfg.problem.samples();
        let setting = format!("d = {d}, n = {n}, teacher e_1, two-sided balanced α = {}, T = {}", cfg.alpha, cfg.t_end);
        let summary = format!("{setting}: {}", figures.join("; "));
        let quantity = "sign-descent sub-claims reproduced";
        let (total, passed) = judged;
        let mut head = Evidence::with_error(
            case,
            quantity,
            total as f64,
            passed as f64,
            (total - passed) as f64,
            0.0,
            "SignGF, SignGD, SignGD on ∇f/f (Adam reported only)",
        );
        let any_fail = body.iter().any(|e| matches!(e.verdict, Verdict::Fail(_)));
        head.verdict = match (cfg.claim, passed == total) {
            (_, true) => Verdict::Pass,
            (Claim::Paper, false) => Verdict::Inconclusive(format!(
                "L = {} concentrated and L = 1 dense under sign descent: not reproduced ({passed} of {total} \
                 sub-claims; an unknown setup is not refuted). {summary}",
                cfg.depth
            )),
            (Claim::ShallowSparse, false) if any_fail => {
                Verdict::Fail(format!("L = 1 is not concentrated on e_1 ({passed} of {total} sub-claims). {summary}"))
            }
            (Claim::ShallowSparse, false) => Verdict::Inconclusive(format!("no definite measurement. {summary}")),
        };
        let mut out = vec![head];
        out.extend(body);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concentration_figures() {
        let e1 = Concentration::of(&DVector::from_vec(vec![-2.0, 0.0, 0.0]));
        assert_eq!((e1.on_relevant, e1.runner_up, e1.effective, e1.argmax), (1.0, 0.0, 1.0, 0));
        let dense = Concentration::of(&DVector::from_vec(vec![1.0, -1.0, 0.5]));
        assert_eq!((dense.on_relevant, dense.runner_up, dense.effective), (0.0, 1.0, 2.5));
        let other = Concentration::of(&DVector::from_vec(vec![0.2, 4.0, 1.0]));
        assert_eq!((other.on_relevant, other.runner_up, other.argmax), (0.0, 0.25, 1));
        let partial = Concentration::of(&DVector::from_vec(vec![4.0, 1.0, -0.5]));
        assert_eq!((partial.on_relevant, partial.runner_up), (0.75, 0.25));
        assert!(Concentration::of(&DVector::zeros(3)).on_relevant.is_nan());
        assert!(Concentration::of(&DVector::from_vec(vec![1.0, f64::NAN])).runner_up.is_nan());
    }

    #[test]
    fn log_loss_gives_the_same_sign_flow() {
        // where ∇f is still well above the switching solver's event tolerance (t ≤ 1, loss ≥ 0.1),
        // SignGF on ln f and on f (switching on ∇f/f vs ∇f, equal signs) agree to the integration
        // tolerance: |w| ≤ 1.01, events located to 1e−13 in time, Dop853 at rtol 1e−11
        let problem = Problem::separable(1, 10, 20, &[1.0]);
        let log_problem = Problem { loss: Loss::LogExponential, ..problem.clone() };
        for depth in [1, 10] {
            let model = DeepDiagonal::two_sided(depth, 20);
            let w0 = model.init(&Initialization::balanced(0.01, depth), 1.0).unwrap();
            let times = [0.5, 1.0];
            let flow = |p| SteepestFlow { problem: p, model: &model, q: 1.0, decay: WeightDecay::None };
            let a = flow(&problem).run(&w0, &times, None, &Settings::default()).unwrap();
            let b = flow(&log_problem).run(&w0, &times, None, &Settings::default()).unwrap();
            for (wa, wb) in a.y.iter().zip(&b.y) {
                assert!((wa - wb).amax() < 1e-8, "L = {depth}: {}", (wa - wb).amax());
            }
        }
    }

    #[test]
    fn bad_parameters_name_the_field() {
        let point = |k: &str, v: toml::Value| Point::new([(k.to_string(), v)].into_iter().collect());
        let tol = std::collections::BTreeMap::from([("concentrated".to_string(), 0.1), ("dense".to_string(), 0.5)]);
        let run = |p: Point| SparsityCheck.run(&p, "c", &Tolerances(&tol)).unwrap_err().location;
        assert_eq!(run(point("claim", toml::Value::String("sparse".into()))), "parameters.claim");
        assert_eq!(run(point("dim", toml::Value::Integer(1))), "parameters.dim");
        assert_eq!(run(point("lr", toml::Value::Float(1e-9))), "parameters.lr");
        assert_eq!(run(point("depth", toml::Value::Integer(0))), "parameters.depth");
    }
}
