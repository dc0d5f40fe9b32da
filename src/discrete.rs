//! Discrete optimizers on a reparameterized model, with the same `Problem` and
//! `Reparameterization` types as the flows: GD, SignGD, Adam (Adam + L2 for coupled decay),
//! AdamW (decoupled decay), THEORY §1, and mini-batch SGD on the squared loss (seeded, THEORY §5.9).
//! Flow time is `t ≈ η · steps`.

use crate::flow::WeightDecay;
use crate::geometry::steepest_map;
use crate::problem::Problem;
use crate::reparam::Reparameterization;
use crate::rng::SplitMix64;
use crate::schedule::Schedule;
use nalgebra::DVector;

/// One steepest step `w ← w − η φ_q(∇F(w) + μ_c w) − η μ_d w`: GD for q = 2, SignGD for q = 1.
pub fn steepest_step(
    problem: &Problem,
    model: &dyn Reparameterization,
    w: &DVector<f64>,
    q: f64,
    eta: f64,
    decay: WeightDecay,
) -> DVector<f64> {
    let (mu_c, mu_d) = match decay {
        WeightDecay::None => (0.0, 0.0),
        WeightDecay::Coupled(m) => (m, 0.0),
        WeightDecay::Decoupled(m) => (0.0, m),
    };
    let g = problem.gradient(&model.x(w));
    let drive = model.pullback(w, &g) + w * mu_c;
    w - drive.map(|v| steepest_map(q, v)) * eta - w * (eta * mu_d)
}

/// Most optimizer steps one run may take (a budget: a grid point of a card, or `train --steps`).
pub const MAX_STEPS: f64 = 1e8;

/// The update rule of an optimizer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Method {
    /// Gradient descent `w ← w − η d`.
    Gd,
    /// Sign gradient descent `w ← w − η sign(d)`.
    SignGd,
    /// Adam (Kingma & Ba 2015) on the drive d: `m ← β1 m + (1−β1) d`, `v ← β2 v + (1−β2) d²`,
    /// `m̂ = m/(1−β1^k)`, `v̂ = v/(1−β2^k)`, `w ← w − η m̂/(√v̂ + ε)`.
    Adam {
        /// First-moment decay β1 ∈ [0, 1).
        beta1: f64,
        /// Second-moment decay β2 ∈ [0, 1).
        beta2: f64,
        /// ε ≥ 0 (with ε = 0 a zero drive gives a zero step, as sign(0) = 0).
        eps: f64,
    },
    /// Mini-batch SGD on the squared loss `½‖Ax − y‖²`: each step draws `batch` distinct samples
    /// uniformly (the state's seeded generator) and descends along the pullback of
    /// [`minibatch_gradient`], `(n/B) Σ_{k∈batch} a_k (a_kᵀx − y_k)`, an unbiased estimate of `∇f`.
    /// On a problem rescaled by `LossScale::Mean` (A, y divided by √n) the same formula is
    /// `(1/B) Σ a_k r_k` in the original data: the unbiased estimate of the mean loss's gradient.
    Sgd {
        /// Batch size 1 ≤ B ≤ n (clamped into that range).
        batch: usize,
    },
    /// Label-noise GD on the squared loss (THEORY §5.13): each step descends `½‖Ax − (y + σξ)‖²`
    /// with fresh labels, `ξ_i = ±1` with probability ½ each (the state's seeded generator), i.e.
    /// along the pullback of [`noisy_gradient`] `∇f(x) − σAᵀξ`. The noise is added to the labels of
    /// the problem as given (with `LossScale::Mean`, to y/√n).
    LabelNoise {
        /// The noise level σ ≥ 0 (σ = 0 is GD).
        sigma: f64,
    },
}

/// The label-noise gradient `∇f(x) − σAᵀξ` of the squared loss `½‖Ax − (y + σξ)‖²`.
pub fn noisy_gradient(problem: &Problem, x: &DVector<f64>, sigma: f64, xi: &DVector<f64>) -> DVector<f64> {
    problem.gradient(x) - problem.a.tr_mul(xi) * sigma
}

/// Rademacher signs `ξ_i = ±1`, each with probability ½.
pub fn rademacher(rng: &mut SplitMix64, n: usize) -> DVector<f64> {
    DVector::from_fn(n, |_, _| if rng.uniform() < 0.5 { -1.0 } else { 1.0 })
}

