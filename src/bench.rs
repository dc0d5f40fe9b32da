//! `mirrorflow bench`: performance as ratios measured in the same process against a baseline.

use crate::flow::{Flow, SteepestFlow, WeightDecay};
use crate::geometry::sign;
use crate::ode::{integrate, Method, Settings};
use crate::problem::Problem;
use crate::reparam::{DeepDiagonal, Initialization, Reparameterization};
use nalgebra::DVector;
use ode_solvers::{Rk4, System};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// One benchmark line: a baseline and our method, with their costs.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Line {
    /// What is compared.
    pub name: String,
    /// The baseline and its cost.
    pub baseline: String,
    /// Our method and its cost.
    pub ours: String,
    /// Baseline RHS evaluations / ours (or another count ratio).
    pub count_ratio: f64,
    /// Baseline wall time / ours.
    pub time_ratio: f64,
}

struct Plain<'a>(&'a (dyn Fn(&DVector<f64>) -> DVector<f64> + Sync), &'a AtomicU64);

impl System<f64, DVector<f64>> for Plain<'_> {
    fn system(&self, _t: f64, y: &DVector<f64>, dy: &mut DVector<f64>) {
        self.1.fetch_add(1, Ordering::Relaxed);
        *dy = (self.0)(y);
    }
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let start = Instant::now();
    let v = f();
    (v, start.elapsed().as_secs_f64())
}

/// The integrator wrapper (Dop853, rtol 1e−9) against fixed-step RK4 at equal accuracy, on GF for
/// u⊙v regression (d = 10, n = 5, α = 0.3) to t = 20; the reference is the wrapper at rtol 1e−13.
pub fn integrator_vs_rk4() -> Line {
    let problem = Problem::random_regression(1, 5, 10, 0);
    let model = DeepDiagonal::new(2, 10);
    let w0 = model.init(&Initialization::balanced(0.3, 2), 2.0).expect("valid init");
    let flow = SteepestFlow { problem: &problem, model: &model, q: 2.0, decay: WeightDecay::None };
    let t_end = 20.0;
    let reference = flow
        .run(&w0, &[t_end], None, &Settings { rtol: 1e-13, atol: 1e-15, ..Settings::default() })
        .expect("reference run");
    let x_ref = model.x(reference.last());
    let settings = Settings { rtol: 1e-9, atol: 1e-12, method: Method::Dop853, ..Settings::default() };
    let (ours, t_ours) = timed(|| flow.run(&w0, &[t_end], None, &settings).expect("wrapper run"));
    let err_ours = (model.x(ours.last()) - &x_ref).norm();
    let velocity = |w: &DVector<f64>| flow.velocity(w);
    let mut n = 64;
    loop {
        let counter = AtomicU64::new(0);
        let (end, t_rk4) = timed(|| {
            let mut rk4 = Rk4::new(Plain(&velocity, &counter), 0.0, w0.clone(), t_end, t_end / n as f64);
            rk4.integrate().expect("rk4");
            rk4.y_out().last().expect("rk4 output").clone()
        });
        let err = (model.x(&end) - &x_ref).norm();
        if err <= err_ours || n >= 1 << 22 {
            let evals = counter.load(Ordering::Relaxed);
            return Line {
                name: "integrator wrapper vs fixed-step RK4 (equal accuracy)".into(),
                baseline: format!("RK4 {n} steps: {evals} rhs, error {err:.1e}, {:.2} ms", t_rk4 * 1e3),
                ours: format!(
                    "Dop853 rtol 1e-9: {} rhs, error {err_ours:.1e}, {:.2} ms",
                    ours.stats.rhs_evals,
                    t_ours * 1e3
                ),
                count_ratio: evals as f64 / ours.stats.rhs_evals as f64,
                time_ratio: t_rk4 / t_ours,
            };
        }
        n *= 2;
    }
}

