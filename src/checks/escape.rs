//! `saddle-escape`: the "never saddle" claims of THEORY §4, selected by the text parameter `claim`:
//! - `escape-time`: the escape time of the parameter flow (ODE in log-weights, crossing located by
//!   Brent) and the quadrature of the escape integral equal the closed form;
//! - `never-saddle`: the growth exponent `κ = q(L−1) − L` of `dT/d ln(1/α)`, fitted from ODE escape
//!   times over a geometric α sweep, and the regime (bounded iff q < L/(L−1), logarithmic at
//!   equality, power above); the threshold located by Brent bisection in q on the measured
//!   exponent (for L = 2 the threshold is the end of the range, THEORY §8);
//! - `learning-rate`: discrete GD/SignGD: steps to escape ≈ T/η; the smallest step size reaching the
//!   level in K steps (exact for L = 2, THEORY §8) and its growth exponent in α;
//! - `sign-flip`: with a target of the opposite sign, which flows carry x through 0 (THEORY §3);
//! - `plateaus`: saddle-to-saddle plateaus of GF on sparse regression grow like ln(1/α), SignGF's
//!   activation times stay bounded.
//!
//! A claimed `threshold`, `predict_q`, `signgd_exponent`, `rule` or `signgf_regime` different from
//! the theory turns a card into its negative control.

use super::Check;
use super::Tolerances;
use crate::claims::{constraint, CheckSpec, Kind, ParamSpec, Point};
use crate::error::{check_depth, check_positive, check_q, InputError, InputResult};
use crate::escape::{
    discrete_steps, exact_gd_step_depth2, first_passage, fit_line, increment_exponent, min_step_size, parse_alphas,
    LinearEscape, Regime,
};
use crate::flow::{Flow, SteepestFlow, WeightDecay};
use crate::ode::{Settings, Stop};
use crate::problem::Problem;
use crate::reparam::{DeepDiagonal, Initialization, Reparameterization};
use crate::roots::brent;
use crate::verdict::{Evidence, Metric};
use nalgebra::{DMatrix, DVector};

/// The `saddle-escape` check kind.
pub struct EscapeCheck;

const PARAMS: [ParamSpec; 21] = [
    ParamSpec { name: "claim", kind: Kind::Text, valid: constraint::any, doc: "which claim (module docs)" },
    ParamSpec { name: "depth", kind: Kind::Int, valid: constraint::at_least_one, doc: "depth L" },
    ParamSpec { name: "q", kind: Kind::Real, valid: constraint::q, doc: "steepest-descent exponent q ∈ [1, 2]" },
    ParamSpec { name: "qs", kind: Kind::Reals, valid: constraint::q, doc: "never-saddle: the q values classified" },
    ParamSpec { name: "alpha", kind: Kind::Real, valid: constraint::positive, doc: "initial scale α" },
    ParamSpec { name: "alphas", kind: Kind::Text, valid: constraint::any, doc: "geometric sweep first:last:count" },
    ParamSpec { name: "gamma", kind: Kind::Real, valid: constraint::positive, doc: "gradient magnitude γ (1)" },
    ParamSpec { name: "level", kind: Kind::Real, valid: constraint::positive, doc: "escape level x_1 (0.5)" },
    ParamSpec { name: "predict_q", kind: Kind::Real, valid: constraint::q, doc: "q used by the prediction" },
    ParamSpec {
        name: "threshold",
        kind: Kind::Real,
        valid: constraint::positive,
        doc: "claimed threshold q_c (default L/(L−1)); κ = L(q/q_c − 1)",
    },
    ParamSpec { name: "steps", kind: Kind::Int, valid: constraint::at_least_one, doc: "step budget K" },
    ParamSpec { name: "lr", kind: Kind::Real, valid: constraint::positive, doc: "step size η" },
    ParamSpec {
        name: "signgd_exponent",
        kind: Kind::Real,
        valid: constraint::any,
        doc: "claimed growth exponent of SignGD's smallest step (theory: −1, bounded)",
    },
    ParamSpec {
        name: "rule",
        kind: Kind::Text,
        valid: constraint::any,
        doc: "sign-flip: \"theory\" (odd L and q < L/(L−1)), \"always\", \"never\"",
    },
    ParamSpec {
        name: "prediction",
        kind: Kind::Text,
        valid: constraint::any,
        doc: "escape-integral: \"integral\" (default) or \"constant-gradient\" (f' frozen at f'(0))",
    },
    ParamSpec { name: "target", kind: Kind::Real, valid: constraint::any, doc: "sign-flip: the target y" },
    ParamSpec { name: "t_end", kind: Kind::Real, valid: constraint::positive, doc: "horizon" },
    ParamSpec { name: "seed", kind: Kind::Int, valid: constraint::nonnegative, doc: "seed of the sparse problem" },
    ParamSpec { name: "samples", kind: Kind::Int, valid: constraint::at_least_one, doc: "n" },
    ParamSpec { name: "dim", kind: Kind::Int, valid: constraint::at_least_one, doc: "d" },
    ParamSpec {
        name: "signgf_regime",
        kind: Kind::Text,
        valid: constraint::any,
        doc: "plateaus: claimed regime of SignGF's activation times (theory: bounded)",
    },
];

