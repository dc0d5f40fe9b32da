//! `sparsity/depth-margin`: the paper's classification experiment at its scale (THEORY §9 "margins
//! depend on depth"; docs/THEORY.md §10.6): k = 80 features, a sparse ground truth, depths
//! L ∈ {1, 2, 3, 5, 10}, sign descent and Adam; recovery and margins over time. The paper's exact
//! setup (samples, teacher, initial scale, step, loss, horizon) is not public, so the claim that
//! depth lets sign descent recover the sparse truth is **measured and reported** (open), while the
//! part of it that is derived is **checked**.
//!
//! Data: [`Problem::separable`] with the teacher `x* = (teacher, 0, …, 0)` (labels
//! `y_k = sign(a_kᵀx*)`), exponential loss; a fresh test set from the same teacher (seed + 1).
//! Model: the two-sided balanced deep diagonal model `x = ∏w⁺ − ∏w⁻`, every weight at α. Runs, each
//! through the checkpoints `times` (flow time t = η·steps):
//! - **SignGD** at η and at η/2 (SignGF's discretisation; the event-driven SignGF engine needs tens
//!   of seconds per depth at d = 80, so the flow is represented by its two discretisations and their
//!   gap is reported). SignGD is run on `ln f`: `∇ ln f = ∇f/f` has the signs of ∇f, so the
//!   iterates are those of SignGD on f in exact arithmetic, but the softmax gradient never underflows;
//! - **Adam** (β1 = 0.9, β2 = 0.999, ε = `eps`) at η on the plain exponential loss, reported only.
//!
//! **Checked (derived, THEORY §9):** under sign descent a balanced coordinate keeps its layers
//! equal, the `+` side moving by `−η sign(g_j)` and the `−` side by `+η sign(g_j)` per step, so with
//! `z_j = −η Σ_k sign(g_j(x_k))` (the signs of the x-space gradient along the path)
//!
//! ```text
//! x_j = (α + z_j)^L − (α − z_j)^L
//! ```
//!
//! exactly (up to rounding), for every odd L at every step, and for even L until a layer first
//! reaches 0 (`|z_j| ≥ α`; afterwards the resting side chatters at 0 with amplitude η). Both
//! routes share only the recorded signs: the measured x is the product of the optimizer's weights,
//! the prediction the power of the summed signs. Every margin is also checked against its optimum
//! (clarabel LPs): `γ_r(x) ≤ γ_r*` for r = ∞, 1.
//!
//! **Reported (open):** per run and checkpoint the cosine of x with x*, the share of ‖x‖₁ on the
//! teacher's support S, the overlap of the |S| largest entries with S, the normalised margins
//! `γ_∞ = min_k y_k a_kᵀx/‖x‖∞` and `γ_1 = min_k y_k a_kᵀx/‖x‖₁` as fractions of their optima
//! (SignGF's limit direction maximises γ_∞ for every L, THEORY §5.3; γ_1 is the margin of the sparse
//! geometry), the test accuracy, and the gap between SignGD at η and η/2.
//!
//! `claim` (an enum): `observe` (default; the head row is INCONCLUSIVE with every figure in its
//! reason), `depth-helps` (the paper's claim as measured here: at every checkpoint where all depths
//! are trained, the support share does not decrease with L, up to `ties`, for both SignGD runs) or
//! `depth-hurts` (the opposite; a negative control). `exponent_shift` moves the exponent of the
//! identity (L + shift; a control).

use crate::checks::{Claim, Numerics};
use crate::discrete::{Method, OptState, Optimizer};
use crate::error::{check_depth, check_nonnegative, check_positive, finite, InputError, InputResult};
use crate::flow::WeightDecay;
use crate::geometry::sign;
use crate::margin::{max_margin, normalised_margin, signed_data};
use crate::problem::{check_size, Loss, Problem};
use crate::reparam::{DeepDiagonal, Initialization, Reparameterization};
use crate::verdict::{round_sig, worst, Evidence};
use nalgebra::{DMatrix, DVector};
use rayon::prelude::*;
use schemars::JsonSchema;
use serde::Deserialize;

