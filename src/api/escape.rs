//! `escape`: the saddle escape time of the steepest flow on the linear loss f(x) = −γx (THEORY §4,
//! §9): the closed form against the integrated parameter flow, at one α, over an α sweep, from the
//! coercive init (w_1 = 0), or the blow-up time (`--level inf`).

use crate::api::ModelKind;
use crate::error::{check_depth, check_positive, check_q, InputError, InputResult};
use crate::escape::{growth_exponent, parse_alphas, CoerciveEscape, ImbalancedEscape, LinearEscape, Sweep};
use crate::geometry::mirror_exponent;
use crate::ode::{Settings, Stats};
use clap::ValueEnum;
use serde::Serialize;

/// Relative agreement demanded of the integrated escape time (the acceptance bound of issue 3;
/// the log-weight ODE at rtol 1e−11 measures ≤ 1e−11).
pub const AGREEMENT: f64 = 1e-6;

/// Where `--level inf` stops the integration; the analytic tail covers the rest.
pub const BLOW_UP_FAR: f64 = 1e150;

/// The initialisation of the `escape` command.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
pub enum EscapeInit {
    /// Balanced: every layer at α, x_0 = α^L (THEORY §4).
    Balanced,
    /// Coercive (the paper's Cor. 4.10): w_1 = 0, the other layers at α = λ, x_0 = 0 (THEORY §9).
    Coercive,
}

/// The flags of `escape`.
#[derive(clap::Args, Debug, Clone)]
pub struct EscapeArgs {
    /// Depth L ≥ 1.
    #[arg(long, allow_hyphen_values = true)]
    pub depth: i64,
    /// Steepest-descent exponent q ∈ [1, 2].
    #[arg(long, allow_hyphen_values = true)]
    pub q: f64,
    /// Initial scale α > 0 (single run); with `--init coercive` the scale λ of layers 2..L.
    #[arg(long, allow_hyphen_values = true, required_unless_present = "sweep")]
    pub alpha: Option<f64>,
    /// Initialisation: balanced (all layers at α) or coercive (w_1 = 0, the others at α).
    #[arg(long, value_enum, default_value = "balanced")]
    pub init: EscapeInit,
    /// one-sided x = ∏_i w_i, or two-sided x = ∏_i w⁺_i − ∏_i w⁻_i (both sides balanced at α, x_0 = 0;
    /// single balanced runs, L ≥ 2): the side pushed down rests at 0 once it gets there.
    #[arg(long, value_enum, default_value = "one-sided")]
    pub model: ModelKind,
    /// Imbalance λ (single balanced one-sided runs, L ≥ 2): layer 1 starts at (α^q + λ)^{1/q}, the
    /// others at α; the closed form becomes the quadrature of R'' of the per-layer-constants potential.
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
    pub balance: f64,
    /// Gradient magnitude γ > 0 of the linear loss f(x) = −γx.
    #[arg(long, default_value_t = 1.0, allow_hyphen_values = true)]
    pub gradient: f64,
    /// Escape level x_1 > x_0 (α^L balanced, 0 coercive); `inf`: the blow-up time (balanced).
    #[arg(long, default_value_t = 0.5, allow_hyphen_values = true)]
    pub level: f64,
    /// Sweep over α (see --alphas).
    #[arg(long)]
    pub sweep: bool,
    /// Geometric α sweep first:last:count.
    #[arg(long, default_value = "1e-1:1e-6:11")]
    pub alphas: String,
}

/// One balanced run: closed form against the integrated flow.
#[derive(Debug, Clone, Serialize)]
pub struct SingleEscape {
    /// `ok` (routes agree within [`AGREEMENT`]), `mismatch`, or `inconclusive`.
    pub status: &'static str,
    /// `balanced`.
    pub init: &'static str,
    /// `one-sided` or `two-sided`.
    pub model: &'static str,
    /// Imbalance λ.
    pub balance: f64,
    /// Depth L.
    pub depth: usize,
    /// Exponent q.
    pub q: f64,
    /// Initial scale α.
    pub alpha: f64,
    /// γ.
    pub gradient: f64,
    /// The level x_1.
    pub level: f64,
    /// m = q(L−1)/L.
    pub exponent: f64,
    /// The regime's name.
    pub regime: &'static str,
    /// The closed form, in words.
    pub formula: String,
    /// The closed-form time.
    pub closed_form: f64,
    /// The integrated time.
    pub integrated: Option<f64>,
    /// The quadrature of R'' (a third route; one-sided only).
    pub quadrature: Option<f64>,
    /// |integrated − closed|/closed.
    pub relative_error: Option<f64>,
    /// Integrator statistics.
    pub stats: Option<Stats>,
    /// Why the integration failed.
    pub inconclusive: Option<String>,
}

