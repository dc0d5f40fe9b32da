//! The report's figures: each function computes its data with the engine (never from stored
//! numbers) and returns a [`Chart`].

use crate::flow::{run_to_stationarity, Flow, MirrorFlow, SteepestFlow, WeightDecay};
use crate::ode::{sample_times, Settings};
use crate::plots::{Chart, Series, Style};
use crate::potential::{Balanced, LambdaBalanced, Potential};
use crate::problem::{Loss, Problem};
use crate::reparam::{DeepDiagonal, Initialization, Reparameterization};
use nalgebra::{DMatrix, DVector};

/// x_k(t) of λ-balanced SignGF (L = 2, λ = 0.5, α = 0.3) by the parameter route (lines) and the
/// mirror route (markers), three coordinates of the `mirror-flow-lambda` problem.
pub fn mirror_trajectories() -> Result<Chart<'static>, String> {
    let problem = Problem::random_regression(1, 5, 10, 0);
    let model = DeepDiagonal::new(2, 10);
    let init = Initialization::lambda(0.3, 2, 0.5);
    let w0 = model.init(&init, 1.0).map_err(|e| e.to_string())?;
    let potential = LambdaBalanced { q: 1.0, lambda: 0.5 };
    let pf = SteepestFlow { problem: &problem, model: &model, q: 1.0, decay: WeightDecay::None };
    let mf = MirrorFlow { problem: &problem, potential: &potential, q: 1.0 };
    let times = sample_times(1.2, 60);
    let settings = Settings::default();
    let tw = run_to_stationarity(&pf, &w0, &times, None, &settings).map_err(|e| e.to_string())?;
    let tx = run_to_stationarity(&mf, &model.x(&w0), &times, None, &settings).map_err(|e| e.to_string())?;
    let mut series = Vec::new();
    for k in 0..3 {
        series.push(Series {
            name: format!("x_{k} from w (parameter flow)"),
            points: tw.t.iter().zip(&tw.y).map(|(t, w)| (*t, model.x(w)[k])).collect(),
            style: Style::Line,
            group: k,
        });
        series.push(Series {
            name: format!("x_{k} from z = R'(x) (mirror flow)"),
            points: tx.t.iter().zip(&tx.y).map(|(t, z)| (*t, mf.predictor(z)[k])).collect(),
            style: Style::Points,
            group: k,
        });
    }
    Ok(Chart {
        title: "SignGF on u⊙v (λ = 0.5): parameter flow vs steepest mirror flow",
        x_label: "t",
        y_label: "x_k(t)",
        series,
        marks: vec![],
    })
}

/// `log10 |u|^q − |v|^q` under decoupled weight decay μ = 0.2 for q ∈ {1, 1.5, 2} (lines) and
/// the predicted `λ_0 e^{−qμt}` (dashed).
pub fn balance_decay() -> Result<Chart<'static>, String> {
    let problem = Problem::random_regression(5, 5, 10, 0);
    let model = DeepDiagonal::new(2, 10);
    let mu = 0.2;
    let mut series = Vec::new();
    for (group, q) in [1.0, 1.5, 2.0].into_iter().enumerate() {
        let init = Initialization::lambda(0.5, 2, 0.3);
        let w0 = model.init(&init, q).map_err(|e| e.to_string())?;
        let flow = SteepestFlow { problem: &problem, model: &model, q, decay: WeightDecay::Decoupled(mu) };
        let tr = flow.run(&w0, &sample_times(8.0, 80), None, &Settings::default()).map_err(|e| e.to_string())?;
        series.push(Series {
            name: format!("q = {q}: measured"),
            points: tr.t.iter().zip(&tr.y).map(|(t, w)| (*t, model.balances(w, q)[0].abs().log10())).collect(),
            style: Style::Line,
            group,
        });
        series.push(Series {
            name: format!("q = {q}: λ0·exp(−qμt)"),
            points: tr.t.iter().map(|t| (*t, (0.3 * (-q * mu * t).exp()).log10())).collect(),
            style: Style::Dashed,
            group,
        });
    }
    Ok(Chart {
        title: "Decoupled weight decay: imbalance |u|^q − |v|^q (μ = 0.2)",
        x_label: "t",
        y_label: "log10 imbalance",
        series,
        marks: vec![],
    })
}