/// Most optimizer steps one run may take (`t_end/(η/2)`): a guard on the CI budget.
pub const MAX_STEPS: f64 = 2e5;

/// The statement about depth and recovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Statement {
    /// Nothing is claimed: the figures are reported (INCONCLUSIVE, every figure in the reason).
    Observe,
    /// The support share does not decrease with L (sign descent, trained checkpoints).
    DepthHelps,
    /// The support share does not increase with L (a wrong claim).
    DepthHurts,
}

fn observe() -> Statement {
    Statement::Observe
}
fn dim() -> usize {
    80
}
fn samples() -> usize {
    100
}
fn test_samples() -> usize {
    1000
}
fn seed() -> u64 {
    7
}
fn teacher() -> Vec<f64> {
    vec![1.0, -0.8, 0.6, -0.5]
}
fn alpha() -> f64 {
    0.1
}
fn depths() -> Vec<usize> {
    vec![1, 2, 3, 5, 10]
}
fn lr() -> f64 {
    3e-3
}
fn times() -> Vec<f64> {
    vec![0.5, 1.0, 2.0, 4.0, 8.0, 16.0]
}
fn eps() -> f64 {
    1e-8
}

/// Recovery and margins of sign descent and Adam over time on sparse-teacher classification.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DepthMargin {
    /// Number of features d (the paper: 80).
    #[serde(default = "dim")]
    pub dim: usize,
    /// Training samples n.
    #[serde(default = "samples")]
    pub samples: usize,
    /// Test samples (same teacher, seed + 1) for the test accuracy.
    #[serde(default = "test_samples")]
    pub test_samples: usize,
    /// Seed of the training data.
    #[serde(default = "seed")]
    pub seed: u64,
    /// The teacher's non-zero entries, on the first coordinates (support S = their indices).
    #[serde(default = "teacher")]
    pub teacher: Vec<f64>,
    /// Initial scale α > 0 of every weight (two-sided balanced, x_0 = 0).
    #[serde(default = "alpha")]
    pub alpha: f64,
    /// Depths, increasing (at least two).
    #[serde(default = "depths")]
    pub depths: Vec<usize>,
    /// Step size η of SignGD and Adam (SignGD also runs at η/2).
    #[serde(default = "lr")]
    pub lr: f64,
    /// Checkpoints in flow time (increasing, positive); checkpoint t is step round(t/η).
    #[serde(default = "times")]
    pub times: Vec<f64>,
    /// Adam ε ≥ 0 (Adam is reported, never judged).
    #[serde(default = "eps")]
    pub eps: f64,
    /// The exponent of the identity is claimed to be L + `exponent_shift` (theory: 0).
    #[serde(default)]
    pub exponent_shift: f64,
    /// The statement: `observe`, `depth-helps` or `depth-hurts`.
    #[serde(default = "observe")]
    pub claim: Statement,
}

/// The tolerances of `sparsity/depth-margin`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DepthMarginTolerance {
    /// Largest `|x_j − pred_j|/(α + |z_j|)^L` of the identity along the SignGD paths.
    pub identity: f64,
    /// Largest `γ_r(x)/γ_r* − 1` allowed (the LP's accuracy).
    pub optimum: f64,
    /// Support shares closer than this count as equal in the depth claims.
    pub ties: f64,
}

/// An optimisation run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Run {
    /// SignGD at η (`half = false`) or η/2.
    SignGd { half: bool },
    /// Adam at η.
    Adam,
}

impl Run {
    const ALL: [Run; 3] = [Run::SignGd { half: false }, Run::SignGd { half: true }, Run::Adam];

    fn name(self) -> &'static str {
        match self {
            Run::SignGd { half: false } => "SignGD η",
            Run::SignGd { half: true } => "SignGD η/2",
            Run::Adam => "Adam",
        }
    }
}

