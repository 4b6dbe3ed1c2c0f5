//! Command-line arguments and what each command does.

mod args;
mod cache;
mod check;
mod daemon;
mod error_text;
mod generate;
mod history;
mod history_shared;
mod import;
mod lookup;
mod ranges;
mod runtime;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

pub(crate) use args::Cli;
use args::{CacheCommand, Command, ConfigCommand, HistoryCommand, ListsCommand, RangesCommand};
pub(crate) use error_text::error_text;
use runtime::runtime;

/// Runs one command; the `ExitCode` is the command's own status.
pub(crate) fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Serve { config } => serve(config),
        Command::Lists(ListsCommand::Check(source)) => check::lists_check(&source),
        Command::Check(args) => check::check(&args),
        Command::Lookup(args) => lookup::lookup(&args),
        Command::Ranges(RangesCommand::Update {
            config,
            from_file,
            provider,
        }) => ranges::ranges_update(config.as_deref(), &from_file, &provider),
        Command::Ranges(RangesCommand::Status { config }) => {
            ranges::ranges_status(config.as_deref())
        }
        Command::Cache(CacheCommand::Stats { config }) => cache::cache_stats(config.as_deref()),
        Command::Cache(CacheCommand::Purge { config, ip }) => {
            cache::cache_purge(config.as_deref(), ip)
        }
        Command::Config(ConfigCommand::ImportIni(args)) => import::import(&args),
        Command::Report(args) => history::report(&args),
        Command::Suggest(args) => history::suggest(&args),
        Command::History(HistoryCommand::Forget(args)) => history::forget(&args),
        Command::History(HistoryCommand::Migrate { config }) => {
            history_shared::migrate(config.as_deref())
        }
        Command::Generate(command) => generate::run(&command),
    }
}

fn serve(config: Option<PathBuf>) -> Result<ExitCode> {
    badclients::server::logging::init();
    runtime()?.block_on(badclients::server::run(config))?;
    Ok(ExitCode::SUCCESS)
}
