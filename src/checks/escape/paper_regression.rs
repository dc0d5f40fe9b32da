//! `escape/paper-regression`: the paper's regression experiment at its scale (d = 300 features,
//! n = 100 samples, a sparse non-negative teacher, balanced one-sided deep diagonal model, mean
//! squared loss). The time to leave the first plateau — the first time the loss falls below a
//! fraction c of its value `f(0)` at the saddle — for GD at a small step η (the GF time) and for
//! SignGD (the SignGF time) and Adam at the same η. Claims:
//! - GD and SignGD at η and η/2 agree (they are discretisations of GF and SignGF);
//! - the α-dependence of both escape times follows THEORY §4's constant-gradient law applied to
//!   every coordinate with the gradient frozen at the saddle, `ẇ_j = φ_q(−g_j(0)) |w_j|^{(L−1)(q−1)}`:
//!   GF's grows like ln(1/α) (L = 2) or α^{−(L−2)}, SignGF's does not grow;
//! - the ratio `T_GF/T_SignGF` grows with the depth L.

use super::label;
use crate::checks::{Claim, Numerics};
use crate::discrete::{Method, OptState, Optimizer};
use crate::error::{check_depth, check_positive, check_q, InputError, InputResult};
use crate::escape::LinearEscape;
use crate::flow::WeightDecay;
use crate::problem::{LossScale, Problem};
use crate::reparam::{DeepDiagonal, Initialization, Reparameterization};
use crate::roots::brent;
use crate::verdict::{Evidence, Metric};
use nalgebra::DVector;
use rayon::prelude::*;
use schemars::JsonSchema;
use serde::Deserialize;

/// Most optimizer steps one run may take (a budget).
pub const MAX_STEPS: usize = 10_000_000;

/// Adam's moment decays and ε (the usual defaults of Kingma & Ba 2015).
const ADAM: Method = Method::Adam { beta1: 0.9, beta2: 0.999, eps: 1e-8 };

/// A claimed trend of the ratio T_GF/T_SignGF with depth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Trend {
    /// The ratio grows with L (the paper's observation; THEORY §4).
    Increasing,
    /// The ratio shrinks with L (a wrong claim).
    Decreasing,
}

impl Trend {
    /// +1 increasing, −1 decreasing.
    fn code(self) -> f64 {
        match self {
            Trend::Increasing => 1.0,
            Trend::Decreasing => -1.0,
        }
    }
}

/// The paper's regression at its scale: GF leaves the first plateau far more slowly than SignGF,
/// more so with depth; the α-dependence of both follows the frozen-gradient law of THEORY §4.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PaperRegression {
    /// Depths L ≥ 2, strictly increasing (at least two: the trend is measured between neighbours).
    #[serde(default = "depths")]
    pub depths: Vec<usize>,
    /// Initial scales α ∈ (0, 1), strictly decreasing (at least two: the α-law is measured between
    /// neighbours); balanced init `w_i = α` in every layer and coordinate.
    pub alphas: Vec<f64>,
    /// Step size η > 0 of GD, SignGD and Adam (the discretisation rows rerun GD and SignGD at η/2).
    pub lr: f64,
    /// Loss levels c ∈ (0, 1), strictly decreasing: the k-th escape time is the first time
    /// `f(x) ≤ c_k f(0)`. The first decides (leaving the first plateau); later ones are reported.
    #[serde(default = "levels")]
    pub levels: Vec<f64>,
    /// Number of samples n.
    #[serde(default = "hundred")]
    pub samples: usize,
    /// Number of features d.
    #[serde(default = "three_hundred")]
    pub dim: usize,
    /// Number of non-zero (positive) teacher coordinates.
    #[serde(default = "five")]
    pub sparsity: usize,
    /// Seed of the data (`A_ij ~ N(0, 1)`, teacher entries in [1, 2)).
    #[serde(default = "one")]
    pub seed: u64,
    /// Most steps one optimizer run may take before its escape counts as not reached.
    #[serde(default = "max_steps")]
    pub max_steps: usize,
    /// The q of THEORY §4's constant-gradient law that predicts GF's escape times (theory: 2).
    #[serde(default = "two")]
    pub gf_q: f64,
    /// The q of THEORY §4's constant-gradient law that predicts SignGF's escape times (theory: 1).
    #[serde(default = "one_f")]
    pub signgf_q: f64,
    /// The claimed trend of T_GF/T_SignGF with depth.
    #[serde(default = "increasing")]
    pub ratio_trend: Trend,
}

