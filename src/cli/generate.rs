//! `badclients generate`: man pages and shell completions made from the command-line
//! definition itself, for packaging (`scripts/build-deb.sh`). Hidden from `--help`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::CommandFactory;
use clap_complete::Shell;

use super::args::{Cli, GenerateCommand};

/// Runs one `generate` command.
pub(super) fn run(command: &GenerateCommand) -> Result<ExitCode> {
    match command {
        GenerateCommand::Man { dir } => man(dir),
        GenerateCommand::Completions { dir } => completions(dir),
    }
}

fn man(dir: &Path) -> Result<ExitCode> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    clap_mangen::generate_to(Cli::command(), dir)
        .with_context(|| format!("cannot write the man pages into {}", dir.display()))?;
    Ok(ExitCode::SUCCESS)
}

fn completions(dir: &Path) -> Result<ExitCode> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut cmd = Cli::command();
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        clap_complete::generate_to(shell, &mut cmd, "badclients", dir).with_context(|| {
            format!("cannot write the {shell} completion into {}", dir.display())
        })?;
    }
    Ok(ExitCode::SUCCESS)
}