/// Limits of coupled and decoupled SignGF (L = 2, μ = 0.1, scalar `f = (x − y)²/2`) divided by the
/// target, against the soft threshold and the box `min(y, μ^{−2})` (THEORY §6).
pub fn wd_equilibria() -> Result<Chart<'static>, String> {
    let mu: f64 = 0.1;
    let model = DeepDiagonal::new(2, 1);
    let w0 = model.init(&Initialization::balanced(0.1, 2), 1.0).map_err(|e| e.to_string())?;
    let targets: Vec<f64> = (0..12).map(|i| 10f64.powf(-1.7 + 0.4 * i as f64)).collect();
    let mut measured = [Vec::new(), Vec::new()];
    for &y in &targets {
        let problem = Problem::new(DMatrix::from_element(1, 1, 1.0), DVector::from_element(1, y), Loss::Squared)
            .map_err(|e| e.to_string())?;
        for (slot, decay) in [WeightDecay::Coupled(mu), WeightDecay::Decoupled(mu)].into_iter().enumerate() {
            let flow = SteepestFlow { problem: &problem, model: &model, q: 1.0, decay };
            let tr = flow.run(&w0, &[60.0], None, &Settings::default()).map_err(|e| e.to_string())?;
            measured[slot].push((y.log10(), model.x(tr.last())[0] / y));
        }
    }
    let soft = targets.iter().map(|y| (y.log10(), (y - mu).max(0.0) / y)).collect();
    let clip = targets.iter().map(|y| (y.log10(), y.min(mu.powi(-2)) / y)).collect();
    Ok(Chart {
        title: "Weight-decay equilibria of SignGF (L = 2, μ = 0.1)",
        x_label: "log10 target y",
        y_label: "limit x∞ / y",
        series: vec![
            Series {
                name: "coupled (Adam + L2): measured".into(),
                points: measured[0].clone(),
                style: Style::Points,
                group: 0,
            },
            Series { name: "soft threshold max(y − μ, 0)".into(), points: soft, style: Style::Dashed, group: 0 },
            Series {
                name: "decoupled (AdamW): measured".into(),
                points: measured[1].clone(),
                style: Style::Points,
                group: 1,
            },
            Series { name: "box min(y, μ^−2)".into(), points: clip, style: Style::Dashed, group: 1 },
        ],
        marks: vec![(mu.log10(), "μ".into()), ((mu.powi(-2)).log10(), "μ^−L".into())],
    })
}

/// `log10 R''(x)` of the balanced potentials for L ∈ {2, 3, 4} and q ∈ {1, 2}: closed form (line)
/// and num-dual derivative of the closed-form R' (markers).
pub fn potentials() -> Result<Chart<'static>, String> {
    let xs: Vec<f64> = (0..40).map(|i| 10f64.powf(-4.0 + 0.125 * i as f64)).collect();
    let mut series = Vec::new();
    for (group, (depth, q)) in [(2, 2.0), (3, 2.0), (4, 2.0), (2, 1.0), (3, 1.0), (4, 1.0)].into_iter().enumerate() {
        let p = Balanced::new(depth, q);
        series.push(Series {
            name: format!("L = {depth}, q = {q}: R'' = |x|^(−e)/L, e = {:.3}", p.exponent),
            points: xs.iter().map(|x| (x.log10(), p.hess(*x).log10())).collect(),
            style: Style::Line,
            group,
        });
        series.push(Series {
            name: format!("L = {depth}, q = {q}: d/dx R' by num-dual"),
            points: xs
                .iter()
                .step_by(4)
                .map(|x| (x.log10(), p.hess_autodiff(*x).unwrap_or(f64::NAN).log10()))
                .collect(),
            style: Style::Points,
            group,
        });
    }
    Ok(Chart {
        title: "Balanced mirror potentials: R''(x) = |x|^(−q(L−1)/L)/L",
        x_label: "log10 x",
        y_label: "log10 R''(x)",
        series,
        marks: vec![],
    })
}