/// The figures of one iterate (module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Figures {
    /// `xᵀx*/(‖x‖‖x*‖)`.
    pub cosine: f64,
    /// `Σ_{j∈S}|x_j| / ‖x‖₁`.
    pub support_share: f64,
    /// `|top-|S|(|x|) ∩ S| / |S|`.
    pub overlap: f64,
    /// `γ_∞(x)/γ_∞*`.
    pub linf_margin: f64,
    /// `γ_1(x)/γ_1*`.
    pub l1_margin: f64,
    /// Fraction of test samples classified correctly.
    pub accuracy: f64,
    /// `ln f(x) < 0`: every training margin positive.
    pub trained: bool,
}

/// The data, references and settings of a card point.
struct Setup {
    problem: Problem,
    log_problem: Problem,
    test: Problem,
    g: DMatrix<f64>,
    x_star: DVector<f64>,
    support: usize,
    /// `‖x̂_∞‖∞` and `‖x̂_1‖₁`: γ* = 1/‖x̂‖.
    linf_norm: f64,
    l1_norm: f64,
}

impl Setup {
    fn figures(&self, x: &DVector<f64>) -> Figures {
        let s = self.support;
        let l1 = x.lp_norm(1);
        let mut order: Vec<usize> = (0..x.len()).collect();
        order.sort_by(|&a, &b| x[b].abs().total_cmp(&x[a].abs()));
        let hits = order.iter().take(s).filter(|&&j| j < s).count();
        let margins = &self.test.a * x;
        let correct = margins.iter().zip(self.test.y.iter()).filter(|(m, y)| **m * **y > 0.0).count();
        Figures {
            cosine: x.dot(&self.x_star) / (x.norm() * self.x_star.norm()),
            support_share: (0..s).map(|j| x[j].abs()).sum::<f64>() / l1,
            overlap: hits as f64 / s as f64,
            linf_margin: normalised_margin(&self.g, x, f64::INFINITY) * self.linf_norm,
            l1_margin: normalised_margin(&self.g, x, 1.0) * self.l1_norm,
            accuracy: correct as f64 / self.test.samples() as f64,
            trained: self.log_problem.loss(x) < 0.0,
        }
    }
}

/// The identity along a SignGD path: the largest relative error and the number of (step,
/// coordinate) pairs compared.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IdentityError {
    /// Largest `|x_j − pred_j| / (α + |z_j|)^L`.
    pub error: f64,
    /// Pairs compared (even L: before the coordinate's first crossing).
    pub compared: usize,
}

/// The outcome of one run at one depth: x at the checkpoints and, for SignGD, the identity.
struct Outcome {
    run: Run,
    depth: usize,
    xs: Vec<DVector<f64>>,
    identity: Option<IdentityError>,
}

/// Runs SignGD with step `eta` on `problem` (the model two-sided balanced at α), returning x at
/// the checkpoint steps and the identity `x_j = (α + z_j)^p − (α − z_j)^p` checked at every step
/// (`p = L + shift`; even L: coordinates before `|z_j|` first reaches α).
pub fn signgd_with_identity(
    problem: &Problem,
    model: &DeepDiagonal,
    alpha: f64,
    eta: f64,
    checkpoints: &[usize],
    shift: f64,
) -> InputResult<(Vec<DVector<f64>>, IdentityError)> {
    let depth = model.depth;
    let d = model.dim;
    let w0 = model.init(&Initialization::balanced(alpha, depth), 1.0)?;
    let opt = Optimizer { method: Method::SignGd, lr: eta, decay: WeightDecay::None };
    let mut s = OptState::new(&w0);
    let mut z = DVector::<f64>::zeros(d);
    let mut crossed = vec![false; d];
    let even = depth.is_multiple_of(2);
    let p = depth as f64 + shift;
    let mut x = model.x(&s.w);
    let mut out = Vec::with_capacity(checkpoints.len());
    let mut id = IdentityError { error: 0.0, compared: 0 };
    let last = checkpoints.last().copied().unwrap_or(0);
    let mut next = 0;
    for k in 1..=last {
        let g = problem.gradient(&x);
        opt.step(problem, model, &mut s);
        x = model.x(&s.w);
        for j in 0..d {
            z[j] -= eta * sign(g[j]);
            if even && z[j].abs() >= alpha {
                crossed[j] = true;
            }
            if !crossed[j] {
                let pred = (alpha + z[j]).powf(p) - (alpha - z[j]).powf(p);
                let scale = (alpha + z[j].abs()).powi(depth as i32);
                id.error = worst(id.error, (x[j] - pred).abs() / scale);
                id.compared += 1;
            }
        }
        while next < checkpoints.len() && checkpoints[next] == k {
            out.push(x.clone());
            next += 1;
        }
    }
    Ok((out, id))
}