impl Check for EscapeCheck {
    fn spec(&self) -> CheckSpec {
        CheckSpec { params: &PARAMS, tolerances: &["escape"] }
    }

    fn run(&self, p: &Point, case: &str, tol: &Tolerances) -> InputResult<Vec<Evidence>> {
        let claim = p.text_or("claim", "escape-time")?;
        match claim.as_str() {
            "escape-time" => escape_time(p, case, tol),
            "escape-integral" => escape_integral_check(p, case, tol),
            "never-saddle" => never_saddle(p, case, tol),
            "learning-rate" => learning_rate(p, case, tol),
            "sign-flip" => sign_flip(p, case, tol),
            "plateaus" => plateaus(p, case, tol),
            other => Err(InputError::new("parameters.claim", format!("unknown claim '{other}'"))),
        }
    }
}

fn linear_problem(p: &Point, q: f64) -> InputResult<LinearEscape> {
    Ok(LinearEscape {
        depth: check_depth("parameters.depth", p.int("depth")?)?,
        q,
        gamma: check_positive("parameters.gamma", p.real_or("gamma", 1.0)?)?,
        level: check_positive("parameters.level", p.real_or("level", 0.5)?)?,
    })
}

fn alphas(p: &Point, default: &str) -> InputResult<Vec<f64>> {
    parse_alphas(&p.text_or("alphas", default)?).map_err(|m| InputError::new("parameters.alphas", m))
}

/// Tolerance `name` of the card if given, else `escape`.
fn tol_or(tol: &Tolerances, name: &str) -> f64 {
    tol.0.get(name).copied().unwrap_or_else(|| tol.get("escape"))
}

const ODE_ROUTE: &str = "ODE in log-weights (Dop853, rtol 1e-11), crossing by Brent";

fn escape_time(p: &Point, case: &str, tol: &Tolerances) -> InputResult<Vec<Evidence>> {
    let q = check_q("parameters.q", p.real("q")?)?;
    let esc = linear_problem(p, q)?;
    let alpha = check_positive("parameters.alpha", p.real("alpha")?)?;
    let claimed = LinearEscape { q: p.real_or("predict_q", q)?, ..esc };
    let predicted = claimed.closed_form(alpha);
    let route = |r: &str| format!("closed form (THEORY §4) vs {r}");
    let mut rows = vec![Evidence::compare(
        case,
        "escape time: quadrature of the escape integral",
        predicted,
        esc.quadrature(alpha),
        tol.get("escape"),
        Metric::Relative,
        &route("Gauss–Legendre in ln a"),
    )];
    rows.push(match esc.integrated(alpha, &Settings::default()) {
        Ok(run) => Evidence::compare(
            case,
            "escape time: parameter flow",
            predicted,
            run.time,
            tol.get("escape"),
            Metric::Relative,
            &route(ODE_ROUTE),
        )
        .with_stats(run.stats),
        Err(e) => Evidence::inconclusive(case, "escape time: parameter flow", &route(ODE_ROUTE), e.to_string()),
    });
    Ok(rows)
}

