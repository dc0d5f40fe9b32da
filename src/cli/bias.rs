//! `mirrorflow bias`: the predicted limit on the user's data (the Bregman projection, or GD's
//! effective projection), and on request the flow's limit.

use super::output::{inconclusive, print_output, print_x};
use super::{DataArgs, Format};
use mirrorflow::api::bias::{self, BiasArgs};
use mirrorflow::error::InputResult;
use mirrorflow::verdict::display_number;

/// Runs [`bias::run`] and prints its output.
pub fn run(data: &DataArgs, args: &BiasArgs, format: Format) -> InputResult<bool> {
    let source = data.data.display().to_string();
    let out = bias::run(&data.load()?, args, &source)?;
    inconclusive(&out.reason);
    if format == Format::Json {
        print_output(&out);
        return Ok(out.reason.is_none());
    }
    let Some(x) = &out.x else {
        println!("no interpolator: {}", out.reason.as_deref().unwrap_or_default());
        return Ok(false);
    };
    if let Some(gd) = &out.gd {
        print_x("x", x, "   (GD limit predicted by the effective Bregman projection)");
        println!(
            "residual = {:.3e}   GD: loss {:.3e} after {} steps, relative distance to the prediction {:.3e}",
            out.residual.unwrap_or(f64::NAN),
            gd.loss,
            gd.steps,
            gd.distance
        );
        return Ok(out.reason.is_none());
    }
    print_x("x", x, "");
    if let (Some(residual), Some(objective), Some(gap), Some(s)) = (out.residual, out.objective, out.gap, &out.stats) {
        println!(
            "residual = {residual:.3e}   D_R(x, x0) = {}   gap = {gap:.3e}   ({}: {} iterations, {} gradient, {} Hessian, {} cost evaluations)",
            display_number(objective),
            s.method,
            s.iterations,
            s.gradient_evals,
            s.hessian_evals,
            s.cost_evals
        );
    }
    if let Some(f) = &out.flow {
        println!(
            "flow: loss = {:.3e} at t = {}   relative distance to the projection = {:.3e}",
            f.loss, f.t, f.distance
        );
    }
    Ok(out.reason.is_none())
}