impl DepthMargin {
    fn steps(&self, eta: f64) -> Vec<usize> {
        self.times.iter().map(|t| (t / eta).round() as usize).collect()
    }

    fn setup(&self) -> InputResult<Setup> {
        let d = self.dim;
        if d < 2 {
            return Err(InputError::new("dim", format!("needs at least 2 features, got {d}")));
        }
        check_size(self.samples, d)?;
        check_size(self.test_samples, d).map_err(|e| InputError::new("test_samples", e.message))?;
        let s = self.teacher.len();
        if s == 0 || s >= d {
            return Err(InputError::new("teacher", format!("between 1 and d − 1 = {} non-zeros", d - 1)));
        }
        for &v in &self.teacher {
            if finite("teacher", v)? == 0.0 {
                return Err(InputError::new("teacher", "list the non-zero entries only"));
            }
        }
        let problem = Problem::separable(self.seed, self.samples, d, &self.teacher);
        let test = Problem::separable(self.seed.wrapping_add(1), self.test_samples, d, &self.teacher);
        let log_problem = Problem { loss: Loss::LogExponential, ..problem.clone() };
        let g = signed_data(&problem);
        let linf = max_margin(&g, f64::INFINITY)?;
        let l1 = max_margin(&g, 1.0)?;
        let x_star = DVector::from_fn(d, |j, _| if j < s { self.teacher[j] } else { 0.0 });
        Ok(Setup {
            problem,
            log_problem,
            test,
            g,
            x_star,
            support: s,
            linf_norm: linf.objective,
            l1_norm: l1.objective,
        })
    }

    fn check_knobs(&self) -> InputResult<()> {
        check_positive("alpha", self.alpha)?;
        check_positive("lr", self.lr)?;
        check_nonnegative("eps", self.eps)?;
        finite("exponent_shift", self.exponent_shift)?;
        if self.depths.len() < 2 || self.depths.windows(2).any(|p| p[1] <= p[0]) {
            return Err(InputError::new("depths", "at least two depths, increasing"));
        }
        for &l in &self.depths {
            check_depth("depths", l as i64)?;
        }
        if self.times.is_empty() || self.times.len() > 100 {
            return Err(InputError::new("times", "between 1 and 100 checkpoints"));
        }
        let mut last = 0.0;
        for &t in &self.times {
            check_positive("times", t)?;
            if t <= last {
                return Err(InputError::new("times", "must increase"));
            }
            last = t;
        }
        let steps = last / (self.lr / 2.0);
        if steps > MAX_STEPS {
            return Err(InputError::new("lr", format!("t_end/(η/2) = {steps:.3e} steps; at most {MAX_STEPS:e}")));
        }
        if self.steps(self.lr).windows(2).any(|p| p[1] <= p[0]) || self.steps(self.lr)[0] == 0 {
            return Err(InputError::new("times", "checkpoints closer than one step η (or before the first step)"));
        }
        Ok(())
    }