/// The switched (Filippov) sign-flow integrator against plain Dopri5 on the discontinuous field
/// `ẇ = −sign(∇F)` (SignGF on λ-balanced u⊙v, t ∈ [0, 3]).
pub fn switching_vs_naive() -> Line {
    let problem = Problem::random_regression(1, 5, 10, 0);
    let model = DeepDiagonal::new(2, 10);
    let w0 = model.init(&Initialization::lambda(0.3, 2, 0.5), 1.0).expect("valid init");
    let flow = SteepestFlow { problem: &problem, model: &model, q: 1.0, decay: WeightDecay::None };
    let settings =
        Settings { rtol: 1e-6, atol: 1e-9, method: Method::Dopri5, max_steps: 100_000, h_max: 0.0, stiff_after: 0 };
    let (ours, t_ours) = timed(|| flow.run(&w0, &[3.0], None, &settings).expect("switched run"));
    let counter = AtomicU64::new(0);
    let rhs = |_t: f64, w: &DVector<f64>, dw: &mut DVector<f64>| {
        counter.fetch_add(1, Ordering::Relaxed);
        let g = problem.gradient(&model.x(w));
        *dw = model.pullback(w, &g).map(|v| -sign(v));
    };
    let (naive, t_naive) = timed(|| integrate(&rhs, &w0, 0.0, &[3.0], None, &settings));
    let evals = counter.load(Ordering::Relaxed);
    let outcome = match naive {
        Ok(tr) => format!("finished, |Δx| vs switched {:.1e}", (model.x(tr.last()) - model.x(ours.last())).norm()),
        Err(e) => format!("FAILED: {}", e.failure),
    };
    Line {
        name: "sign flow: Filippov switching vs naive Dopri5".into(),
        baseline: format!("naive Dopri5 rtol 1e-6: {evals} rhs, {:.1} ms, {outcome}", t_naive * 1e3),
        ours: format!("switched: {} rhs, {} events, {:.2} ms", ours.stats.rhs_evals, ours.stats.events, t_ours * 1e3),
        count_ratio: evals as f64 / ours.stats.rhs_evals as f64,
        time_ratio: t_naive / t_ours,
    }
}

/// The stiff small-α tail of GF (L = 3, α = 0.01, 3-sparse target, d = 20, n = 8) to t = 2·10⁴:
/// Dop853 alone against Dop853 with the Rosenbrock23 fallback after 40 000 steps.
pub fn stiff_tail() -> Line {
    let problem = Problem::random_regression(11, 8, 20, 3);
    let model = DeepDiagonal::new(3, 20);
    let w0 = model.init(&Initialization::balanced(0.01, 3), 2.0).expect("valid init");
    let flow = SteepestFlow { problem: &problem, model: &model, q: 2.0, decay: WeightDecay::None };
    let t_end = 2e4;
    let explicit = Settings { stiff_after: 0, max_steps: 2_000_000, ..Settings::default() };
    let (a, t_a) = timed(|| flow.run(&w0, &[t_end], None, &explicit));
    let (b, t_b) = timed(|| flow.run(&w0, &[t_end], None, &Settings::default()));
    let describe = |r: &Result<crate::ode::Trajectory, crate::ode::IntegrationFailure>, secs: f64| match r {
        Ok(tr) => format!(
            "{} steps, {} rhs, loss {:.2e}, {:.2} s",
            tr.stats.steps,
            tr.stats.rhs_evals,
            problem.loss(&model.x(tr.last())),
            secs
        ),
        Err(e) => format!("FAILED: {e}"),
    };
    let evals = |r: &Result<crate::ode::Trajectory, crate::ode::IntegrationFailure>| match r {
        Ok(tr) => tr.stats.rhs_evals as f64,
        Err(e) => e.stats.rhs_evals as f64,
    };
    Line {
        name: "stiff GF tail: Dop853 alone vs Dop853 + Rosenbrock23 fallback".into(),
        baseline: format!("Dop853: {}", describe(&a, t_a)),
        ours: format!("with fallback: {}", describe(&b, t_b)),
        count_ratio: evals(&a) / evals(&b),
        time_ratio: t_a / t_b,
    }
}

/// `check --all` (cards only) on a 1-thread pool against a 2-thread pool.
pub fn jobs_scaling(cards: &[crate::claims::Card]) -> Line {
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("thread pool");
        timed(|| pool.install(|| crate::report::build(cards, &|_| {}).map(|r| r.cards.len()))).1
    };
    let one = run(1);
    let two = run(2);
    Line {
        name: "check --all with cards and controls: 1 vs 2 jobs".into(),
        baseline: format!("1 job: {one:.2} s"),
        ours: format!("2 jobs: {two:.2} s"),
        count_ratio: f64::NAN,
        time_ratio: one / two,
    }
}
