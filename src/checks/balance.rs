//! `balance-laws`: the conservation laws of THEORY §2 and their fate under weight decay, in
//! continuous time (flows) and exactly in discrete time (GD, SignGD).
//!
//! `law` selects the statement:
//! - `conservation`: `|w_i|^q − |w_L|^q` is constant along the steepest flow (no decay);
//! - `decoupled-decay`: under decoupled decay it equals `λ_0 e^{−qμt}` (rate fitted, compared with qμ);
//! - `coupled-sign`: under coupled SignGF it is constant while `sign(g x/w_i + μ w_i)` agrees
//!   across layers (the gradient-dominated phase);
//! - `discrete-gd`: GD on u⊙v: `δ_{k+1} = δ_k((1 − ημ)² − η² g_k²)`, `δ = u² − v²` (coupled μ);
//! - `discrete-signgd`: SignGD: `|u| − |v|` scales by `(1 − ημ)` per step (decoupled μ; 1 without).

use super::{Check, Setup, Tolerances, MODEL_PARAMS};
use crate::claims::{constraint, CheckSpec, Kind, ParamSpec, Point};
use crate::discrete::steepest_step;
use crate::error::{InputError, InputResult};
use crate::fit::fit_line;
use crate::flow::{run_to_stationarity, Flow, SteepestFlow, WeightDecay};
use crate::geometry::sign;
use crate::ode::{sample_times, Settings};
use crate::reparam::Reparameterization;
use crate::verdict::{worst, worst_abs, Evidence, Metric};
use nalgebra::DVector;

/// The `balance-laws` check kind.
pub struct BalanceCheck;

const EXTRA: [ParamSpec; 9] = [
    ParamSpec { name: "law", kind: Kind::Text, valid: constraint::any, doc: "which law (module docs)" },
    ParamSpec { name: "t_end", kind: Kind::Real, valid: constraint::positive, doc: "flow horizon" },
    ParamSpec { name: "weight_decay", kind: Kind::Real, valid: constraint::nonnegative, doc: "μ" },
    ParamSpec { name: "decay", kind: Kind::Text, valid: constraint::any, doc: "coupled | decoupled" },
    ParamSpec {
        name: "law_exponent",
        kind: Kind::Real,
        valid: constraint::positive,
        doc: "exponent of the conserved quantity (default q)",
    },
    ParamSpec {
        name: "prediction",
        kind: Kind::Text,
        valid: constraint::any,
        doc: "claimed decay rate: \"q*mu\" (default) or \"mu\"",
    },
    ParamSpec {
        name: "identity",
        kind: Kind::Text,
        valid: constraint::any,
        doc: "\"exact\" (default) or \"conserved\" (factor 1)",
    },
    ParamSpec { name: "steps", kind: Kind::Int, valid: constraint::at_least_one, doc: "discrete steps K" },
    ParamSpec { name: "lr", kind: Kind::Real, valid: constraint::positive, doc: "step size η" },
];

static PARAMS: std::sync::LazyLock<Vec<ParamSpec>> =
    std::sync::LazyLock::new(|| MODEL_PARAMS.iter().chain(EXTRA.iter()).copied().collect());

impl Check for BalanceCheck {
    fn spec(&self) -> CheckSpec {
        CheckSpec { params: PARAMS.as_slice(), tolerances: &["balance"] }
    }

