//! `mirrorflow escape`: the saddle escape time on f(x) = −γx, closed form against integration.

use super::output::{print_output, progress_bar};
use super::Format;
use mirrorflow::api::escape::{self, EscapeArgs, EscapeOutput};
use mirrorflow::error::InputResult;
use mirrorflow::ode::Stats;
use mirrorflow::verdict::{display_number, round_sig};

/// Runs [`escape::run`] (a progress bar over a sweep) and prints its output; exit 0 iff the
/// routes agree.
pub fn run(args: &EscapeArgs, format: Format) -> InputResult<bool> {
    let count = if args.sweep { mirrorflow::escape::parse_alphas(&args.alphas).map_or(0, |a| a.len()) } else { 0 };
    let bar = progress_bar(count, !args.sweep, "α");
    let out = escape::run(args, &|| bar.inc(1))?;
    bar.finish_and_clear();
    if format == Format::Json {
        print_output(&out);
    } else {
        print_text(&out);
    }
    let reason = match &out {
        EscapeOutput::Single(s) => s.inconclusive.clone(),
        EscapeOutput::Coercive(s) => s.inconclusive.clone(),
        EscapeOutput::BlowUp(s) => s.inconclusive.clone(),
        EscapeOutput::Sweep(_) => None,
    };
    if let Some(r) = reason {
        eprintln!("INCONCLUSIVE: {r}");
    }
    Ok(out.status() == "ok")
}

/// The `integrated` line: the measured time, its relative error against the closed form and the
/// solver's counts, or INCONCLUSIVE with the reason.
fn print_integrated(integrated: Option<f64>, error: Option<f64>, stats: Option<Stats>, reason: Option<&str>) {
    match (integrated, error, stats) {
        (Some(t), Some(e), Some(s)) => println!(
            "integrated    T = {}   (relative error {e:.2e}; {} steps, {} rhs evaluations)",
            display_number(t),
            s.steps,
            s.rhs_evals
        ),
        _ => println!("integrated    INCONCLUSIVE: {}", reason.unwrap_or_default()),
    }
}

fn print_text(out: &EscapeOutput) {
    match out {
        EscapeOutput::Single(s) => {
            let model = if s.model == "two-sided" { "   two-sided model, x_0 = 0" } else { "" };
            println!("regime: {} (e = q(L−1)/L = {}){model}", s.regime, round_sig(s.exponent, 12));
            println!("closed form   T = {}  = {}", s.formula, display_number(s.closed_form));
            print_integrated(s.integrated, s.relative_error, s.stats, s.inconclusive.as_deref());
        }
        EscapeOutput::Coercive(s) => {
            let l = s.alpha;
            println!("coercive init w = (0, {l}, …, {l}): x_0 = 0, μ = λ^(q(L−1)) = {}", display_number(s.coercivity));
            println!("closed form   T = ∫_0^x_1 R''(x) dx / γ^(q−1) (quadrature) = {}", display_number(s.closed_form));
            print_integrated(s.integrated, s.relative_error, s.stats, s.inconclusive.as_deref());
            println!("bound         T ≤ x_1/(μγ^(q−1)) = {}", display_number(s.bound));
        }
        EscapeOutput::BlowUp(s) => {
            let Some(t_star) = s.closed_form else {
                println!("regime: {} (e = m = q(L−1)/L = {})", s.regime, round_sig(s.exponent, 12));
                println!("no blow-up: m ≤ 1, R' has an unbounded range and x exists for all time (T(∞) = ∞)");
                return;
            };
            println!("regime: {} (e = m = q(L−1)/L = {}): finite-time blow-up", s.regime, round_sig(s.exponent, 12));
            println!("closed form   T* = x_0^(1−m)/(L(m−1)γ^(q−1)) = {}", display_number(t_star));
            match (s.integrated, s.relative_error, s.stats) {
                (Some(t), Some(e), Some(st)) => println!(
                    "integrated    T* = {}   ({}; relative error {e:.2e}; {} steps)",
                    display_number(t),
                    s.route.as_deref().unwrap_or_default(),
                    st.steps
                ),
                _ => println!("integrated    INCONCLUSIVE: {}", s.inconclusive.as_deref().unwrap_or_default()),
            }
        }
        EscapeOutput::Sweep(s) => print_sweep(s),
    }
}

fn print_sweep(s: &escape::SweepEscape) {
    println!("regime: {}   predicted growth exponent κ = q(L−1) − L = {}", s.regime, round_sig(s.growth_exponent, 12));
    println!("{:>12} {:>14} {:>14} {:>10} {:>7}", "alpha", "closed form", "integrated", "rel err", "steps");
    for r in &s.sweep.rows {
        let alpha = format!("{:e}", round_sig(r.alpha, 6));
        match &r.integrated {
            Ok(i) => println!(
                "{alpha:>12} {:>14} {:>14} {:>10.2e} {:>7}",
                display_number(r.closed_form),
                display_number(i.time),
                (i.time - r.closed_form).abs() / r.closed_form,
                i.stats.steps
            ),
            Err(e) => println!("{alpha:>12} {:>14} INCONCLUSIVE: {e}", display_number(r.closed_form)),
        }
    }
    match (&s.sweep.linear, &s.sweep.power, &s.sweep.increments) {
        (Some(l), Some(p), inc) => {
            println!(
                "fit T ≈ {} + {}·ln(1/α)   (max residual {:.2e})",
                display_number(l.intercept),
                display_number(l.slope),
                l.max_residual
            );
            println!(
                "fit ln T ≈ {} + {}·ln(1/α)   (max residual {:.2e})",
                display_number(p.intercept),
                display_number(p.slope),
                p.max_residual
            );
            if let Some(i) = inc {
                println!("growth exponent of dT/dln(1/α) (fit of increments): {}", display_number(i.slope));
            }
        }
        _ => println!("fits: not computed (an integration was inconclusive)"),
    }
}