/// `log10 T` against `log10(1/α)` for the linear loss `f = −x` (γ = 1, x₁ = 0.5): closed form of
/// THEORY §4 (lines) and the integrated parameter flow (markers); the legend gives each regime,
/// i.e. where `e = q(L−1)/L` sits against the threshold 1 (`q = L/(L−1)`).
pub fn escape_time() -> Result<Chart<'static>, String> {
    use crate::escape::LinearEscape;
    let alphas: Vec<f64> = (0..11).map(|i| 10f64.powf(-1.0 - 0.5 * i as f64)).collect();
    let mut series = Vec::new();
    for (group, (depth, q)) in [(2, 1.0), (3, 1.0), (3, 1.5), (2, 2.0), (4, 1.5), (3, 2.0)].into_iter().enumerate() {
        let p = LinearEscape { depth, q, gamma: 1.0, level: 0.5 };
        let e = crate::geometry::mirror_exponent(depth, q);
        let regime = if e < 1.0 {
            "bounded"
        } else if e == 1.0 {
            "ln(1/α), threshold"
        } else {
            "power law"
        };
        let name = format!("L = {depth}, q = {q} (e = {e:.3}: {regime})");
        series.push(Series {
            name: format!("{name}: closed form"),
            points: alphas.iter().map(|a| ((1.0 / a).log10(), p.closed_form(*a).log10())).collect(),
            style: Style::Line,
            group,
        });
        let settings = Settings::default();
        let measured = alphas
            .iter()
            .step_by(2)
            .filter_map(|a| p.integrated(*a, &settings).ok().map(|r| ((1.0 / a).log10(), r.time.log10())))
            .collect();
        series.push(Series { name: format!("{name}: ODE"), points: measured, style: Style::Points, group });
    }
    Ok(Chart {
        title: "Saddle escape time vs initial scale (never saddle iff q < L/(L−1))",
        x_label: "log10(1/α)",
        y_label: "log10 escape time T",
        series,
        marks: vec![],
    })
}

/// Per coordinate (markers only: x_k against k is no curve), the one-sided model u⊙v at α = 0.1 on
/// a 2-sparse non-negative target (d = 8, n = 4): the GF limit, the Bregman projection of its
/// potential, and the min-ℓ1 interpolator over x ≥ 0 (the set the one-sided model reaches, so like
/// is compared with like).
pub fn implicit_bias() -> Result<Chart<'static>, String> {
    use crate::flow::run_until_loss;
    let problem = Problem::random_regression(3, 4, 8, 2);
    let model = DeepDiagonal::new(2, 8);
    let w0 = model.init(&Initialization::balanced(0.1, 2), 2.0).map_err(|e| e.to_string())?;
    let flow = SteepestFlow { problem: &problem, model: &model, q: 2.0, decay: WeightDecay::None };
    let tr = run_until_loss(&flow, &w0, 1e5, Some(1e-14), 1, &Settings::default()).map_err(|e| e.to_string())?;
    let x_flow = model.x(tr.last());
    let potential = Balanced::new(2, 2.0);
    let projection = crate::bias::project(&potential, &problem.a, &problem.y, &model.x(&w0));
    if !projection.converged {
        return Err("the dual Bregman solve did not converge".into());
    }
    let l1 = crate::bias::min_l1_nonnegative(&problem.a, &problem.y).map_err(|e| e.to_string())?;
    let per_coordinate = |x: &DVector<f64>| x.iter().enumerate().map(|(k, v)| (k as f64, *v)).collect();
    Ok(Chart {
        title: "GF on u⊙v (one-sided, α = 0.1): limit = Bregman projection ≠ min-ℓ1 over x ≥ 0",
        x_label: "coordinate k",
        y_label: "x_k",
        series: vec![
            Series {
                name: "min-ℓ1 over x ≥ 0 (clarabel LP)".into(),
                points: per_coordinate(&l1.x),
                style: Style::Open,
                group: 0,
            },
            Series {
                name: "Bregman projection (dual Newton)".into(),
                points: per_coordinate(&projection.x),
                style: Style::Open,
                group: 1,
            },
            Series {
                name: "GF limit (ODE to loss 1e−14)".into(),
                points: per_coordinate(&x_flow),
                style: Style::Points,
                group: 2,
            },
        ],
        marks: vec![],
    })
}

/// All report figures: (file name, caption, chart builder).
pub type Figure = (&'static str, &'static str, fn() -> Result<Chart<'static>, String>);

/// The figures written by `mirrorflow report`.
pub fn all() -> Vec<Figure> {
    vec![
        (
            "mirror_trajectories.svg",
            "Mirror-flow trajectories: parameter route (lines) vs mirror route (markers)",
            mirror_trajectories,
        ),
        ("balance_decay.svg", "Balance quantities under decoupled weight decay vs λ0·exp(−qμt)", balance_decay),
        (
            "wd_equilibria.svg",
            "Weight-decay equilibria vs target: coupled soft threshold, decoupled box",
            wd_equilibria,
        ),
        ("potentials.svg", "Balanced potentials R'' (closed form vs num-dual)", potentials),
        (
            "escape_time.svg",
            "Escape time vs α for several (L, q): bounded, logarithmic and power-law regimes",
            escape_time,
        ),
        (
            "implicit_bias.svg",
            "Implicit bias of the one-sided u⊙v (x ≥ 0), per coordinate: GF limit vs Bregman projection vs \
             the non-negative min-ℓ1 interpolator",
            implicit_bias,
        ),
    ]
}