    fn run(&self, setup: &Setup, run: Run, depth: usize) -> InputResult<Outcome> {
        let model = DeepDiagonal::two_sided(depth, self.dim);
        match run {
            Run::SignGd { half } => {
                let eta = if half { self.lr / 2.0 } else { self.lr };
                let (xs, id) = signgd_with_identity(
                    &setup.log_problem,
                    &model,
                    self.alpha,
                    eta,
                    &self.steps(eta),
                    self.exponent_shift,
                )?;
                Ok(Outcome { run, depth, xs, identity: Some(id) })
            }
            Run::Adam => {
                let w0 = model.init(&Initialization::balanced(self.alpha, depth), 1.0)?;
                let method = Method::Adam { beta1: 0.9, beta2: 0.999, eps: self.eps };
                let opt = Optimizer { method, lr: self.lr, decay: WeightDecay::None };
                let mut s = OptState::new(&w0);
                let mut xs = Vec::new();
                for target in self.steps(self.lr) {
                    while (s.k as usize) < target {
                        opt.step(&setup.problem, &model, &mut s);
                    }
                    xs.push(model.x(&s.w));
                }
                Ok(Outcome { run, depth, xs, identity: None })
            }
        }
    }
}

/// `a/b/c` of a series, 3 significant digits.
fn series(v: impl Iterator<Item = f64>) -> String {
    v.map(|x| format!("{}", round_sig(x, 3))).collect::<Vec<_>>().join("/")
}

/// The largest drop of `share` from one depth to the next (`helps`) or the largest rise
/// (`!helps`) over the trained checkpoints of one run kind; the checkpoints compared.
fn depth_violation(figs: &[Vec<Figures>], helps: bool) -> (f64, usize) {
    let checkpoints = figs.first().map_or(0, Vec::len);
    let mut worst_v: f64 = 0.0;
    let mut compared = 0;
    for c in 0..checkpoints {
        if !figs.iter().all(|f| f[c].trained) {
            continue;
        }
        compared += 1;
        for pair in figs.windows(2) {
            let rise = pair[1][c].support_share - pair[0][c].support_share;
            worst_v = worst(worst_v, if helps { (-rise).max(0.0) } else { rise.max(0.0) });
        }
    }
    (worst_v, compared)
}

impl Claim for DepthMargin {
    const ID: &'static str = "sparsity/depth-margin";
    type Tolerance = DepthMarginTolerance;

    fn validate(&self) -> InputResult<()> {
        self.check_knobs()?;
        // the data and the margin references (two small LPs)
        self.setup().map(|_| ())
    }