/// `B` distinct indices of `0..n`, uniformly at random (a partial Fisher–Yates shuffle).
pub fn draw_batch(rng: &mut SplitMix64, n: usize, b: usize) -> Vec<usize> {
    let b = b.clamp(1, n.max(1));
    let mut idx: Vec<usize> = (0..n).collect();
    for i in 0..b {
        let j = i + ((rng.uniform() * (n - i) as f64) as usize).min(n - i - 1);
        idx.swap(i, j);
    }
    idx.truncate(b);
    idx
}

/// The mini-batch gradient of the squared loss `½‖Ax − y‖²`:
/// `(n/B) Σ_{k∈batch} a_k (a_kᵀx − y_k)` (unbiased for `∇f = Aᵀ(Ax − y)` when the batch is uniform).
pub fn minibatch_gradient(problem: &crate::problem::Problem, x: &DVector<f64>, batch: &[usize]) -> DVector<f64> {
    let n = problem.samples() as f64;
    let mut g = DVector::zeros(problem.dim());
    for &k in batch {
        let row = problem.a.row(k);
        let r = row.dot(&x.transpose()) - problem.y[k];
        g += row.transpose() * r;
    }
    g * (n / batch.len() as f64)
}

/// An optimizer: update rule, step size η and weight decay. The drive is `d = ∇F(w) + μ_c w`
/// (coupled: Adam + L2), and decoupled decay subtracts `η μ_d w` after the update (AdamW:
/// `w ← w − η m̂/(√v̂+ε) − η μ w`, the old w in both terms).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Optimizer {
    /// The update rule.
    pub method: Method,
    /// Step size η > 0.
    pub lr: f64,
    /// Weight decay.
    pub decay: WeightDecay,
}

/// The iterate of an optimizer with its moment estimates.
#[derive(Debug, Clone, PartialEq)]
pub struct OptState {
    /// The parameters w.
    pub w: DVector<f64>,
    /// First moment m (Adam).
    pub m: DVector<f64>,
    /// Second moment v (Adam).
    pub v: DVector<f64>,
    /// Steps taken k.
    pub k: u64,
    /// The generator of SGD's batches and of the label noise.
    pub rng: SplitMix64,
    /// The batch SGD drew at its last step (empty for the other methods).
    pub drawn: Vec<usize>,
}

impl OptState {
    /// A fresh state at `w0` (zero moments, generator seed 0).
    pub fn new(w0: &DVector<f64>) -> Self {
        Self::seeded(w0, 0)
    }

    /// A fresh state at `w0` whose SGD batches come from `SplitMix64::new(seed)`.
    pub fn seeded(w0: &DVector<f64>, seed: u64) -> Self {
        Self {
            w: w0.clone(),
            m: DVector::zeros(w0.len()),
            v: DVector::zeros(w0.len()),
            k: 0,
            rng: SplitMix64::new(seed),
            drawn: vec![],
        }
    }
}

impl Optimizer {
    /// AdamW: Adam with decoupled decay μ.
    pub fn adamw(lr: f64, beta1: f64, beta2: f64, eps: f64, mu: f64) -> Self {
        Self { method: Method::Adam { beta1, beta2, eps }, lr, decay: WeightDecay::Decoupled(mu) }
    }

    /// One step in place.
    pub fn step(&self, problem: &Problem, model: &dyn Reparameterization, s: &mut OptState) {
        let (mu_c, mu_d) = match self.decay {
            WeightDecay::None => (0.0, 0.0),
            WeightDecay::Coupled(m) => (m, 0.0),
            WeightDecay::Decoupled(m) => (0.0, m),
        };
        let eta = self.lr;
        s.k += 1;
        let update = match self.method {
            Method::Gd => steepest_step(problem, model, &s.w, 2.0, eta, self.decay),
            Method::SignGd => steepest_step(problem, model, &s.w, 1.0, eta, self.decay),
            Method::Adam { beta1, beta2, eps } => {
                let g = problem.gradient(&model.x(&s.w));
                let d = model.pullback(&s.w, &g) + &s.w * mu_c;
                s.m = &s.m * beta1 + &d * (1.0 - beta1);
                s.v = &s.v * beta2 + d.map(|v| v * v) * (1.0 - beta2);
                let c1 = 1.0 - beta1.powi(s.k as i32);
                let c2 = 1.0 - beta2.powi(s.k as i32);
                let dir = DVector::from_fn(d.len(), |j, _| {
                    let (mh, vh) = (s.m[j] / c1, s.v[j] / c2);
                    let den = vh.sqrt() + eps;
                    if den == 0.0 {
                        0.0
                    } else {
                        mh / den
                    }
                });
                &s.w - dir * eta - &s.w * (eta * mu_d)
            }
            Method::Sgd { batch } => {
                s.drawn = draw_batch(&mut s.rng, problem.samples(), batch);
                let g = minibatch_gradient(problem, &model.x(&s.w), &s.drawn);
                let drive = model.pullback(&s.w, &g) + &s.w * mu_c;
                &s.w - drive * eta - &s.w * (eta * mu_d)
            }
            Method::LabelNoise { sigma } => {
                let xi = rademacher(&mut s.rng, problem.samples());
                let g = noisy_gradient(problem, &model.x(&s.w), sigma, &xi);
                let drive = model.pullback(&s.w, &g) + &s.w * mu_c;
                &s.w - drive * eta - &s.w * (eta * mu_d)
            }
        };
        s.w = update;
    }

