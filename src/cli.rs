//! Command-line arguments and what each command does.

mod cache;
mod check;
mod daemon;
mod generate;
mod history;
mod import;
mod lookup;
mod ranges;

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use badclients::config::import_ini;

/// Keeps "bad" mail clients — apps and services that log in to your IMAP/POP3/SMTP server
/// from their own cloud with your users' passwords — away from your mail server.
///
/// badclients looks up where a client IP comes from (AS number, AS name and country,
/// RDAP network name, country and entities, reverse DNS), checks that against your deny
/// lists, and writes one `mail-audit:` line per login.
#[derive(Debug, Parser)]
#[command(name = "badclients", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the daemon: Dovecot's auth-policy endpoint, the Lua shim's endpoint, /metrics,
    /// and (when configured) the Postfix policy service.
    ///
    /// Without a configuration it listens on 127.0.0.1:8670 with ./lists. SIGHUP (or
    /// editing a list file) reloads lists and configuration; SIGTERM stops after answering
    /// the requests in flight.
    Serve {
        /// The configuration file.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Work with the list directory.
    #[command(subcommand)]
    Lists(ListsCommand),
    /// Decide one login and print its audit line.
    ///
    /// Without --facts the facts are looked up (Team Cymru, RDAP, reverse DNS) through the
    /// configured servers and cache.
    ///
    /// Exit status: 0 when the login is allowed, 1 when it is blocked, 2 on an error,
    /// 3 when the lookups failed and `on_error = "tempfail"`, 4 when it would be blocked
    /// (or refused for now) but `mode` or `[service_modes]` says `audit` for the service:
    /// the daemon lets it in and logs `enforced=False`, as the audit line printed says.
    ///
    /// Example, with the facts written by hand:
    ///   badclients check 176.112.169.218 --user craig --service imap --facts facts.json
    /// where facts.json holds {"host": "rimap26.i.mail.ru", "asn": "AS47764",
    /// "as_cc": "RU", "as_desc": "VK-AS, RU", "net_name": "VK-FRONT", "net_cc": "RU",
    /// "entities": ["MAIL-RU"]} (unknown values are null).
    Check(CheckArgs),
    /// Look up the facts about IP addresses and print them, with where each source's
    /// answer came from (cache or upstream) and how long it took.
    Lookup(LookupArgs),
    /// Inspect or empty the lookup cache.
    #[command(subcommand)]
    Cache(CacheCommand),
    /// The cloud providers' published address ranges (for cloud.deny.lst).
    #[command(subcommand)]
    Ranges(RangesCommand),
    /// Work with the configuration file.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Who logged in from where: blocked users and why, each user's login sources, ASes
    /// and clouds ranked by users and logins with the candidates for a list.
    ///
    /// Reads the daemon's decision history (through the daemon while it runs), or audit
    /// log files given as arguments, e.g.
    ///   journalctl -g mail-audit -o short-iso | badclients report --since 7d -
    Report(history::ReportArgs),
    /// Propose deny-list entries (AS, cloud service, rev_host pattern, entity) for networks
    /// where several users log in and that look like hosting, with the evidence. Prints
    /// list lines with comments; never writes a list.
    Suggest(history::SuggestArgs),
    /// Change the decision history.
    #[command(subcommand)]
    History(HistoryCommand),
    /// Man pages and shell completions, for packaging.
    #[command(subcommand, hide = true)]
    Generate(generate::GenerateCommand),
}

#[derive(Debug, Subcommand)]
enum HistoryCommand {
    /// Delete every record of one user (ignoring case) from the decision history, through
    /// the daemon while it runs, else in the file (after committing its journal). Prints
    /// how many records were removed. Audit log lines in the system log are not touched.
    Forget(history::ForgetArgs),
}

#[derive(Debug, Subcommand)]
enum ListsCommand {
    /// Load every list and print each problem as PATH:LINE: error|warning: message.
    ///
    /// Exit status: 0 when there are no errors (warnings are allowed), 1 otherwise.
    Check(Source),
}

