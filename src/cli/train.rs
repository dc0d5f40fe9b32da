//! `mirrorflow train`: a discrete optimizer on a deep diagonal model on the user's data.

use super::output::print_run;
use super::{DataArgs, RunFormat};
use mirrorflow::api::train::{self, TrainArgs};
use mirrorflow::error::InputResult;
use mirrorflow::verdict::display_number;

/// Runs [`train::run`] and prints its output (text, JSON or the trajectory as CSV).
pub fn run(data: &DataArgs, args: &TrainArgs, format: RunFormat) -> InputResult<bool> {
    let out = train::run(&data.load()?, args)?;
    let reason = out.reason.as_ref().map(|r| format!("{r}; lower --lr"));
    Ok(print_run(&out, &out.x, &out.trajectory, &out.warning, &reason, format, || {
        println!(
            "loss = {:.3e} after {} steps (flow time Σ η_k = {})",
            out.loss,
            out.steps,
            display_number(out.flow_time)
        );
    }))
}