/// The general escape integral on the squared loss `f(x) = (x − y)²/2`, `y > x_1` (a target-driven
/// scalar problem, `f'(x) = x − y` no longer constant), against the engine's parameter flow.
fn escape_integral_check(p: &Point, case: &str, tol: &Tolerances) -> InputResult<Vec<Evidence>> {
    let q = check_q("parameters.q", p.real("q")?)?;
    let esc = linear_problem(p, q)?;
    let alpha = check_positive("parameters.alpha", p.real("alpha")?)?;
    let target = p.real("target")?;
    if target <= esc.level {
        return Err(InputError::new("parameters.target", "the target must exceed the level x_1"));
    }
    let predicted = match p.text_or("prediction", "integral")?.as_str() {
        "integral" => crate::escape::escape_integral(esc.depth, q, alpha, esc.level, |x| x - target),
        // the linear-loss closed form with γ = |f'(0)| = y: ignores that the gradient shrinks
        "constant-gradient" => LinearEscape { gamma: target, ..esc }.closed_form(alpha),
        other => return Err(InputError::new("parameters.prediction", format!("unknown prediction '{other}'"))),
    };
    let problem = Problem::new(DMatrix::from_element(1, 1, 1.0), DVector::from_element(1, target), Default::default())?;
    let model = DeepDiagonal::new(esc.depth, 1);
    let w0 = model.init(&Initialization::balanced(alpha, esc.depth), q)?;
    let flow = SteepestFlow { problem: &problem, model: &model, q, decay: WeightDecay::None };
    let level = |w: &DVector<f64>| model.x(w)[0] - esc.level;
    let route = "quadrature of T(α) vs the engine's parameter flow in w (plain coordinates)";
    let quantity = "escape time on the squared loss";
    Ok(vec![match passage(&flow, &w0, &level, 10.0 * predicted + 10.0) {
        Ok(run) => Evidence::compare(case, quantity, predicted, run.time, tol.get("escape"), Metric::Relative, route)
            .with_stats(run.stats),
        Err(e) => Evidence::inconclusive(case, quantity, route, e.to_string()),
    }])
}

/// The growth exponent fitted from ODE escape times over `alphas` (Err: the reason).
fn measured_exponent(esc: &LinearEscape, alphas: &[f64]) -> Result<(f64, Vec<f64>), String> {
    let settings = Settings::default();
    let times: Vec<f64> = alphas
        .iter()
        .map(|&a| esc.integrated(a, &settings).map(|r| r.time).map_err(|e| format!("α = {a:e}: {e}")))
        .collect::<Result<_, _>>()?;
    Ok((increment_exponent(alphas, &times).slope, times))
}

fn regime_code(r: Regime) -> f64 {
    match r {
        Regime::Bounded => -1.0,
        Regime::Logarithmic => 0.0,
        Regime::Power => 1.0,
    }
}