/// An α sweep.
#[derive(Debug, Clone, Serialize)]
pub struct SweepEscape {
    /// `ok`, `mismatch`, or `inconclusive`.
    pub status: &'static str,
    /// `balanced`.
    pub init: &'static str,
    /// Depth L.
    pub depth: usize,
    /// Exponent q.
    pub q: f64,
    /// γ.
    pub gradient: f64,
    /// The level x_1.
    pub level: f64,
    /// The regime's name.
    pub regime: &'static str,
    /// κ = q(L−1) − L.
    pub growth_exponent: f64,
    /// The rows and fits.
    pub sweep: Sweep,
}

/// A run from the coercive init.
#[derive(Debug, Clone, Serialize)]
pub struct CoerciveRun {
    /// `ok`, `mismatch`, or `inconclusive`.
    pub status: &'static str,
    /// `coercive`.
    pub init: &'static str,
    /// Depth L.
    pub depth: usize,
    /// Exponent q.
    pub q: f64,
    /// λ, the scale of layers 2..L.
    pub alpha: f64,
    /// γ.
    pub gradient: f64,
    /// The level x_1.
    pub level: f64,
    /// m = q(L−1)/L.
    pub exponent: f64,
    /// `∫_0^{x_1} R''(x) dx / γ^{q−1}` by quadrature.
    pub closed_form: f64,
    /// The integrated time.
    pub integrated: Option<f64>,
    /// μ = λ^{q(L−1)}.
    pub coercivity: f64,
    /// x_1/(μγ^{q−1}).
    pub bound: f64,
    /// |integrated − closed|/closed.
    pub relative_error: Option<f64>,
    /// Integrator statistics.
    pub stats: Option<Stats>,
    /// Why inconclusive.
    pub inconclusive: Option<String>,
}

/// The blow-up time (`--level inf`).
#[derive(Debug, Clone, Serialize)]
pub struct BlowUp {
    /// `ok`, `mismatch`, or `inconclusive`.
    pub status: &'static str,
    /// `balanced`.
    pub init: &'static str,
    /// Depth L.
    pub depth: usize,
    /// Exponent q.
    pub q: f64,
    /// Initial scale α.
    pub alpha: f64,
    /// γ.
    pub gradient: f64,
    /// `inf`.
    pub level: &'static str,
    /// m = q(L−1)/L.
    pub exponent: f64,
    /// The regime's name.
    pub regime: &'static str,
    /// Whether m > 1 (a finite blow-up time).
    pub blow_up: bool,
    /// The closed form, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub formula: Option<&'static str>,
    /// T* in closed form.
    pub closed_form: Option<f64>,
    /// T* integrated.
    pub integrated: Option<f64>,
    /// How T* was integrated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    /// |integrated − closed|/closed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relative_error: Option<f64>,
    /// Integrator statistics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<Stats>,
    /// Why inconclusive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inconclusive: Option<String>,
}

/// What `escape` returns: one of its four runs.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum EscapeOutput {
    /// One balanced run.
    Single(SingleEscape),
    /// An α sweep.
    Sweep(SweepEscape),
    /// The coercive init.
    Coercive(CoerciveRun),
    /// The blow-up time.
    BlowUp(BlowUp),
}

impl EscapeOutput {
    /// `ok`, `mismatch` or `inconclusive`.
    pub fn status(&self) -> &'static str {
        match self {
            EscapeOutput::Single(s) => s.status,
            EscapeOutput::Sweep(s) => s.status,
            EscapeOutput::Coercive(s) => s.status,
            EscapeOutput::BlowUp(s) => s.status,
        }
    }
}

/// `inconclusive` if an integration failed, else `ok` when the routes agree within [`AGREEMENT`],
/// `mismatch` when they do not.
fn status(agree: bool, inconclusive: bool) -> &'static str {
    if inconclusive {
        "inconclusive"
    } else if agree {
        "ok"
    } else {
        "mismatch"
    }
}