fn depths() -> Vec<usize> {
    vec![2, 3, 4]
}
fn levels() -> Vec<f64> {
    vec![0.9, 0.5, 0.2]
}
fn hundred() -> usize {
    100
}
fn three_hundred() -> usize {
    300
}
fn five() -> usize {
    5
}
fn one() -> u64 {
    1
}
fn max_steps() -> usize {
    1_000_000
}
fn two() -> f64 {
    2.0
}
fn one_f() -> f64 {
    1.0
}
fn increasing() -> Trend {
    Trend::Increasing
}

/// The tolerances of the paper-regression claim.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PaperRegressionTolerance {
    /// Relative difference of the escape times at η and η/2 (GD and SignGD).
    pub discretisation: f64,
    /// Relative error of GF's escape time and of its α-increment against the frozen-gradient path.
    pub escape: f64,
    /// Absolute error of SignGF's escape time and of its α-increment against the frozen-sign path.
    pub sign_escape: f64,
    /// Smallest |ln(ratio(L')/ratio(L))| that counts as a trend (below it: unresolved).
    pub trend: f64,
}

/// The data: `Problem::random_regression` with the mean squared loss `f = 1/(2n)‖Ax − y‖²`.
fn data(c: &PaperRegression) -> Problem {
    Problem::random_regression(c.seed, c.samples, c.dim, c.sparsity)
        .with_loss_scale(LossScale::Mean)
        .expect("the squared loss has a mean form")
}

/// One coordinate's weight on THEORY §4's constant-gradient path: balanced one-sided weights start
/// at α and follow `ẇ = φ_q(−g ∂x/∂w) = c w^p` with the gradient g frozen, `c = −sign(g)|g|^{q−1}`,
/// `p = (L−1)(q−1)`:
/// - p = 0 (q = 1): `w = α + ct`; a shrinking weight stops at 0 for even L (the even group of
///   factors at 0 is a Filippov sliding mode) and passes through for odd L;
/// - p = 1 (GF, L = 2): `w = α e^{ct}`;
/// - otherwise `w^{1−p} = α^{1−p} + (1−p)ct`, with `w = ∞` past the blow-up (p > 1, c > 0) and `w = 0`
///   once reached (p < 1, c < 0, where ẇ = 0).
pub fn frozen_weight(depth: usize, q: f64, alpha: f64, g: f64, t: f64) -> f64 {
    let c = -g.signum() * g.abs().powf(q - 1.0);
    let p = (depth as f64 - 1.0) * (q - 1.0);
    if g == 0.0 {
        alpha
    } else if p == 0.0 {
        let w = alpha + c * t;
        if depth.is_multiple_of(2) {
            w.max(0.0)
        } else {
            w
        }
    } else if (p - 1.0).abs() < 1e-12 {
        alpha * (c * t).exp()
    } else {
        let b = alpha.powf(1.0 - p) + (1.0 - p) * c * t;
        match (b > 0.0, p > 1.0) {
            (true, _) => b.powf(1.0 / (1.0 - p)),
            (false, true) => f64::INFINITY,
            (false, false) => 0.0,
        }
    }
}