fn never_saddle(p: &Point, case: &str, tol: &Tolerances) -> InputResult<Vec<Evidence>> {
    let esc = linear_problem(p, 2.0)?;
    let l = esc.depth as f64;
    let alphas = alphas(p, "1e-1:1e-2:5")?;
    let q_c = if p.has("threshold") { p.real("threshold")? } else { l / (l - 1.0) };
    let tolerance = tol.get("escape");
    let route = "fit of ln(ΔT/Δln(1/α)) vs ln(1/α), ODE escape times";
    let mut rows = Vec::new();
    for q in p.reals("qs")? {
        let this = LinearEscape { q, ..esc };
        let case = label(case, &format!("q={q}"));
        let predicted = l * (q / q_c - 1.0);
        match measured_exponent(&this, &alphas) {
            Ok((kappa, times)) => {
                rows.push(Evidence::compare(
                    &case,
                    "growth exponent κ of dT/dln(1/α)",
                    predicted,
                    kappa,
                    tolerance,
                    Metric::Absolute,
                    route,
                ));
                // the regime: sign of κ, with |κ| within the tolerance counted as 0 (logarithmic)
                let measured = if kappa.abs() <= tolerance { 0.0 } else { kappa.signum() };
                let want = regime_code(Regime::of_exponent(predicted));
                rows.push(Evidence::with_error(
                    &case,
                    "regime (−1 bounded, 0 logarithmic, 1 power)",
                    want,
                    measured,
                    (want - measured).abs(),
                    0.5,
                    route,
                ));
                if Regime::of_exponent(predicted) == Regime::Logarithmic {
                    // at the threshold T = ln(x1/α^L)/(Lγ^{q−1}): the fitted slope of T vs ln(1/α) is 1/γ^{q−1}
                    let pts: Vec<(f64, f64)> = alphas.iter().zip(&times).map(|(a, t)| ((1.0 / a).ln(), *t)).collect();
                    rows.push(Evidence::compare(
                        &case,
                        "slope of T vs ln(1/α) at the threshold",
                        1.0 / esc.gamma.powf(q - 1.0),
                        fit_line(&pts).slope,
                        tolerance,
                        Metric::Relative,
                        "least-squares fit, ODE escape times",
                    ));
                }
            }
            Err(reason) => rows.push(Evidence::inconclusive(&case, "growth exponent κ of dT/dln(1/α)", route, reason)),
        }
    }
    // the threshold: the root in q of the measured exponent
    let route = "Brent bisection in q on the measured growth exponent";
    let failure = std::cell::RefCell::new(None);
    let kappa = |q: f64| match measured_exponent(&LinearEscape { q, ..esc }, &alphas) {
        Ok((k, _)) => k,
        Err(r) => {
            failure.borrow_mut().get_or_insert(r);
            f64::NAN
        }
    };
    let at_two = kappa(2.0);
    let found = if at_two.abs() <= tolerance {
        Ok(2.0) // L = 2: the threshold is the end of the range (THEORY §8)
    } else {
        brent(&kappa, 1.0, 2.0, 1e-12).map_err(|e| e.to_string())
    };
    let quantity = "threshold q where the growth exponent changes sign";
    rows.push(match (found, failure.into_inner()) {
        (_, Some(r)) => Evidence::inconclusive(case, quantity, route, r),
        (Ok(q_star), None) => Evidence::compare(case, quantity, q_c, q_star, tolerance, Metric::Absolute, route),
        (Err(e), None) => Evidence::inconclusive(case, quantity, route, e),
    });
    Ok(rows)
}

fn learning_rate(p: &Point, case: &str, tol: &Tolerances) -> InputResult<Vec<Evidence>> {
    let gd = linear_problem(p, 2.0)?;
    let sign = LinearEscape { q: 1.0, ..gd };
    let l = gd.depth as f64;
    let alphas = alphas(p, "1e-1:1e-4:4")?;
    let steps = p.int("steps")? as usize;
    let eta = check_positive("parameters.lr", p.real("lr")?)?;
    let tolerance = tol.get("escape");
    let exponent_tol = tol_or(tol, "exponent");
    let mut rows = Vec::new();
    let (mut gd_min, mut sign_min) = (Vec::new(), Vec::new());
    let a1 = gd.level.powf(1.0 / l);
    for &alpha in &alphas {
        let case = label(case, &format!("α={alpha:e}"));
        // steps to escape with a small step η: K η → T (first order in η)
        for (name, prob) in [("GD", &gd), ("SignGD", &sign)] {
            let t = prob.closed_form(alpha);
            let max = (20.0 * t / eta) as usize + 10;
            let quantity = format!("{name}: steps to escape × η vs flow time T");
            let route = format!("{name} iterates (η = {eta}) vs closed form");
            rows.push(match discrete_steps(prob, alpha, eta, max) {
                Some(k) => Evidence::compare(&case, &quantity, t, k as f64 * eta, tolerance, Metric::Relative, &route),
                None => Evidence::inconclusive(&case, &quantity, &route, format!("no escape within {max} steps")),
            });
        }
        // the smallest step size that escapes within K steps
        let route = format!("root of η ↦ x_K(η) − x_1 (K = {steps}) vs exact");
        match (min_step_size(&gd, alpha, steps), min_step_size(&sign, alpha, steps)) {
            (Ok(g), Ok(s)) => {
                if gd.depth == 2 {
                    let exact = exact_gd_step_depth2(alpha, gd.gamma, gd.level, steps);
                    let quantity = "GD: smallest step size, L = 2 (THEORY §8)";
                    rows.push(Evidence::compare(&case, quantity, exact, g, 1e-9, Metric::Relative, &route));
                }
                let exact = (a1 - alpha) / steps as f64;
                let quantity = "SignGD: smallest step size (x_1^{1/L} − α)/K";
                rows.push(Evidence::compare(&case, quantity, exact, s, 1e-9, Metric::Relative, &route));
                gd_min.push(g);
                sign_min.push(s);
            }
            (Err(e), _) | (_, Err(e)) => {
                rows.push(Evidence::inconclusive(&case, "smallest step size", &route, e.to_string()))
            }
        }
    }
    if gd_min.len() == alphas.len() {
        let route = "fit of ln(Δη/Δln(1/α)) vs ln(1/α) over the α sweep";
        let gd_kappa = increment_exponent(&alphas, &gd_min).slope;
        rows.push(Evidence::compare(
            case,
            "GD: growth exponent of the smallest step size (L − 2)",
            l - 2.0,
            gd_kappa,
            exponent_tol,
            Metric::Absolute,
            route,
        ));
        let sign_kappa = increment_exponent(&alphas, &sign_min).slope;
        rows.push(Evidence::compare(
            case,
            "SignGD: growth exponent of the smallest step size",
            p.real_or("signgd_exponent", -1.0)?,
            sign_kappa,
            exponent_tol,
            Metric::Absolute,
            route,
        ));
    }
    Ok(rows)
}