    /// Runs `steps` steps from `w0`.
    pub fn run(&self, problem: &Problem, model: &dyn Reparameterization, w0: &DVector<f64>, steps: usize) -> OptState {
        let mut s = OptState::new(w0);
        for _ in 0..steps {
            self.step(problem, model, &mut s);
        }
        s
    }
}

/// An optimizer whose step size and label noise follow schedules over a run of K steps: step
/// k + 1 uses `η·s_η(k/K)` and, for [`Method::LabelNoise`], `σ·s_σ(k/K)` ([`Schedule`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scheduled {
    /// The optimizer at factor 1.
    pub base: Optimizer,
    /// The step-size schedule.
    pub lr: Schedule,
    /// The label-noise schedule.
    pub noise: Schedule,
    /// The run's length K.
    pub steps: u64,
}

impl Scheduled {
    /// The optimizer of step `k + 1`.
    pub fn at(&self, k: u64) -> Optimizer {
        let mut opt = self.base;
        opt.lr *= self.lr.at_step(k, self.steps);
        if let Method::LabelNoise { sigma } = opt.method {
            opt.method = Method::LabelNoise { sigma: sigma * self.noise.at_step(k, self.steps) };
        }
        opt
    }

    /// One step in place; returns the step size it used.
    pub fn step(&self, problem: &Problem, model: &dyn Reparameterization, s: &mut OptState) -> f64 {
        let opt = self.at(s.k);
        opt.step(problem, model, s);
        opt.lr
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reparam::{DeepDiagonal, Initialization};

    #[test]
    fn adam_without_memory_is_signgd_step_for_step() {
        // β1 = β2 = 0: m̂ = d, v̂ = d², so m̂/(√v̂ + ε) = d/(|d| + ε) → sign(d) as ε → 0
        let problem = Problem::random_regression(3, 4, 6, 0);
        let model = DeepDiagonal::new(3, 6);
        let w0 = model.init(&Initialization::lambda(0.4, 3, 0.1), 1.0).unwrap();
        for decay in [WeightDecay::None, WeightDecay::Coupled(0.05), WeightDecay::Decoupled(0.05)] {
            let sign = Optimizer { method: Method::SignGd, lr: 0.01, decay };
            // ε = 0 for 300 steps (through the chattering phase): d/|d| is ±1 exactly, so the
            // iterates agree to rounding (1e−15); ε = 1e−12 for the first 30 steps: each step
            // differs by ηε/|d|, bounded here by the smallest drive seen (accumulated in `tol`)
            for (eps, steps) in [(0.0, 300), (1e-12, 30)] {
                let mut tol = 1e-15;
                let adam = Optimizer { method: Method::Adam { beta1: 0.0, beta2: 0.0, eps }, lr: 0.01, decay };
                let (mut a, mut b) = (OptState::new(&w0), OptState::new(&w0));
                for _ in 0..steps {
                    let g = problem.gradient(&model.x(&a.w));
                    let dmin = (model.pullback(&a.w, &g) + &a.w * decay_coupled(decay)).amin();
                    tol += 1.01 * 0.01 * eps / dmin;
                    sign.step(&problem, &model, &mut a);
                    adam.step(&problem, &model, &mut b);
                    assert!((&a.w - &b.w).amax() <= tol, "{decay:?} eps {eps} step {}", b.k);
                }
            }
        }
    }

    fn decay_coupled(d: WeightDecay) -> f64 {
        if let WeightDecay::Coupled(m) = d {
            m
        } else {
            0.0
        }
    }

    #[test]
    fn sgd_with_the_full_batch_is_gd_and_small_batches_are_unbiased() {
        let problem = Problem::random_regression(2, 5, 4, 0);
        let model = DeepDiagonal::new(2, 4);
        let w0 = model.init(&Initialization::balanced(0.5, 2), 2.0).unwrap();
        let gd = Optimizer { method: Method::Gd, lr: 0.01, decay: WeightDecay::None }.run(&problem, &model, &w0, 20);
        let sgd = Optimizer { method: Method::Sgd { batch: 5 }, lr: 0.01, decay: WeightDecay::None };
        let s = sgd.run(&problem, &model, &w0, 20);
        assert!((&gd.w - &s.w).amax() < 1e-14);
        // every batch of distinct indices; the average over all C(5, 2) pairs is the full gradient
        let x = model.x(&w0);
        let mut rng = SplitMix64::new(7);
        for _ in 0..50 {
            let mut b = draw_batch(&mut rng, 5, 2);
            b.sort();
            assert!(b.len() == 2 && b[0] < b[1] && b[1] < 5);
        }
        let mut mean = DVector::zeros(4);
        for i in 0..5 {
            for j in i + 1..5 {
                mean += minibatch_gradient(&problem, &x, &[i, j]) / 10.0;
            }
        }
        assert!((mean - problem.gradient(&x)).amax() < 1e-12);
        // batch 1 at sample k: n·a_k r_k
        let r0 = (problem.a.row(0) * &x)[0] - problem.y[0];
        let g0 = problem.a.row(0).transpose() * (5.0 * r0);
        assert!((minibatch_gradient(&problem, &x, &[0]) - g0).amax() < 1e-14);
    }

    #[test]
    fn gd_matches_the_steepest_step() {
        let problem = Problem::random_regression(2, 3, 4, 0);
        let model = DeepDiagonal::new(2, 4);
        let w0 = model.init(&Initialization::balanced(0.5, 2), 2.0).unwrap();
        let gd = Optimizer { method: Method::Gd, lr: 0.01, decay: WeightDecay::Coupled(0.1) };
        let s = gd.run(&problem, &model, &w0, 1);
        assert_eq!(s.w, steepest_step(&problem, &model, &w0, 2.0, 0.01, WeightDecay::Coupled(0.1)));
    }

    #[test]
    fn label_noise_is_gd_on_relabelled_data_and_unbiased() {
        let problem = Problem::random_regression(4, 3, 5, 2);
        let model = DeepDiagonal::two_sided(2, 5);
        let w0 = model.init(&Initialization::balanced(0.3, 2), 2.0).unwrap();
        // σ = 0 is GD, step for step
        let gd = Optimizer { method: Method::Gd, lr: 0.01, decay: WeightDecay::None };
        let quiet = Optimizer { method: Method::LabelNoise { sigma: 0.0 }, ..gd };
        assert_eq!(gd.run(&problem, &model, &w0, 50).w, quiet.run(&problem, &model, &w0, 50).w);
        // one noisy step is one GD step on the labels y + σξ, with the ξ the generator draws
        let noisy = Optimizer { method: Method::LabelNoise { sigma: 0.7 }, ..gd };
        let mut s = OptState::seeded(&w0, 9);
        noisy.step(&problem, &model, &mut s);
        let xi = rademacher(&mut SplitMix64::new(9), 3);
        let relabelled = Problem { y: &problem.y + &xi * 0.7, ..problem.clone() };
        let mut t = OptState::new(&w0);
        gd.step(&relabelled, &model, &mut t);
        assert!((&s.w - &t.w).amax() < 1e-15);
        // the noise has mean zero: averaging the gradient over ±ξ gives ∇f
        let x = model.x(&w0);
        let mean = (noisy_gradient(&problem, &x, 0.7, &xi) + noisy_gradient(&problem, &x, 0.7, &-&xi)) * 0.5;
        assert!((mean - problem.gradient(&x)).amax() < 1e-14);
        let signs = rademacher(&mut SplitMix64::new(1), 1000);
        assert!(signs.iter().all(|v| v.abs() == 1.0) && signs.sum().abs() < 100.0);
    }

    #[test]
    fn schedules_scale_the_step_and_the_noise() {
        let base = Optimizer { method: Method::LabelNoise { sigma: 2.0 }, lr: 0.1, decay: WeightDecay::None };
        let lr = Schedule::parse("lr", "linear:0.5").unwrap();
        let noise = Schedule::parse("noise", "cosine:0@0.5-1").unwrap();
        let s = Scheduled { base, lr, noise, steps: 10 };
        let late = s.at(10);
        assert!((late.lr - 0.05).abs() < 1e-15);
        assert_eq!(late.method, Method::LabelNoise { sigma: 0.0 });
        assert_eq!(s.at(0), base);
    }
}