/// Runs `escape` (`tick` is called once per finished α of a sweep).
pub fn run(args: &EscapeArgs, tick: &(dyn Fn() + Sync)) -> InputResult<EscapeOutput> {
    let depth = check_depth("--depth", args.depth)?;
    let q = check_q("--q", args.q)?;
    let gamma = check_positive("--gradient", args.gradient)?;
    let alpha = || -> InputResult<f64> {
        let a = args.alpha.ok_or_else(|| InputError::new("--alpha", "required without --sweep"))?;
        check_positive("--alpha", a)
    };
    let level = args.level;
    if level == f64::INFINITY {
        if args.sweep {
            return Err(InputError::new("--level", "inf (the blow-up time) is for a single run, not with --sweep"));
        }
        if args.init == EscapeInit::Coercive {
            return Err(InputError::new("--level", "inf (the blow-up time) is supported for --init balanced only"));
        }
        return blow_up(depth, q, alpha()?, gamma).map(EscapeOutput::BlowUp);
    }
    let level = check_positive("--level", level)?;
    let two_sided = args.model == ModelKind::TwoSided;
    if two_sided && (args.sweep || args.init == EscapeInit::Coercive || depth < 2) {
        let why = "the two-sided escape is for a single balanced run (no --sweep, --init balanced) at depth L ≥ 2";
        return Err(InputError::new("--model", why));
    }
    let balance = args.balance;
    if balance != 0.0
        && (!balance.is_finite() || args.sweep || args.init == EscapeInit::Coercive || two_sided || depth < 2)
    {
        let why =
            "an imbalance is for a single balanced one-sided run (no --sweep, --init balanced) at depth L ≥ 2, finite";
        return Err(InputError::new("--balance", why));
    }
    if args.init == EscapeInit::Coercive {
        if args.sweep {
            return Err(InputError::new("--sweep", "a sweep over α is for --init balanced only"));
        }
        return coercive(depth, q, alpha()?, gamma, level).map(EscapeOutput::Coercive);
    }
    let p = LinearEscape { depth, q, gamma, level };
    let settings = Settings::default();
    let check_level = |alpha: f64| {
        if alpha.powi(depth as i32) >= level {
            Err(InputError::new("--level", format!("must exceed α^L = {:e} (α = {alpha})", alpha.powi(depth as i32))))
        } else {
            Ok(())
        }
    };
    if !args.sweep {
        let alpha = alpha()?;
        let (closed, run, quadrature, formula) = if balance != 0.0 {
            if balance <= -alpha.powf(q) {
                return Err(InputError::new("--balance", format!("must exceed −α^q = {:e}", -alpha.powf(q))));
            }
            let esc = ImbalancedEscape { depth, q, alpha, balance, gamma };
            let x0: f64 = esc.w0().iter().product();
            if level <= x0 {
                return Err(InputError::new("--level", format!("must exceed x_0 = {x0:e}")));
            }
            let formula =
                "∫_{x_0}^{x_1} R''(x) dx / γ^(q−1), per-layer constants (λ, 0, …, 0) (quadrature)".to_string();
            (esc.quadrature(level), esc.integrated(level, &settings), None, formula)
        } else if two_sided {
            let formula = "T with p₊(T) − p₋(T) = x_1, p± = (x_0^c ± cLγ^(q−1)T)^(1/c), c = 1 − m (Brent)".to_string();
            (p.two_sided_closed_form(alpha), p.two_sided_integrated(alpha, &settings), None, formula)
        } else {
            check_level(alpha)?;
            (p.closed_form(alpha), p.integrated(alpha, &settings), Some(p.quadrature(alpha)), p.formula())
        };
        let (integrated, error, stats, reason) = match run {
            Ok(r) => (Some(r.time), Some((r.time - closed).abs() / closed), Some(r.stats), None),
            Err(e) => (None, None, None, Some(e.to_string())),
        };
        let ok = error.is_some_and(|e| e <= AGREEMENT);
        return Ok(EscapeOutput::Single(SingleEscape {
            status: status(ok, reason.is_some()),
            init: "balanced",
            model: args.model.name(),
            balance,
            depth,
            q,
            alpha,
            gradient: gamma,
            level,
            exponent: p.exponent(),
            regime: p.regime().name(),
            formula,
            closed_form: closed,
            integrated,
            quadrature,
            relative_error: error,
            stats,
            inconclusive: reason,
        }));
    }
    let alphas = parse_alphas(&args.alphas).map_err(|m| InputError::new("--alphas", m))?;
    for &a in &alphas {
        check_level(a)?;
    }
    let result = crate::escape::sweep(&p, &alphas, &settings, tick);
    let ok = result
        .rows
        .iter()
        .all(|r| r.integrated.as_ref().is_ok_and(|i| (i.time - r.closed_form).abs() <= AGREEMENT * r.closed_form));
    let failed = result.rows.iter().any(|r| r.integrated.is_err());
    Ok(EscapeOutput::Sweep(SweepEscape {
        status: status(ok, failed),
        init: "balanced",
        depth,
        q,
        gradient: gamma,
        level,
        regime: p.regime().name(),
        growth_exponent: growth_exponent(depth, q),
        sweep: result,
    }))
}

