//! `mirrorflow train`: a discrete optimizer on a deep diagonal model on the user's data.

use super::output::{inconclusive, print_output, print_x, trajectory_csv};
use super::{DataArgs, RunFormat};
use mirrorflow::api::train::{self, TrainArgs};
use mirrorflow::error::InputResult;
use mirrorflow::verdict::display_number;

/// Runs [`train::run`] and prints its output (text, JSON or the trajectory as CSV).
pub fn run(data: &DataArgs, args: &TrainArgs, format: RunFormat) -> InputResult<bool> {
    let out = train::run(&data.load()?, args)?;
    if let Some(w) = &out.warning {
        eprintln!("warning: {w}");
    }
    match format {
        RunFormat::Csv => print!("{}", trajectory_csv(&out.trajectory)),
        RunFormat::Json => print_output(&out),
        RunFormat::Text => {
            print_x("x", &out.x, "");
            println!(
                "loss = {:.3e} after {} steps (flow time η·K = {})",
                out.loss,
                out.steps,
                display_number(out.flow_time)
            );
        }
    }
    if out.reason.is_some() {
        inconclusive(&out.reason.as_ref().map(|r| format!("{r}; lower --lr")));
    }
    Ok(out.reason.is_none())
}