/// The first time the loss along the frozen-gradient path of every coordinate (gradient `g0` at
/// the saddle x = 0, [`frozen_weight`]) falls to `target`. The path is parameterised by the weight
/// w of the fastest coordinate (the largest −g0_j), whose time is THEORY §4's closed form
/// `T(w^L)` ([`LinearEscape::closed_form`]); w is scanned geometrically (×1.01) from α to 100 and
/// the first crossing located by Brent in w.
fn frozen_escape(
    problem: &Problem,
    g0: &DVector<f64>,
    depth: usize,
    q: f64,
    alpha: f64,
    target: f64,
) -> Result<f64, String> {
    let (lead, top) = g0.iter().enumerate().fold((0, 0.0), |(j, m), (k, g)| if -g > m { (k, -g) } else { (j, m) });
    if top <= 0.0 {
        return Err("no coordinate has a negative gradient at the saddle: nothing escapes".into());
    }
    let time = |w: f64| LinearEscape { depth, q, gamma: top, level: w.powi(depth as i32) }.closed_form(alpha);
    let gap = |w: f64| {
        let t = time(w);
        let x = DVector::from_fn(g0.len(), |j, _| {
            let wj = if j == lead { w } else { frozen_weight(depth, q, alpha, g0[j], t) };
            wj.powi(depth as i32)
        });
        problem.loss(&x) - target
    };
    if gap(alpha) <= 0.0 {
        return Err(format!("the loss starts at or below the level {target:.4e}"));
    }
    let mut w = alpha;
    while w < 100.0 {
        let next = w * 1.01;
        if gap(next) <= 0.0 {
            let root = brent(gap, w, next, 1e-13 * next).map_err(|e| e.to_string())?;
            return Ok(time(root));
        }
        w = next;
    }
    Err(format!("the frozen path does not reach the level {target:.4e}"))
}

/// An optimizer run: the first (interpolated) times at which the loss reaches each target.
struct Run {
    /// Crossing time per target (None: not reached within the step budget).
    times: Vec<Option<f64>>,
    /// Steps taken.
    steps: u64,
}

/// Runs `method` at step η from `w0` until the loss reaches every target (decreasing) or
/// `max_steps`. The crossing of target τ between steps k−1 and k is placed at
/// `η(k − 1 + (f_{k−1} − τ)/(f_{k−1} − f_k))` (linear interpolation of the loss in time).
fn crossings(
    problem: &Problem,
    model: &DeepDiagonal,
    w0: &DVector<f64>,
    method: Method,
    eta: f64,
    targets: &[f64],
    max_steps: usize,
) -> Run {
    let opt = Optimizer { method, lr: eta, decay: WeightDecay::None };
    let mut s = OptState::new(w0);
    let mut times = vec![None; targets.len()];
    let mut before = problem.loss(&model.x(w0));
    let mut next = 0;
    while next < targets.len() && (s.k as usize) < max_steps {
        opt.step(problem, model, &mut s);
        let f = problem.loss(&model.x(&s.w));
        while next < targets.len() && f <= targets[next] {
            let share = (before - targets[next]) / (before - f);
            times[next] = Some(eta * (s.k as f64 - 1.0 + share));
            next += 1;
        }
        before = f;
    }
    Run { times, steps: s.k }
}

/// The runs behind one (L, α): GD and SignGD at η (every level) and at η/2 (the first level),
/// Adam at η (every level).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Job {
    Gd,
    GdHalf,
    Sign,
    SignHalf,
    Adam,
}

const JOBS: [Job; 5] = [Job::Gd, Job::GdHalf, Job::Sign, Job::SignHalf, Job::Adam];

/// Richardson's extrapolation `2T(η/2) − T(η)` of a first-order method's time to η → 0.
fn richardson(at_eta: f64, at_half: f64) -> f64 {
    2.0 * at_half - at_eta
}

impl PaperRegression {
    fn model(&self, depth: usize) -> DeepDiagonal {
        DeepDiagonal::new(depth, self.dim)
    }

