//! `mirrorflow flow`: the steepest flow of a deep diagonal model on the user's data.

use super::output::{print_run, progress_bar};
use super::{DataArgs, RunFormat};
use mirrorflow::api::flow::{self, FlowArgs};
use mirrorflow::error::InputResult;

/// Runs [`flow::run`] and prints its output (text, JSON or the trajectory as CSV).
pub fn run(data: &DataArgs, args: &FlowArgs, format: RunFormat) -> InputResult<bool> {
    // a bar in thousandths of the horizon (on a terminal only)
    let bar = progress_bar(1000, false, "‰ of t_end");
    let out = flow::run(&data.load()?, args, &|f| bar.set_position((1000.0 * f).clamp(0.0, 1000.0) as u64))?;
    bar.finish_and_clear();
    Ok(print_run(&out, &out.x, &out.trajectory, &out.warning, &out.reason, format, || {
        println!(
            "loss = {:.3e} at t = {:.6}   ({} steps, {} rhs evaluations, {} switching events)",
            out.loss, out.t, out.stats.steps, out.stats.rhs_evals, out.stats.events
        );
        if let Some(ts) = out.stationary_at {
            println!("stationary point (∇f = 0 up to the integration tolerance) reached at t = {ts:.6}; held there");
        }
    }))
}
