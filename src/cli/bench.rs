//! `mirrorflow bench`: benchmarks printed as ratios against a baseline run in the same process.

use super::Format;
use mirrorflow::bench;
use mirrorflow::error::InputResult;
use std::path::Path;

/// Runs the benchmark lines and prints them (text or JSON).
pub fn run(user: Option<&Path>, format: Format) -> InputResult<bool> {
    let cards = mirrorflow::cards::library(user)?;
    let lines = vec![
        bench::integrator_vs_rk4(),
        bench::switching_vs_naive(),
        bench::stiff_tail(),
        bench::bregman_dual_vs_penalty(),
        bench::log_time_vs_plain(),
        bench::sign_flow_scaling(),
        bench::gf_vs_lsoda(),
        bench::jobs_scaling(&cards),
    ];
    if format == Format::Json {
        println!("{}", serde_json::to_string_pretty(&lines).expect("serialisable"));
    } else {
        for l in &lines {
            println!(
                "{}
    baseline: {}
    ours:     {}",
                l.name, l.baseline, l.ours
            );
            let rhs = if l.count_ratio.is_finite() { format!("rhs {:.2}x, ", l.count_ratio) } else { String::new() };
            println!("  ratio baseline/ours: {rhs}time {:.2}x\n", l.time_ratio);
        }
    }
    Ok(true)
}
