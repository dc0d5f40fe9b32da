//! `mirrorflow saddle-to-saddle`: Algorithm 1 of Pesme & Flammarion 2023 on the user's data.

use super::output::print_json;
use super::{DataArgs, Format};
use mirrorflow::error::{InputError, InputResult};
use mirrorflow::saddle::{saddle_to_saddle, Face};

/// Runs the limit process ([`saddle_to_saddle`]) and prints jump times, saddles, duals and losses.
pub fn run(data: &DataArgs, max_jumps: usize, format: Format) -> InputResult<bool> {
    let source = data.data.display().to_string();
    let r = saddle_to_saddle(&data.load()?, max_jumps, Face::SignConstrained).map_err(|e| match e.location {
        l if l == "max_jumps" => InputError::new("--max-jumps", e.message),
        l => InputError::new(format!("{source}: {l}"), e.message),
    })?;
    if format == Format::Json {
        let mut v = serde_json::to_value(&r).expect("plain numbers serialise");
        v["status"] = "ok".into();
        print_json(v);
    } else {
        println!("τ_0 = 0  f = {:.12e}  x = 0  s = 0", r.initial_loss);
        for k in 0..r.times.len() {
            println!("τ_{} = {:.12}  f = {:.12e}", k + 1, r.times[k], r.losses[k]);
            println!("  x = {:?}\n  s = {:?}", r.saddles[k], r.duals[k]);
        }
        println!("{}", if r.global_min { "global minimiser reached" } else { "stopped at --max-jumps" });
    }
    Ok(true)
}