    fn evidence(&self, case: &str, tol: &DepthMarginTolerance, _numerics: &Numerics) -> InputResult<Vec<Evidence>> {
        self.check_knobs()?;
        let setup = self.setup()?;
        let jobs: Vec<(Run, usize)> =
            self.depths.iter().flat_map(|&l| Run::ALL.into_iter().map(move |r| (r, l))).collect();
        let outcomes: Vec<Outcome> =
            jobs.par_iter().map(|&(r, l)| self.run(&setup, r, l)).collect::<InputResult<Vec<_>>>()?;
        let figures: Vec<Vec<Figures>> =
            outcomes.iter().map(|o| o.xs.iter().map(|x| setup.figures(x)).collect()).collect();
        let at = |run: Run, depth: usize| {
            outcomes.iter().position(|o| o.run == run && o.depth == depth).expect("every job ran")
        };
        let mut rows = Vec::new();
        // 1. the identity along the SignGD paths (judged)
        for o in outcomes.iter().filter(|o| o.identity.is_some()) {
            let id = o.identity.expect("filtered");
            let p = o.depth as f64 + self.exponent_shift;
            let quantity = format!(
                "L={} {}: x_j vs (α + z_j)^{p} − (α − z_j)^{p} (relative to (α + |z_j|)^L)",
                o.depth,
                o.run.name()
            );
            let route = format!(
                "optimizer's weights vs the summed signs of the x-space gradient, every step, {} (step, coordinate) pairs{}",
                id.compared,
                if o.depth.is_multiple_of(2) { " before the coordinate's first crossing" } else { "" }
            );
            rows.push(Evidence::with_error(case, &quantity, 0.0, id.error, id.error, tol.identity, &route));
        }
        // 2. margins below their optima (judged)
        for (name, pick) in [("γ_∞/γ_∞*", 0usize), ("γ_1/γ_1*", 1)] {
            let top = figures
                .iter()
                .flatten()
                .map(|f| if pick == 0 { f.linf_margin } else { f.l1_margin })
                .fold(f64::NEG_INFINITY, worst);
            let excess = (top - 1.0).max(0.0);
            rows.push(Evidence::with_error(
                case,
                &format!("largest {name} over every run and checkpoint (at most 1)"),
                1.0,
                top,
                excess,
                tol.optimum,
                "margins of the iterates vs clarabel's max-margin LP",
            ));
        }
        // 3. the figures (reported)
        let last = self.times.len() - 1;
        let t_end = self.times[last];
        let route_of = |r: Run| match r {
            Run::SignGd { half } => {
                format!("SignGD on ln f, η = {}, t = {t_end}", if half { self.lr / 2.0 } else { self.lr })
            }
            Run::Adam => format!("Adam(0.9, 0.999, ε = {:e}) on f, η = {}, t = {t_end}", self.eps, self.lr),
        };
        for &l in &self.depths {
            for r in [Run::SignGd { half: false }, Run::Adam] {
                let f = figures[at(r, l)][last];
                let head = format!("L={l} {}", r.name());
                for (q, v) in [
                    ("cosine with the teacher", f.cosine),
                    ("share of ‖x‖₁ on the teacher's support", f.support_share),
                    ("γ_∞/γ_∞* (SignGF's limit: 1)", f.linf_margin),
                    ("γ_1/γ_1* (sparse geometry)", f.l1_margin),
                    ("test accuracy", f.accuracy),
                ] {
                    rows.push(Evidence::observe(case, &format!("{head}: {q} at t = {t_end}"), v, &route_of(r)));
                }
            }
            let a = &outcomes[at(Run::SignGd { half: false }, l)].xs[last];
            let b = &outcomes[at(Run::SignGd { half: true }, l)].xs[last];
            let gap = (a / a.amax() - b / b.amax()).amax();
            rows.push(Evidence::observe(
                case,
                &format!("L={l}: ‖x_η/‖x_η‖∞ − x_η/2/‖x_η/2‖∞‖∞ at t = {t_end} (SignGF's discretisation gap)"),
                gap,
                "SignGD at η and η/2",
            ));
        }
        let sign_runs = [Run::SignGd { half: false }, Run::SignGd { half: true }];
        let by_depth =
            |r: Run| -> Vec<Vec<Figures>> { self.depths.iter().map(|&l| figures[at(r, l)].clone()).collect() };
        let (drop, compared) = depth_violation(&by_depth(sign_runs[0]), true);
        rows.push(Evidence::observe(
            case,
            &format!("SignGD η: largest decrease of the support share from one depth to the next ({compared} trained checkpoints)"),
            drop,
            "the support shares of the SignGD η runs",
        ));
        // 4. the head row: the open statement, or a claim about depth
        let mut lines = Vec::new();
        for &l in &self.depths {
            for r in Run::ALL {
                let f = &figures[at(r, l)];
                let untrained: Vec<String> =
                    self.times.iter().zip(f).filter(|(_, f)| !f.trained).map(|(t, _)| format!("{t}")).collect();
                let note = if untrained.is_empty() {
                    String::new()
                } else {
                    format!(" (not trained at t = {})", untrained.join(", "))
                };
                lines.push(format!(
                    "L={l} {}: cos {}; support share {}; top-{} overlap {}; γ∞/γ∞* {}; γ1/γ1* {}; test acc {}{note}",
                    r.name(),
                    series(f.iter().map(|f| f.cosine)),
                    series(f.iter().map(|f| f.support_share)),
                    setup.support,
                    series(f.iter().map(|f| f.overlap)),
                    series(f.iter().map(|f| f.linf_margin)),
                    series(f.iter().map(|f| f.l1_margin)),
                    series(f.iter().map(|f| f.accuracy)),
                ));
            }
        }
        let teacher = setup.figures(&setup.x_star);
        let setting = format!(
            "d = {}, n = {}, teacher {:?} on the first {} features (seed {}), two-sided balanced α = {}, times {:?} \
             (series below in this order); teacher's own γ∞/γ∞* {}, γ1/γ1* {}, test acc {}",
            self.dim,
            self.samples,
            self.teacher,
            setup.support,
            self.seed,
            self.alpha,
            self.times,
            round_sig(teacher.linf_margin, 3),
            round_sig(teacher.l1_margin, 3),
            round_sig(teacher.accuracy, 3),
        );
        let first = &self.depths[0];
        let deepest = self.depths[self.depths.len() - 1];
        let share = |l: usize| figures[at(sign_runs[0], l)][last].support_share;
        let linf = |l: usize| figures[at(sign_runs[0], l)][last].linf_margin;
        let cos = |l: usize| figures[at(sign_runs[0], l)][last].cosine;
        let (gap, gap_depth) = self
            .depths
            .iter()
            .map(|&l| {
                let a = &outcomes[at(sign_runs[0], l)].xs[last];
                let b = &outcomes[at(sign_runs[1], l)].xs[last];
                ((a / a.amax() - b / b.amax()).amax(), l)
            })
            .fold((f64::NEG_INFINITY, 0), |m, v| if v.0 > m.0 { v } else { m });
        let summary = format!(
            "SignGD η at t = {t_end}: support share {} (L = {first}) vs {} (L = {deepest}), cosine with the teacher \
             {} vs {}, γ∞/γ∞* {} vs {}; SignGD at η and η/2 differ in direction by up to {} (L = {gap_depth})",
            round_sig(share(*first), 3),
            round_sig(share(deepest), 3),
            round_sig(cos(*first), 3),
            round_sig(cos(deepest), 3),
            round_sig(linf(*first), 3),
            round_sig(linf(deepest), 3),
            round_sig(gap, 3),
        );
        let all = format!("{setting}. {}", lines.join(". "));
        match self.claim {
            Statement::Observe => rows.insert(
                0,
                Evidence::inconclusive(
                    case,
                    "depth and recovery under sign descent (open)",
                    "SignGD at η and η/2, Adam; figures at every checkpoint",
                    format!(
                        "open: the paper's setup is not public; measured on ours. {summary}; largest decrease \
                         of the support share with depth {} over {compared} trained checkpoints. \
                         The t → ∞ limit is the dense ℓ∞ direction for every L (THEORY §5.3): finite-time figures only. {all}",
                        round_sig(drop, 3)
                    ),
                ),
            ),
            Statement::DepthHelps | Statement::DepthHurts => {
                let helps = self.claim == Statement::DepthHelps;
                for r in sign_runs {
                    let (v, n) = depth_violation(&by_depth(r), helps);
                    let quantity = format!(
                        "{}: largest {} of the support share from one depth to the next",
                        r.name(),
                        if helps { "decrease" } else { "increase" }
                    );
                    let route = format!("{n} checkpoints where every depth is trained. {summary}. {all}");
                    rows.insert(0, if n == 0 {
                        Evidence::inconclusive(case, &quantity, &route, "no checkpoint has every depth trained")
                    } else {
                        Evidence::with_error(case, &quantity, 0.0, v, v, tol.ties, &route)
                    });
                }
            }
        }
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> DepthMargin {
        DepthMargin {
            dim: 12,
            samples: 20,
            test_samples: 50,
            seed: 3,
            teacher: vec![1.0, -0.5],
            alpha: 0.1,
            depths: vec![1, 2, 3],
            lr: 3e-3,
            times: vec![0.5, 1.0],
            eps: 1e-8,
            exponent_shift: 0.0,
            claim: Statement::Observe,
        }
    }

    #[test]
    fn identity_holds_along_signgd_and_a_wrong_exponent_breaks_it() {
        let c = base();
        let setup = c.setup().unwrap();
        for depth in [1, 2, 3, 4] {
            let model = DeepDiagonal::two_sided(depth, c.dim);
            let (xs, id) = signgd_with_identity(&setup.log_problem, &model, 0.1, 3e-3, &[100, 300], 0.0).unwrap();
            assert_eq!(xs.len(), 2);
            // rounding only: both routes sum the same ±η increments
            assert!(id.error < 1e-12 && id.compared >= 12 * 30, "L = {depth}: {id:?}");
            let (_, wrong) = signgd_with_identity(&setup.log_problem, &model, 0.1, 3e-3, &[300], -1.0).unwrap();
            assert!(wrong.error > 1e-2, "L = {depth}: {wrong:?}");
        }
        // depth 1 is the plain linear model x = w⁺ − w⁻ (the identity above reads x_j = 2z_j there)
        let model = DeepDiagonal::two_sided(1, 3);
        let w = DVector::from_vec(vec![0.5, -1.0, 2.0, 0.25, 1.0, -3.0]);
        assert_eq!(model.x(&w), DVector::from_vec(vec![0.25, -2.0, 5.0]));
    }

    #[test]
    fn figures_of_the_teacher_and_a_dense_vector() {
        let setup = base().setup().unwrap();
        let t = setup.figures(&setup.x_star);
        assert!((t.cosine - 1.0).abs() < 1e-15 && t.support_share == 1.0 && t.overlap == 1.0 && t.accuracy == 1.0);
        assert!(t.linf_margin <= 1.0 + 1e-7 && t.l1_margin <= 1.0 + 1e-7);
        let dense = setup.figures(&DVector::from_element(12, 1.0));
        assert!((dense.support_share - 2.0 / 12.0).abs() < 1e-15);
    }

    #[test]
    fn depth_violation_reads_the_trained_checkpoints() {
        let f = |s: f64, trained: bool| Figures {
            cosine: 0.0,
            support_share: s,
            overlap: 0.0,
            linf_margin: 0.0,
            l1_margin: 0.0,
            accuracy: 0.0,
            trained,
        };
        // checkpoint 0 untrained (ignored), checkpoint 1: 0.2 → 0.5 → 0.4
        let figs =
            vec![vec![f(0.9, false), f(0.2, true)], vec![f(0.1, true), f(0.5, true)], vec![f(0.1, true), f(0.4, true)]];
        assert_eq!(depth_violation(&figs, true), (0.09999999999999998, 1));
        assert_eq!(depth_violation(&figs, false), (0.3, 1));
    }

    #[test]
    fn bad_parameters_name_the_field() {
        let key = |c: DepthMargin| c.validate().unwrap_err().location;
        assert_eq!(key(DepthMargin { dim: 1, ..base() }), "dim");
        assert_eq!(key(DepthMargin { teacher: vec![], ..base() }), "teacher");
        assert_eq!(key(DepthMargin { teacher: vec![1.0, 0.0], ..base() }), "teacher");
        assert_eq!(key(DepthMargin { depths: vec![2, 1], ..base() }), "depths");
        assert_eq!(key(DepthMargin { depths: vec![0, 1], ..base() }), "depths");
        assert_eq!(key(DepthMargin { lr: 1e-9, ..base() }), "lr");
        assert_eq!(key(DepthMargin { times: vec![1.0, 0.5], ..base() }), "times");
        assert_eq!(key(DepthMargin { times: vec![1e-4], ..base() }), "times");
        assert_eq!(key(DepthMargin { alpha: 0.0, ..base() }), "alpha");
        assert_eq!(key(DepthMargin { exponent_shift: f64::NAN, ..base() }), "exponent_shift");
        assert!(base().validate().is_ok());
    }
}