/// Runs a flow from `w0` until `level(w) ≥ 0` within `horizon`, by [`first_passage`].
fn passage(
    flow: &dyn Flow,
    w0: &DVector<f64>,
    level: &dyn Fn(&DVector<f64>) -> f64,
    horizon: f64,
) -> Result<crate::escape::Passage, crate::escape::PassageError> {
    let advance = |y: &DVector<f64>, dt: f64, stop: Option<&Stop<'_>>, s: &Settings| flow.run(y, &[dt], stop, s);
    first_passage(&advance, w0, level, horizon, &Settings::default())
}

fn sign_flip(p: &Point, case: &str, tol: &Tolerances) -> InputResult<Vec<Evidence>> {
    let depth = check_depth("parameters.depth", p.int("depth")?)?;
    let q = check_q("parameters.q", p.real("q")?)?;
    let alpha = check_positive("parameters.alpha", p.real("alpha")?)?;
    let target = p.real_or("target", -0.5)?;
    if target >= 0.0 {
        return Err(InputError::new("parameters.target", "the sign-flip claim needs a negative target"));
    }
    let t_end = p.real("t_end")?;
    let theory = depth % 2 == 1 && crate::geometry::mirror_exponent(depth, q) < 1.0;
    let predicted = match p.text_or("rule", "theory")?.as_str() {
        "theory" => theory,
        "always" => true,
        "never" => false,
        other => return Err(InputError::new("parameters.rule", format!("unknown rule '{other}'"))),
    };
    let problem = Problem::new(DMatrix::from_element(1, 1, 1.0), DVector::from_element(1, target), Default::default())?;
    let model = DeepDiagonal::new(depth, 1);
    let w0 = model.init(&Initialization::balanced(alpha, depth), q)?;
    let flow = SteepestFlow { problem: &problem, model: &model, q, decay: WeightDecay::None };
    let route =
        if q == 1.0 { "SignGF parameter flow in w (switched, Filippov)" } else { "parameter flow in w (Dop853)" };
    let settings = Settings::default();
    let end = match flow.run(&w0, &[t_end], None, &settings) {
        Ok(tr) => tr,
        Err(e) => return Ok(vec![Evidence::inconclusive(case, "sign of x at t_end", route, e.to_string())]),
    };
    let x_end = model.x(end.last())[0];
    let crossed = x_end < 0.0;
    let code = |b: bool| if b { 1.0 } else { 0.0 };
    let mut rows = vec![Evidence::with_error(
        case,
        "x crosses 0 (1) or keeps its sign (0) by t_end",
        code(predicted),
        code(crossed),
        (code(predicted) - code(crossed)).abs(),
        0.5,
        route,
    )
    .with_stats(end.stats)];
    if theory && crossed {
        // the mirror route: the dual variable z = R'(x) of the balanced potential, ż = −φ_q(f'(x))
        let potential = crate::potential::Balanced::new(depth, q);
        let mirror = crate::flow::MirrorFlow { problem: &problem, potential: &potential, q };
        let x0 = DVector::from_element(1, alpha.powi(depth as i32));
        let level = |z: &DVector<f64>| -mirror.predictor(z)[0];
        let mroute = "mirror flow in the dual variable z = R'(x) (switched)";
        // MirrorFlow::run starts from a predictor x; its trajectory holds dual states
        let advance = |y: &DVector<f64>, dt: f64, stop: Option<&Stop<'_>>, s: &Settings| {
            mirror.run(&mirror.predictor(y), &[dt], stop, s)
        };
        rows.push(match first_passage(&advance, &mirror.state(&x0), &level, t_end, &settings) {
            Ok(run) => Evidence::compare(
                case,
                "time x reaches 0 (= α), mirror route",
                alpha,
                run.time,
                tol.get("escape"),
                Metric::Relative,
                mroute,
            )
            .with_stats(run.stats),
            Err(e) => Evidence::inconclusive(case, "time x reaches 0 (= α), mirror route", mroute, e.to_string()),
        });
        // SignGF, odd L: the dual variable z = R'(x) = α at t = 0 falls at unit rate (THEORY §3):
        // x reaches 0 at exactly t = α
        let level = |w: &DVector<f64>| -model.x(w)[0];
        rows.push(match passage(&flow, &w0, &level, t_end) {
            Ok(run) => Evidence::compare(
                case,
                "time x reaches 0 (= α)",
                alpha,
                run.time,
                tol.get("escape"),
                Metric::Relative,
                route,
            )
            .with_stats(run.stats),
            Err(e) => Evidence::inconclusive(case, "time x reaches 0 (= α)", route, e.to_string()),
        });
    }
    Ok(rows)
}