#[derive(Debug, Args)]
struct LookupArgs {
    /// The addresses (IPv4 or IPv6).
    #[arg(required = true)]
    ips: Vec<IpAddr>,
    /// The configuration file.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print a JSON array: per IP the facts and the sources' reports.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum CacheCommand {
    /// Entries per table and the cache file's size.
    Stats {
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Remove every entry, or only those covering one address.
    Purge {
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Only the entries for this address (its networks, its PTR).
        #[arg(long)]
        ip: Option<IpAddr>,
    },
}

#[derive(Debug, Subcommand)]
enum RangesCommand {
    /// Download the feeds (from [cloud.urls] or the providers' official URLs) or import
    /// files, validate them and store them; a feed that fails keeps the previous one. The
    /// daemon picks the new feeds up within seconds.
    ///
    /// Azure publishes no stable URL: without `[cloud.urls] azure` it is skipped with a note
    /// (set it to the current ServiceTags_Public_YYYYMMDD.json link, or import the file with
    /// --from-file azure=FILE).
    ///
    /// Exit status: 0 when every feed with a URL (or file) was stored, 1 when one failed.
    ///
    /// Example: badclients ranges update --from-file aws=ip-ranges.json --from-file m365=endpoints.json
    Update {
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Import PROVIDER's feed from a file instead of downloading (repeatable).
        #[arg(long = "from-file", value_name = "PROVIDER=PATH")]
        from_file: Vec<String>,
        /// Download only these providers (aws, gcp, azure, m365, linode, oracle,
        /// digitalocean); default: all.
        #[arg(long, value_name = "PROVIDER")]
        provider: Vec<String>,
    },
    /// Age, size and source of each stored feed.
    Status {
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Turn the older tool's bad_clients.conf.ext (INI) into badclients.toml (on stdout, or
    /// --output FILE) and the Lua shim's settings file; what cannot be carried over is said
    /// on stderr.
    ///
    /// The INI's result_success, result_block and process_unknown belong to the Dovecot Lua
    /// passdb shim (contrib/dovecot/README.md), not to badclients.toml: with --output they
    /// go to dovecot-lua.conf next to FILE (or --shim-settings FILE); on stdout alone, stderr
    /// shows them and where they go. Existing files are not overwritten without --force.
    ///
    /// Example: badclients config import-ini /etc/dovecot/bad_clients.conf.ext -o /etc/badclients/badclients.toml --force
    #[command(after_help = import_ini::KEYS)]
    ImportIni(ImportIniArgs),
}

#[derive(Debug, Args)]
struct ImportIniArgs {
    /// The INI file, e.g. /etc/dovecot/bad_clients.conf.ext.
    file: PathBuf,
    /// Write the TOML to FILE (mode 0640) instead of stdout, and the Lua shim's settings,
    /// when the INI has any, to dovecot-lua.conf in FILE's directory.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Write the Lua shim's settings to FILE (default with --output: dovecot-lua.conf next
    /// to it).
    #[arg(long, value_name = "FILE")]
    shim_settings: Option<PathBuf>,
    /// Overwrite files that exist.
    #[arg(long)]
    force: bool,
}

/// Where the lists come from.
#[derive(Debug, Args)]
struct Source {
    /// The configuration file (default: ./badclients.toml, then
    /// /etc/badclients/badclients.toml, then built-in defaults).
    #[arg(long, value_name = "FILE", conflicts_with = "lists")]
    config: Option<PathBuf>,
    /// Use this list directory with default settings instead of a configuration.
    #[arg(long, value_name = "DIR")]
    lists: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct CheckArgs {
    /// The client IP address (IPv4 or IPv6).
    ip: IpAddr,
    /// The user name of the login.
    #[arg(long, short)]
    user: String,
    /// The service (imap, pop3, smtp, …).
    #[arg(long, short)]
    service: String,
    /// Read the facts about the IP from this JSON file instead of looking them up.
    #[arg(long, value_name = "FACTS.json")]
    facts: Option<PathBuf>,
    #[command(flatten)]
    source: Source,
    /// Print one JSON object (verdict, matched, file, line, entry, audit, facts).
    #[arg(long)]
    json: bool,
}

/// Runs one command; the `ExitCode` is the command's own status.
pub fn run(cli: Cli) -> Result<ExitCode> {
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
        Command::Generate(command) => generate::run(&command),
    }
}

fn serve(config: Option<PathBuf>) -> Result<ExitCode> {
    badclients::server::logging::init();
    runtime()?.block_on(badclients::server::run(config))?;
    Ok(ExitCode::SUCCESS)
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// An error and its causes as one line, `outer: cause: …`, where a cause the message
/// before it already quotes (library errors often end in their source's text) is said once.
pub fn error_text(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}
