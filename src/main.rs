//! The `badclients` command line: the edge where library errors become messages and
//! exit codes.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // The history, its journal and the cache hold personal data: nothing this process
    // creates is for other users.
    badclients::private_files::restrict_umask();
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("badclients: error: {}", cli::error_text(&e));
            ExitCode::from(2)
        }
    }
}