/// `case` and `more`, space-separated (either may be empty).
fn label(case: &str, more: &str) -> String {
    [case, more].iter().filter(|s| !s.is_empty()).copied().collect::<Vec<_>>().join(" ")
}

/// Successive activation times of a flow on a regression: the k-th is the first time a coordinate
/// not yet active reaches `|x_j| ≥ θ` (located by [`first_passage`] from the previous crossing).
fn activation_times(
    flow: &dyn Flow,
    w0: &DVector<f64>,
    theta: f64,
    count: usize,
    horizon: f64,
) -> Result<(Vec<f64>, crate::ode::Stats), String> {
    let model_x = |w: &DVector<f64>| flow.predictor(w);
    let (mut w, mut t, mut active, mut times) = (w0.clone(), 0.0, Vec::<usize>::new(), Vec::new());
    let mut stats = crate::ode::Stats::default();
    for _ in 0..count {
        let act = active.clone();
        let level = move |w: &DVector<f64>| {
            let x = model_x(w);
            (0..x.len()).filter(|j| !act.contains(j)).map(|j| x[j].abs()).fold(f64::NEG_INFINITY, f64::max) - theta
        };
        let run = passage(flow, &w, &level, horizon - t).map_err(|e| format!("activation {}: {e}", times.len() + 1))?;
        stats += run.stats;
        t += run.time;
        let x = flow.predictor(&run.state);
        let j = (0..x.len()).filter(|j| !active.contains(j)).max_by(|a, b| x[*a].abs().total_cmp(&x[*b].abs()));
        active.push(j.expect("a coordinate crossed"));
        times.push(t);
        w = run.state;
    }
    Ok((times, stats))
}