    fn start(&self, depth: usize, alpha: f64) -> InputResult<DVector<f64>> {
        self.model(depth).init(&Initialization::balanced(alpha, depth), 2.0)
    }
}

impl Claim for PaperRegression {
    const ID: &'static str = "escape/paper-regression";
    type Tolerance = PaperRegressionTolerance;

    fn validate(&self) -> InputResult<()> {
        if self.depths.len() < 2 {
            return Err(InputError::new("depths", "give at least two depths: the trend is measured between them"));
        }
        for &l in &self.depths {
            if check_depth("depths", l as i64)? < 2 {
                return Err(InputError::new("depths", "the saddle at 0 needs depth L ≥ 2"));
            }
        }
        if self.depths.windows(2).any(|w| w[1] <= w[0]) {
            return Err(InputError::new("depths", "must increase strictly"));
        }
        if self.alphas.len() < 2 {
            return Err(InputError::new("alphas", "give at least two scales: the α-law is measured between them"));
        }
        for &a in &self.alphas {
            check_positive("alphas", a)?;
            if a >= 1.0 {
                return Err(InputError::new("alphas", "each α must lie in (0, 1)"));
            }
        }
        if self.alphas.windows(2).any(|w| w[1] >= w[0]) {
            return Err(InputError::new("alphas", "must decrease strictly"));
        }
        check_positive("lr", self.lr)?;
        if self.levels.is_empty() || self.levels.iter().any(|c| !(c.is_finite() && *c > 0.0 && *c < 1.0)) {
            return Err(InputError::new("levels", "give loss fractions c ∈ (0, 1)"));
        }
        if self.levels.windows(2).any(|w| w[1] >= w[0]) {
            return Err(InputError::new("levels", "must decrease strictly"));
        }
        crate::problem::check_size(self.samples, self.dim)?;
        if self.sparsity == 0 || self.sparsity > self.dim {
            return Err(InputError::new("sparsity", format!("must lie in [1, dim = {}]", self.dim)));
        }
        if self.max_steps == 0 || self.max_steps > MAX_STEPS {
            return Err(InputError::new("max_steps", format!("must lie in [1, {MAX_STEPS}]")));
        }
        check_q("gf_q", self.gf_q)?;
        check_q("signgf_q", self.signgf_q)?;
        // the budget: GD's plateau at the deepest L and smallest α is about THEORY §4's closed form
        // with the largest −∇f(0)_j (level 1); at η/2 it takes twice the steps
        let problem = data(self);
        let g0 = problem.gradient(&DVector::zeros(self.dim));
        let gamma = g0.iter().fold(0.0_f64, |m, g| m.max(-g));
        let (deep, small) = (self.depths[self.depths.len() - 1], self.alphas[self.alphas.len() - 1]);
        let plateau = LinearEscape { depth: deep, q: 2.0, gamma, level: 1.0 }.closed_form(small);
        let needed = 2.0 * plateau / self.lr;
        if needed.is_nan() || needed > self.max_steps as f64 {
            return Err(InputError::new(
                "max_steps",
                format!("GD at η/2 needs about {needed:.2e} steps at L = {deep}, α = {small:e}, over max_steps"),
            ));
        }
        let f0 = problem.loss(&DVector::zeros(self.dim));
        for &l in &self.depths {
            for &a in &self.alphas {
                let x0 = self.model(l).x(&self.start(l, a)?);
                if problem.loss(&x0) <= self.levels[0] * f0 {
                    return Err(InputError::new(
                        "levels",
                        format!(
                            "at L = {l}, α = {a:e} the loss starts below {} f(0): no plateau to leave",
                            self.levels[0]
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    fn evidence(&self, case: &str, tol: &PaperRegressionTolerance, _: &Numerics) -> InputResult<Vec<Evidence>> {
        let problem = data(self);
        let g0 = problem.gradient(&DVector::zeros(self.dim));
        let f0 = problem.loss(&DVector::zeros(self.dim));
        let targets: Vec<f64> = self.levels.iter().map(|c| c * f0).collect();
        let eta = self.lr;
        // every optimizer run, in parallel
        let mut tasks = Vec::new();
        for &l in &self.depths {
            for &a in &self.alphas {
                for job in JOBS {
                    tasks.push((l, a, job));
                }
            }
        }
        let runs: Vec<InputResult<Run>> = tasks
            .par_iter()
            .map(|&(l, a, job)| {
                let w0 = self.start(l, a)?;
                let (method, step, all) = match job {
                    Job::Gd => (Method::Gd, eta, true),
                    Job::GdHalf => (Method::Gd, eta / 2.0, false),
                    Job::Sign => (Method::SignGd, eta, true),
                    Job::SignHalf => (Method::SignGd, eta / 2.0, false),
                    Job::Adam => (ADAM, eta, true),
                };
                let aims = if all { &targets[..] } else { &targets[..1] };
                Ok(crossings(&problem, &self.model(l), &w0, method, step, aims, self.max_steps))
            })
            .collect();
        let mut measured = std::collections::HashMap::new();
        for (task, run) in tasks.iter().zip(runs) {
            let (l, a, job) = *task;
            measured.insert((l, a.to_bits(), job as u8), run?);
        }
        let run = |l: usize, a: f64, job: Job| &measured[&(l, a.to_bits(), job as u8)];
        let first = |l: usize, a: f64, job: Job| run(l, a, job).times[0];
        let reached = |r: &Run| format!("a run of {} steps", r.steps);

        // the frozen-gradient predictions per (L, α, q), each computed once
        let mut keys = Vec::new();
        for &l in &self.depths {
            for &a in &self.alphas {
                for q in [self.gf_q, self.signgf_q] {
                    keys.push((l, a, q));
                }
            }
        }
        let frozen: std::collections::HashMap<(usize, u64, u64), Result<f64, String>> = keys
            .par_iter()
            .map(|&(l, a, q)| ((l, a.to_bits(), q.to_bits()), frozen_escape(&problem, &g0, l, q, a, targets[0])))
            .collect();
        let predict = |l: usize, a: f64, q: f64| frozen[&(l, a.to_bits(), q.to_bits())].clone();

        let mut rows = Vec::new();
        let c0 = self.levels[0];
        let level_name = |c: f64| format!("f ≤ {c} f(0)");
        let euler = "first crossing interpolated between iterates";
        // flow times (Richardson) per (L, α), for the α-law and trend rows
        let mut gf = std::collections::HashMap::new();
        let mut sign = std::collections::HashMap::new();
        for &l in &self.depths {
            for &a in &self.alphas {
                let here = label(case, &format!("L={l} α={a}"));
                // 1. discretisation: η and η/2 agree (first-order methods)
                for (name, full, half, slot) in
                    [("GD", Job::Gd, Job::GdHalf, &mut gf), ("SignGD", Job::Sign, Job::SignHalf, &mut sign)]
                {
                    let quantity = format!("{name}: time to {} at η = {eta} vs η/2", level_name(c0));
                    let route = format!(
                        "{name} at η and η/2 ({}, {}), {euler}",
                        reached(run(l, a, full)),
                        reached(run(l, a, half))
                    );
                    match (first(l, a, full), first(l, a, half)) {
                        (Some(t1), Some(t2)) => {
                            rows.push(Evidence::compare(
                                &here,
                                &quantity,
                                t2,
                                t1,
                                tol.discretisation,
                                Metric::Relative,
                                &route,
                            ));
                            slot.insert((l, a.to_bits()), richardson(t1, t2));
                        }
                        _ => rows.push(Evidence::inconclusive(
                            &here,
                            &quantity,
                            &route,
                            format!("the level was not reached within max_steps = {}", self.max_steps),
                        )),
                    }
                }
                // 2. the frozen-gradient law of THEORY §4, per coordinate
                for (name, q, slot, tolerance, metric) in [
                    ("GF", self.gf_q, &gf, tol.escape, Metric::Relative),
                    ("SignGF", self.signgf_q, &sign, tol.sign_escape, Metric::Absolute),
                ] {
                    let Some(&t) = slot.get(&(l, a.to_bits())) else { continue };
                    let quantity = format!("{name}: time to {} (η → 0)", level_name(c0));
                    let route = format!("frozen-gradient path, q = {q} (Brent) vs Richardson 2T(η/2) − T(η)");
                    match predict(l, a, q) {
                        Ok(p) => rows.push(Evidence::compare(&here, &quantity, p, t, tolerance, metric, &route)),
                        Err(e) => rows.push(Evidence::inconclusive(&here, &quantity, &route, e)),
                    }
                }
                if let (Some(g), Some(s)) = (gf.get(&(l, a.to_bits())), sign.get(&(l, a.to_bits()))) {
                    rows.push(Evidence::observe(
                        &here,
                        "T_GF/T_SignGF (η → 0)",
                        g / s,
                        "ratio of the Richardson times",
                    ));
                }
                // 3. the optimizers at the same η (the paper's protocol), every level: reported
                for (k, &c) in self.levels.iter().enumerate() {
                    let mut at = |job: Job, name: &str| {
                        let r = run(l, a, job);
                        let quantity = format!("{name} at η: time to {}", level_name(c));
                        match r.times[k] {
                            Some(t) => {
                                rows.push(Evidence::observe(&here, &quantity, t, &format!("{name} iterates, {euler}")))
                            }
                            None => rows.push(Evidence::inconclusive(
                                &here,
                                &quantity,
                                &format!("{name} iterates"),
                                format!("not reached within max_steps = {}", self.max_steps),
                            )),
                        }
                        r.times[k]
                    };
                    at(Job::Adam, "Adam(0.9, 0.999, 1e-8)");
                    if k == 0 {
                        // GD's and SignGD's first-level times at η are the discretisation rows'
                        continue;
                    }
                    let (g, s) = (at(Job::Gd, "GD"), at(Job::Sign, "SignGD"));
                    if let (Some(g), Some(s)) = (g, s) {
                        rows.push(Evidence::observe(
                            &here,
                            &format!("T_GD/T_SignGD at η, {}", level_name(c)),
                            g / s,
                            "ratio",
                        ));
                    }
                }
            }
            // 4. the α-law: the increment of each escape time between neighbouring α
            for pair in self.alphas.windows(2) {
                let (a1, a2) = (pair[0], pair[1]);
                let here = label(case, &format!("L={l} α={a1}→{a2}"));
                for (name, q, slot, tolerance, metric) in [
                    ("GF", self.gf_q, &gf, tol.escape, Metric::Relative),
                    ("SignGF", self.signgf_q, &sign, tol.sign_escape, Metric::Absolute),
                ] {
                    let (Some(t1), Some(t2)) = (slot.get(&(l, a1.to_bits())), slot.get(&(l, a2.to_bits()))) else {
                        continue;
                    };
                    let quantity = format!("{name}: T(α={a2}) − T(α={a1})");
                    let route = format!("frozen-gradient paths, q = {q} vs Richardson times");
                    match (predict(l, a1, q), predict(l, a2, q)) {
                        (Ok(p1), Ok(p2)) => {
                            rows.push(Evidence::compare(&here, &quantity, p2 - p1, t2 - t1, tolerance, metric, &route))
                        }
                        (Err(e), _) | (_, Err(e)) => rows.push(Evidence::inconclusive(&here, &quantity, &route, e)),
                    }
                }
            }
        }
        // 5. the trend of T_GF/T_SignGF with depth, between neighbouring depths
        let claimed = self.ratio_trend.code();
        for pair in self.depths.windows(2) {
            let (l1, l2) = (pair[0], pair[1]);
            for &a in &self.alphas {
                let ratio = |l: usize| match (gf.get(&(l, a.to_bits())), sign.get(&(l, a.to_bits()))) {
                    (Some(g), Some(s)) => Some(g / s),
                    _ => None,
                };
                let here = label(case, &format!("L={l1}→{l2} α={a}"));
                let quantity = "trend of T_GF/T_SignGF with L (+1 grows, −1 shrinks, 0 unresolved)";
                let (Some(r1), Some(r2)) = (ratio(l1), ratio(l2)) else {
                    rows.push(Evidence::inconclusive(&here, quantity, "Richardson times", "a time is missing"));
                    continue;
                };
                let growth = (r2 / r1).ln();
                if !growth.is_finite() {
                    let why = format!("ratio {r1} at L = {l1}, {r2} at L = {l2}: no finite growth");
                    rows.push(Evidence::inconclusive(&here, quantity, "Richardson times", why));
                    continue;
                }
                let code = if growth > tol.trend {
                    1.0
                } else if growth < -tol.trend {
                    -1.0
                } else {
                    0.0
                };
                let route = format!(
                    "ratio {r1:.4} at L = {l1}, {r2:.4} at L = {l2}: ln growth {growth:.3} (|·| ≤ {} unresolved)",
                    tol.trend
                );
                rows.push(Evidence::with_error(&here, quantity, claimed, code, (claimed - code).abs(), 0.5, &route));
            }
        }
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_weight_solves_the_constant_gradient_flow() {
        // ẇ = c w^p by finite differences at t = 0.15 (before any weight reaches 0 or blows up), for GF
        // (p = L − 1), SignGF (p = 0) and q = 1.5
        for (depth, q) in [(2, 2.0), (3, 2.0), (4, 2.0), (3, 1.0), (4, 1.0), (3, 1.5)] {
            for g in [-0.7, 0.4] {
                let (alpha, t, h) = (0.2, 0.15, 1e-6);
                let w = frozen_weight(depth, q, alpha, g, t);
                let dw =
                    (frozen_weight(depth, q, alpha, g, t + h) - frozen_weight(depth, q, alpha, g, t - h)) / (2.0 * h);
                let p = (depth as f64 - 1.0) * (q - 1.0);
                let want = -f64::signum(g) * f64::abs(g).powf(q - 1.0) * w.abs().powf(p);
                assert!((dw - want).abs() < 1e-6 * want.abs().max(1.0), "L={depth} q={q} g={g}: {dw} vs {want}");
                assert_eq!(frozen_weight(depth, q, alpha, g, 0.0), alpha);
            }
        }
        // SignGF, even L: a shrinking weight stays at 0; odd L: it passes through
        assert_eq!(frozen_weight(2, 1.0, 0.1, 1.0, 0.5), 0.0);
        assert!((frozen_weight(3, 1.0, 0.1, 1.0, 0.5) + 0.4).abs() < 1e-15);
        // GF, L = 3: blow-up at α^{−1}/γ
        assert_eq!(frozen_weight(3, 2.0, 0.1, -2.0, 5.01), f64::INFINITY);
        assert!(frozen_weight(3, 2.0, 0.1, -2.0, 4.99).is_finite());
    }

    #[test]
    fn the_leader_time_matches_the_weight_path() {
        // the closed form T(w^L) inverts the fastest coordinate's path
        for (depth, q) in [(2, 2.0), (3, 2.0), (4, 1.0)] {
            let (alpha, g) = (0.1, -1.3);
            let w = frozen_weight(depth, q, alpha, g, 0.2);
            let t = LinearEscape { depth, q, gamma: 1.3, level: w.powi(depth as i32) }.closed_form(alpha);
            assert!((t - 0.2).abs() < 1e-12, "L={depth} q={q}: {t}");
        }
    }
}