/// `--init coercive` (THEORY §9, the paper's Cor. 4.10): `w_1 = 0`, `w_i = λ` (i ≥ 2), so x_0 = 0.
/// Closed form: `T = ∫_0^{x_1} R''(x) dx / γ^{q−1}` by quadrature of the per-layer-constants
/// potential; integrated: the parameter flow from `(0, λ, …, λ)`; coercivity `μ = λ^{q(L−1)}` and
/// the bound `T ≤ x_1/(μγ^{q−1})`.
fn coercive(depth: usize, q: f64, lambda: f64, gamma: f64, level: f64) -> InputResult<CoerciveRun> {
    if depth < 2 {
        return Err(InputError::new("--depth", "the coercive init (w_1 = 0) needs depth L ≥ 2"));
    }
    let esc = CoerciveEscape { depth, q, lambda, gamma };
    let mu = esc.mu();
    if !(mu.is_finite() && mu > 0.0) {
        return Err(InputError::new("--alpha", format!("μ = λ^(q(L−1)) = {mu:e} is not a positive finite number")));
    }
    let closed = esc.quadrature(level);
    let (integrated, error, stats, reason) = match esc.integrated(level, &Settings::default()) {
        Ok(r) if closed.is_finite() => (Some(r.time), Some((r.time - closed).abs() / closed), Some(r.stats), None),
        Ok(_) => (None, None, None, Some(format!("the quadrature of R'' is not finite ({closed})"))),
        Err(e) => (None, None, None, Some(e.to_string())),
    };
    let ok = error.is_some_and(|e| e <= AGREEMENT);
    Ok(CoerciveRun {
        status: status(ok, reason.is_some()),
        init: "coercive",
        depth,
        q,
        alpha: lambda,
        gradient: gamma,
        level,
        exponent: mirror_exponent(depth, q),
        closed_form: closed,
        integrated,
        coercivity: mu,
        bound: level / (mu * gamma.powf(q - 1.0)),
        relative_error: error,
        stats,
        inconclusive: reason,
    })
}

/// `--level inf` (THEORY §9, validity watershed): for `m = q(L−1)/L > 1` the balanced flow on
/// `f = −γx` blows up at `T* = x_0^{1−m}/(L(m−1)γ^{q−1})`; measured by the log-weight flow to
/// x = 1e150 plus the analytic tail. For m ≤ 1 no blow-up (status ok).
fn blow_up(depth: usize, q: f64, alpha: f64, gamma: f64) -> InputResult<BlowUp> {
    let ln_x0 = depth as f64 * alpha.ln();
    if ln_x0 < f64::MIN_POSITIVE.ln() || ln_x0 >= BLOW_UP_FAR.ln() {
        return Err(InputError::new("--alpha", format!("x_0 = α^L = e^{ln_x0:.1} must lie in [1e-308, 1e150)")));
    }
    let p = LinearEscape { depth, q, gamma, level: BLOW_UP_FAR };
    let mut out = BlowUp {
        status: "ok",
        init: "balanced",
        depth,
        q,
        alpha,
        gradient: gamma,
        level: "inf",
        exponent: p.exponent(),
        regime: p.regime().name(),
        blow_up: false,
        formula: None,
        closed_form: None,
        integrated: None,
        route: None,
        relative_error: None,
        stats: None,
        inconclusive: None,
    };
    let Some(t_star) = p.blow_up_time(alpha) else {
        return Ok(out);
    };
    let (integrated, error, stats, reason) = match p.integrated_in_log_weights(alpha, &Settings::default()) {
        Ok(r) => {
            let t = r.time + p.tail(BLOW_UP_FAR);
            (Some(t), Some((t - t_star).abs() / t_star), Some(r.stats), None)
        }
        Err(e) => (None, None, None, Some(e.to_string())),
    };
    let ok = error.is_some_and(|e| e <= AGREEMENT);
    out.status = status(ok, reason.is_some());
    out.blow_up = true;
    out.formula = Some("x_0^(1−m)/(L(m−1)γ^(q−1))");
    out.closed_form = Some(t_star);
    out.integrated = integrated;
    out.route = Some(format!("ODE in log-weights to x = {BLOW_UP_FAR:e} + analytic tail"));
    out.relative_error = error;
    out.stats = stats;
    out.inconclusive = reason;
    Ok(out)
}
