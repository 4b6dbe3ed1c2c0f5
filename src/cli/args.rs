//! The command line's arguments (clap derive): the commands, their options and
//! arguments.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use badclients::config::import_ini;

/// Keeps "bad" mail clients — apps and services that log in to your IMAP/POP3/SMTP server
/// from their own cloud with your users' passwords — away from your mail server.
///
/// badclients looks up where a client IP comes from (AS number, AS name and country,
/// RDAP network name, country and entities, reverse DNS), checks that against your deny
/// lists, and writes one `mail-audit:` line per login.
#[derive(Debug, Parser)]
#[command(name = "badclients", version, about, long_about)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
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
    Report(ReportArgs),
    /// Propose deny-list entries (AS, cloud service, rev_host pattern, entity) for networks
    /// where several users log in and that look like hosting, with the evidence. Prints
    /// list lines with comments; never writes a list.
    Suggest(SuggestArgs),
    /// Change the decision history.
    #[command(subcommand)]
    History(HistoryCommand),
    /// Man pages and shell completions, for packaging.
    #[command(subcommand, hide = true)]
    Generate(GenerateCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum HistoryCommand {
    /// Delete every record of one user (ignoring case) from the decision history, through
    /// the daemon while it runs, else in the file (after committing its journal). Prints
    /// how many records were removed. Audit log lines in the system log are not touched.
    Forget(ForgetArgs),
    /// Create or upgrade the shared history's schema in PostgreSQL (`[history] backend =
    /// "postgres"`), as the daemon does at start; prints the version found and the version
    /// now. Safe to run on several nodes at once.
    Migrate {
        /// The configuration file (for `[history] postgres_url`).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ListsCommand {
    /// Load every list and print each problem as PATH:LINE: error|warning: message.
    ///
    /// Exit status: 0 when there are no errors (warnings are allowed), 1 otherwise.
    Check(Source),
}

#[derive(Debug, Args)]
pub(crate) struct LookupArgs {
    /// The addresses (IPv4 or IPv6).
    #[arg(required = true)]
    pub(crate) ips: Vec<IpAddr>,
    /// The configuration file.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Print a JSON array: per IP the facts and the sources' reports.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum CacheCommand {
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
pub(crate) enum RangesCommand {
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
pub(crate) enum ConfigCommand {
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
pub(crate) struct ImportIniArgs {
    /// The INI file, e.g. /etc/dovecot/bad_clients.conf.ext.
    pub(crate) file: PathBuf,
    /// Write the TOML to FILE (mode 0640) instead of stdout, and the Lua shim's settings,
    /// when the INI has any, to dovecot-lua.conf in FILE's directory.
    #[arg(long, short, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
    /// Write the Lua shim's settings to FILE (default with --output: dovecot-lua.conf next
    /// to it).
    #[arg(long, value_name = "FILE")]
    pub(crate) shim_settings: Option<PathBuf>,
    /// Overwrite files that exist.
    #[arg(long)]
    pub(crate) force: bool,
}

/// Where the lists come from.
#[derive(Debug, Args)]
pub(crate) struct Source {
    /// The configuration file (default: ./badclients.toml, then
    /// /etc/badclients/badclients.toml, then built-in defaults).
    #[arg(long, value_name = "FILE", conflicts_with = "lists")]
    pub(crate) config: Option<PathBuf>,
    /// Use this list directory with default settings instead of a configuration.
    #[arg(long, value_name = "DIR")]
    pub(crate) lists: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// The client IP address (IPv4 or IPv6).
    pub(crate) ip: IpAddr,
    /// The user name of the login.
    #[arg(long, short)]
    pub(crate) user: String,
    /// The service (imap, pop3, smtp, …).
    #[arg(long, short)]
    pub(crate) service: String,
    /// Read the facts about the IP from this JSON file instead of looking them up.
    #[arg(long, value_name = "FACTS.json")]
    pub(crate) facts: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) source: Source,
    /// Print one JSON object (verdict, matched, file, line, entry, audit, facts).
    #[arg(long)]
    pub(crate) json: bool,
}

/// What to read and which part of it.
#[derive(Debug, Args)]
pub(crate) struct Input {
    /// Audit log files to read instead of the history (`-` for stdin): this daemon's
    /// `mail-audit:` lines or the older tool's, e.g. `journalctl -g mail-audit -o cat`
    /// or `-o short-iso` (times without a zone are taken as UTC).
    #[arg(value_name = "LOG")]
    pub(crate) files: Vec<PathBuf>,
    /// Only logins since then: a span (24h, 7d, 2w, 90m) or a UTC date (2026-11-01,
    /// 2026-11-01T12:00).
    #[arg(long, value_name = "WHEN")]
    pub(crate) since: Option<String>,
    /// Only this user's logins (ignoring case).
    #[arg(long)]
    pub(crate) user: Option<String>,
    /// Only the decisions of this node, by its `[history] node` name (with the shared
    /// PostgreSQL history; the redb file holds this node's own decisions only).
    #[arg(long, value_name = "NAME")]
    pub(crate) node: Option<String>,
    /// Take this UTC time as now, for spans and for the year of syslog dates (which have
    /// none): reports on old logs come out the same every time.
    #[arg(long, value_name = "DATE")]
    pub(crate) now: Option<String>,
    /// The configuration file (for the history file, the lists and known_good.lst).
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum RankBy {
    Users,
    Logins,
}

#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    #[command(flatten)]
    pub(crate) input: Input,
    /// Print JSON.
    #[arg(long, conflicts_with = "csv")]
    pub(crate) json: bool,
    /// Print CSV (one table; the first column names the section).
    #[arg(long)]
    pub(crate) csv: bool,
    /// Rows per ranking (0: all).
    #[arg(long, default_value_t = 20)]
    pub(crate) top: usize,
    /// Rank ASes, clouds and countries by distinct users or by logins.
    #[arg(long, value_enum, default_value_t = RankBy::Users)]
    pub(crate) by: RankBy,
}

#[derive(Debug, Args)]
pub(crate) struct ForgetArgs {
    /// The user whose records go (compared ignoring ASCII case, as `report --user`).
    #[arg(long)]
    pub(crate) user: String,
    /// The configuration file (for the history file and the daemon's address).
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct SuggestArgs {
    #[command(flatten)]
    pub(crate) input: Input,
    /// Propose only what at least this many distinct users logged in from.
    #[arg(long, default_value_t = 3)]
    pub(crate) min_users: usize,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `badclients generate`: what to write.
#[derive(Debug, Subcommand)]
pub(crate) enum GenerateCommand {
    /// Write badclients.1 and one page per subcommand (badclients-serve.1, …) into DIR.
    Man {
        /// The directory (created when missing).
        dir: PathBuf,
    },
    /// Write the bash (badclients.bash), zsh (_badclients) and fish (badclients.fish)
    /// completions into DIR.
    Completions {
        /// The directory (created when missing).
        dir: PathBuf,
    },
}
