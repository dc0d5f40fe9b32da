//! The `mirrorflow` command line: list, show and check theorem cards; run flows on your data.

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // a closed pipe (`mirrorflow check --all | head -1`) ends the process quietly, as for any
    // Unix filter, instead of a panic in println!
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    match cli::run(cli::Cli::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