    fn run(&self, p: &Point, case: &str, tol: &Tolerances) -> InputResult<Vec<Evidence>> {
        let s = Setup::from_point(p)?;
        let mu = p.real_or("weight_decay", 0.0)?;
        let law = p.text_or("law", "conservation")?;
        let tolerance = tol.get("balance");
        let settings = Settings::default();
        match law.as_str() {
            "conservation" | "coupled-sign" => {
                let exponent = p.real_or("law_exponent", s.q)?;
                let decay = match p.text_or("decay", "coupled")?.as_str() {
                    _ if law == "conservation" => WeightDecay::None,
                    "coupled" => WeightDecay::Coupled(mu),
                    "decoupled" => WeightDecay::Decoupled(mu),
                    other => return Err(InputError::new("parameters.decay", format!("unknown decay '{other}'"))),
                };
                if law == "coupled-sign" && s.q != 1.0 {
                    return Err(InputError::new("parameters.q", "the coupled-sign law is about SignGF: q = 1"));
                }
                let flow = SteepestFlow { problem: &s.problem, model: &s.model, q: s.q, decay };
                let layers = s.model.depth;
                let d = s.model.dim;
                // coupled-sign: coordinate k is in its gradient-dominated phase until the first
                // accepted step where sign(∂F/∂w_ik + μ w_ik) differs across layers i
                let phase_end = std::cell::RefCell::new(vec![f64::INFINITY; d]);
                let watch = |t: f64, w: &DVector<f64>| {
                    if law == "coupled-sign" {
                        let drive = s.model.pullback(w, &s.problem.gradient(&s.model.x(w))) + w * mu;
                        let mut end = phase_end.borrow_mut();
                        for (k, e) in end.iter_mut().enumerate() {
                            if e.is_infinite() && (1..layers).any(|i| sign(drive[i * d + k]) != sign(drive[k])) {
                                *e = t;
                            }
                        }
                    }
                    false
                };
                watch(0.0, &s.w0);
                let times = sample_times(p.real("t_end")?, 100);
                let route = "ODE in w (parameter flow)";
                let run = if decay == WeightDecay::None {
                    run_to_stationarity(&flow, &s.w0, &times, Some(&watch), &settings)
                } else {
                    flow.run(&s.w0, &times, Some(&watch), &settings)
                };
                let tr = match run {
                    Ok(t) => t,
                    Err(e) => return Ok(vec![Evidence::inconclusive(case, "balance drift", route, e.to_string())]),
                };
                let b0 = s.model.balances(&s.w0, exponent);
                let scale = b0.amax().max(s.init.alpha.powf(exponent));
                let end = phase_end.into_inner();
                // drift over the samples where each coordinate is still in its phase
                let mut drift: f64 = 0.0;
                let mut in_phase = 0.0;
                for (t, w) in tr.t.iter().zip(&tr.y) {
                    let diff = s.model.balances(w, exponent) - &b0;
                    for (j, v) in diff.iter().enumerate() {
                        if *t < end[j % d] {
                            drift = worst(drift, v.abs() / scale);
                        }
                    }
                }
                for e in &end {
                    in_phase += e.min(tr.t_end());
                }
                let quantity = format!("max drift of |w_i|^{exponent} − |w_L|^{exponent} (relative)");
                let mut rows = vec![
                    Evidence::with_error(case, &quantity, 0.0, drift, drift, tolerance, route).with_stats(tr.stats)
                ];
                if law == "coupled-sign" {
                    if in_phase <= 0.0 {
                        rows.push(Evidence::inconclusive(
                            case,
                            "gradient-dominated phase",
                            route,
                            "vacuous: no coordinate starts in it",
                        ));
                    } else {
                        let q = "coordinate-time in the gradient-dominated phase";
                        rows.push(Evidence::with_error(case, q, in_phase, in_phase, 0.0, 0.0, route));
                    }
                }
                Ok(rows)
            }
            "decoupled-decay" => {
                let flow =
                    SteepestFlow { problem: &s.problem, model: &s.model, q: s.q, decay: WeightDecay::Decoupled(mu) };
                let t_end = p.real("t_end")?;
                let times = sample_times(t_end, 50);
                let route = "ODE in w, least-squares fit of ln|λ(t)|";
                let tr = match flow.run(&s.w0, &times, None, &settings) {
                    Ok(t) => t,
                    Err(e) => return Ok(vec![Evidence::inconclusive(case, "decay rate", route, e.to_string())]),
                };
                let b0 = s.model.balances(&s.w0, s.q);
                let predicted = match p.text_or("prediction", "q*mu")?.as_str() {
                    "q*mu" => s.q * mu,
                    "mu" => mu,
                    other => {
                        return Err(InputError::new("parameters.prediction", format!("unknown prediction '{other}'")))
                    }
                };
                let mut worst = (0.0, predicted);
                for j in (0..b0.len()).filter(|&j| b0[j].abs() > 0.0) {
                    let pts: Vec<(f64, f64)> =
                        tr.t.iter().zip(&tr.y).map(|(t, w)| (*t, s.model.balances(w, s.q)[j].abs().ln())).collect();
                    let rate = -fit_line(&pts).slope;
                    let err = (rate - predicted).abs() / predicted;
                    if err.is_nan() || err > worst.0 {
                        worst = (err, rate);
                    }
                }
                Ok(vec![Evidence::compare(
                    case,
                    "decay rate of the imbalance",
                    predicted,
                    worst.1,
                    tolerance,
                    Metric::Relative,
                    route,
                )
                .with_stats(tr.stats)])
            }
            "discrete-gd" | "discrete-signgd" => {
                if s.model.depth != 2 {
                    return Err(InputError::new("parameters.depth", "the discrete identities are for u⊙v: depth 2"));
                }
                let gd = law == "discrete-gd";
                let (q, decay) = if gd { (2.0, WeightDecay::Coupled(mu)) } else { (1.0, WeightDecay::Decoupled(mu)) };
                let eta = p.real("lr")?;
                let steps = p.int("steps")? as usize;
                let exact = match p.text_or("identity", "exact")?.as_str() {
                    "exact" => true,
                    "conserved" => false,
                    other => return Err(InputError::new("parameters.identity", format!("unknown identity '{other}'"))),
                };
                let d = s.model.dim;
                let mut w = s.model.init(&s.init, q)?;
                let quantity = |w: &DVector<f64>| {
                    DVector::from_fn(d, |k, _| {
                        if gd {
                            w[k] * w[k] - w[d + k] * w[d + k]
                        } else {
                            w[k].abs() - w[d + k].abs()
                        }
                    })
                };
                let scale = quantity(&w).amax().max(s.init.alpha.powf(q));
                let (mut err, mut used): (f64, usize) = (0.0, 0);
                for _ in 0..steps {
                    let g = s.problem.gradient(&s.model.x(&w));
                    let next = steepest_step(&s.problem, &s.model, &w, q, eta, decay);
                    if !gd && next.iter().zip(w.iter()).any(|(a, b)| sign(*a) != sign(*b)) {
                        break; // a weight crossed zero: SignGD's identity holds only before
                    }
                    let before = quantity(&w);
                    let predicted = DVector::from_fn(d, |k, _| {
                        let factor = match (exact, gd) {
                            (false, _) => 1.0,
                            (true, true) => (1.0 - eta * mu).powi(2) - eta * eta * g[k] * g[k],
                            (true, false) => 1.0 - eta * mu,
                        };
                        before[k] * factor
                    });
                    err = worst(err, worst_abs(&(quantity(&next) - predicted)) / scale);
                    w = next;
                    used += 1;
                }
                let route =
                    if gd { "GD iterates vs one-step identity" } else { "SignGD iterates vs one-step identity" };
                if used < steps / 2 {
                    return Ok(vec![Evidence::inconclusive(
                        case,
                        "discrete identity",
                        route,
                        format!("weights crossed zero after {used} steps"),
                    )]);
                }
                Ok(vec![Evidence::with_error(
                    case,
                    &format!("max one-step identity error over {used} steps"),
                    0.0,
                    err,
                    err,
                    tolerance,
                    route,
                )])
            }
            other => Err(InputError::new("parameters.law", format!("unknown law '{other}'"))),
        }
    }
}