fn plateaus(p: &Point, case: &str, tol: &Tolerances) -> InputResult<Vec<Evidence>> {
    let depth = check_depth("parameters.depth", p.int_or("depth", 2)?)?;
    let alphas = alphas(p, "1e-2:1e-4:3")?;
    let theta = check_positive("parameters.level", p.real_or("level", 0.1)?)?;
    let count = p.int_or("steps", 3)? as usize;
    let t_end = p.real("t_end")?;
    let (n, d) = (p.int_or("samples", 15)? as usize, p.int_or("dim", 40)? as usize);
    let problem = Problem::random_regression(p.int_or("seed", 1)? as u64, n, d, 3);
    let model = DeepDiagonal::new(depth, d);
    let tolerance = tol.get("escape");
    let regime_tol = tol_or(tol, "regime");
    let signgf_claim = p.text_or("signgf_regime", "bounded")?;
    let mut rows = Vec::new();
    for (name, q, claimed) in [("GF", 2.0, "logarithmic"), ("SignGF", 1.0, signgf_claim.as_str())] {
        let flow = SteepestFlow { problem: &problem, model: &model, q, decay: WeightDecay::None };
        let route = format!("{name} parameter flow, activation |x_j| ≥ {theta} located by Brent");
        let mut all = Vec::new();
        for &alpha in &alphas {
            let w0 = model.init(&Initialization::balanced(alpha, depth), q)?;
            let case = label(case, &format!("{name} α={alpha:e}"));
            match activation_times(&flow, &w0, theta, count, t_end) {
                Ok((times, stats)) => {
                    for (k, t) in times.iter().enumerate() {
                        let len = if k == 0 { *t } else { t - times[k - 1] };
                        let quantity = format!("plateau {} length", k + 1);
                        rows.push(Evidence::with_error(&case, &quantity, len, len, 0.0, 0.0, &route).with_stats(stats));
                    }
                    all.push(times);
                }
                Err(reason) => rows.push(Evidence::inconclusive(&case, "activation times", &route, reason)),
            }
        }
        if all.len() != alphas.len() {
            continue;
        }
        // growth of each plateau length with ln(1/α): the exponent of its increments (0: ln(1/α))
        let want = match claimed {
            "bounded" => Regime::Bounded,
            "logarithmic" => Regime::Logarithmic,
            "power" => Regime::Power,
            other => return Err(InputError::new("parameters.signgf_regime", format!("unknown regime '{other}'"))),
        };
        for k in 0..count {
            let lengths: Vec<f64> = all.iter().map(|t| if k == 0 { t[0] } else { t[k] - t[k - 1] }).collect();
            let code = regime_code(want);
            let longest = all.iter().flatten().fold(0.0, |m: f64, t| m.max(*t));
            let (measured, how) = if lengths.iter().all(|l| *l <= 1e-9 * longest) {
                // simultaneous activation (SignGF: every |w_j| with the same gradient sign grows at
                // rate 1): no plateau at any α, bounded trivially
                (-1.0, "no plateau: the activations coincide at every α".to_string())
            } else {
                let kappa = increment_exponent(&alphas, &lengths).slope;
                let m = if kappa.abs() <= regime_tol { 0.0 } else { kappa.signum() };
                (m, format!("increment exponent {kappa:.3} of the lengths over α (|κ| ≤ {regime_tol}: ln(1/α))"))
            };
            rows.push(Evidence::with_error(
                &label(case, name),
                &format!("plateau {} growth regime (−1 bounded, 0 ln(1/α), 1 power)", k + 1),
                code,
                measured,
                (code - measured).abs(),
                0.5,
                &how,
            ));
        }
        if q == 2.0 && depth == 2 {
            // first plateau of GF on u⊙v: x_j = α² e^{−2 g_j(0) t} while x ≈ 0, so
            // t_1 = ln(θ/α²)/(2 max_j(−g_j(0))): slope 1/max_j(−g_j(0)) against ln(1/α)
            let g0 = problem.gradient(&DVector::zeros(d));
            let rate = g0.iter().map(|g| -g).fold(f64::NEG_INFINITY, f64::max);
            let pts: Vec<(f64, f64)> = alphas.iter().zip(&all).map(|(a, t)| ((1.0 / a).ln(), t[0])).collect();
            rows.push(Evidence::compare(
                &label(case, "GF"),
                "slope of the first plateau vs ln(1/α): 1/max(−∇f(0))",
                1.0 / rate,
                fit_line(&pts).slope,
                tolerance,
                Metric::Relative,
                "least-squares fit of activation times vs the linearisation at x = 0",
            ));
        }
    }
    Ok(rows)
}
