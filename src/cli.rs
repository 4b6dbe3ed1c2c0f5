//! Command-line arguments and what each command does.

mod daemon;
mod generate;
mod history;

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};

use badclients::audit::AuditLine;
use badclients::cache::redis::RedisTier;
use badclients::cache::store::CacheStore;
use badclients::config::{import_ini, Config, Mode};
use badclients::decision::{Decision, Policy, Reason, Verdict};
use badclients::facts::Facts;
use badclients::lists::LoadReport;
use badclients::lookup::build::SetupError;
use badclients::lookup::tiers::CacheSizes;
use badclients::lookup::LookupReport;

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
        Command::Lists(ListsCommand::Check(source)) => lists_check(&source),
        Command::Check(args) => check(&args),
        Command::Lookup(args) => lookup(&args),
        Command::Ranges(RangesCommand::Update {
            config,
            from_file,
            provider,
        }) => ranges_update(config.as_deref(), &from_file, &provider),
        Command::Ranges(RangesCommand::Status { config }) => ranges_status(config.as_deref()),
        Command::Cache(CacheCommand::Stats { config }) => cache_stats(config.as_deref()),
        Command::Cache(CacheCommand::Purge { config, ip }) => cache_purge(config.as_deref(), ip),
        Command::Config(ConfigCommand::ImportIni(args)) => import(&args),
        Command::Report(args) => history::report(&args),
        Command::Suggest(args) => history::suggest(&args),
        Command::History(HistoryCommand::Forget(args)) => history::forget(&args),
        Command::Generate(command) => generate::run(&command),
    }
}

/// The policy, what loading its lists found, and the configuration it came from: with
/// `--lists DIR`, the built-in defaults with that list directory, as the option says.
fn load_policy(source: &Source) -> Result<(Policy, LoadReport, Config)> {
    let loaded = match &source.lists {
        Some(_) => badclients::config::LoadedConfig {
            config: Config::default(),
            path: None,
        },
        None => Config::load(source.config.as_deref())?,
    };
    let (policy, report) = badclients::app::policy(&loaded, source.lists.as_deref())?;
    Ok((policy, report, loaded.config))
}

fn lists_check(source: &Source) -> Result<ExitCode> {
    let (policy, report, _) = load_policy(source)?;
    let mut out = std::io::stdout().lock();
    for d in &report.diagnostics {
        writeln!(out, "{d}")?;
    }
    let lists = &policy.lists;
    writeln!(
        out,
        "{} lists, {} entries, {} errors, {} warnings",
        report.files,
        lists.total_entries(),
        report.errors(),
        report.warnings()
    )?;
    Ok(if report.errors() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn read_facts(path: &Path, ip: IpAddr) -> Result<Facts> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the facts file {}", path.display()))?;
    let mut value: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let Some(object) = value.as_object_mut() else {
        bail!("{}: the facts must be a JSON object", path.display());
    };
    object
        .entry("ip")
        .or_insert_with(|| serde_json::Value::String(ip.to_string()));
    let facts: Facts = serde_json::from_value(value)
        .with_context(|| format!("{}: not valid facts", path.display()))?;
    if facts.ip != ip {
        bail!(
            "{}: the facts are for {}, not {ip}",
            path.display(),
            facts.ip
        );
    }
    Ok(facts)
}

fn check(args: &CheckArgs) -> Result<ExitCode> {
    let facts = match &args.facts {
        Some(path) => read_facts(path, args.ip)?,
        None => {
            let loaded = Config::load(args.source.config.as_deref())?;
            let mut looked = look_up(&loaded.config, &[args.ip])?;
            if looked.is_empty() {
                bail!("no answer for {}", args.ip);
            }
            looked.swap_remove(0).facts
        }
    };
    let (policy, report, config) = load_policy(&args.source)?;
    for d in &report.diagnostics {
        eprintln!("{d}");
    }
    let decision = policy.decide(&args.user, &args.service, &facts);
    for f in &decision.pattern_failures {
        eprintln!(
            "warning: pattern {:?} (line {}) failed on this login: {}",
            f.entry.text, f.entry.line, f.message
        );
    }
    if decision.reason == Reason::MatchBudgetExhausted {
        eprintln!(
            "error: the patterns used up the matching budget (match_budget = {}) before all \
             were tried; the login gets [lookup] on_error's verdict",
            policy.match_budget
        );
    }
    // As the daemon: `mode` and `[service_modes]` say whether a refusal is enforced.
    let enforced = config.mode_for(&args.service) == Mode::Enforce;
    let audit = AuditLine {
        user: &args.user,
        service: &args.service,
        facts: &facts,
        decision: &decision,
        enforced,
        password_checked: true,
    }
    .to_string();
    if !decision.log {
        eprintln!(
            "note: the daemon would not log this login ({}): no audit line, no history record",
            match decision.reason {
                Reason::Reserved(_) => "a reserved address, and log_local is off",
                _ => "an address of ignore_networks or ip_net.allow.lst",
            }
        );
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &check_json(&decision, enforced, &audit, &facts))?;
        writeln!(out)?;
    } else {
        writeln!(out, "{audit}")?;
    }
    Ok(match (decision.verdict, enforced) {
        (Verdict::Allow, _) => ExitCode::SUCCESS,
        (Verdict::Block, true) => ExitCode::from(1),
        (Verdict::TempFail, true) => ExitCode::from(3),
        (Verdict::Block | Verdict::TempFail, false) => ExitCode::from(4),
    })
}

fn check_json(
    decision: &Decision,
    enforced: bool,
    audit: &str,
    facts: &Facts,
) -> serde_json::Value {
    let hit = decision.hit();
    serde_json::json!({
        "verdict": decision.verdict,
        "enforced": enforced,
        "reason": reason_name(decision),
        "matched": hit.map(|h| h.label.clone()),
        "file": hit.and_then(|h| h.file.as_ref()).map(|f| f.display().to_string()),
        "line": hit.and_then(|h| h.line),
        "entry": hit.map(|h| h.entry.clone()),
        "logged": decision.log,
        "audit": audit,
        "facts": facts,
    })
}

fn reason_name(decision: &Decision) -> &'static str {
    match decision.reason {
        Reason::DisabledService(_) => "disabled_service",
        Reason::Reserved(_) => "reserved_address",
        Reason::AllowedNetwork(_) => "allowed_network",
        Reason::AllowedUser(_) => "allowed_user",
        Reason::Listed(_) => "listed",
        Reason::NoMatch => "no_match",
        Reason::LookupFailed => "lookup_failed",
        Reason::MatchBudgetExhausted => "match_budget_exhausted",
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

/// One address's lookup, looked up here or by the daemon.
struct Looked {
    facts: Facts,
    /// Each source's line: `ptr: cache 0.1 ms`.
    sources: Vec<String>,
    /// The `lookup --json` form.
    json: serde_json::Value,
}

/// One source's part of a `lookup` line.
fn source_line(source: &str, how: &str, elapsed_ms: f64, error: Option<&str>) -> String {
    match error {
        Some(e) => format!("{source}: {how} ({e}) {elapsed_ms:.1} ms"),
        None => format!("{source}: {how} {elapsed_ms:.1} ms"),
    }
}

impl Looked {
    fn local(report: &LookupReport) -> Result<Looked> {
        let sources = report
            .sources
            .iter()
            .map(|s| {
                let how = serde_json::to_value(s.provenance)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default();
                let error = s.error.as_ref().map(ToString::to_string);
                source_line(
                    s.source.name(),
                    &how,
                    s.elapsed.as_secs_f64() * 1e3,
                    error.as_deref(),
                )
            })
            .collect();
        Ok(Looked {
            facts: report.facts.clone(),
            sources,
            json: serde_json::to_value(report)?,
        })
    }

    /// From the daemon's `GET /v1/lookup` answer (a [`LookupReport`] as JSON).
    fn from_daemon(json: serde_json::Value) -> Result<Looked> {
        let facts: Facts = serde_json::from_value(json["facts"].clone())
            .context("the daemon's lookup has an unknown shape")?;
        let text = |v: &serde_json::Value| v.as_str().unwrap_or("").to_string();
        let sources = json["sources"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|s| {
                source_line(
                    &text(&s["source"]),
                    &text(&s["provenance"]),
                    s["elapsed"].as_f64().unwrap_or(0.0),
                    s["error"].as_str(),
                )
            })
            .collect();
        Ok(Looked {
            facts,
            sources,
            json,
        })
    }
}

/// Looks the addresses up with this process's cache or, when the daemon holds the cache
/// file, through the daemon (`GET /v1/lookup`).
fn look_up(config: &Config, ips: &[IpAddr]) -> Result<Vec<Looked>> {
    let local = runtime()?.block_on(async {
        let lookup = match badclients::app::lookup(config).await {
            Ok((lookup, warnings)) => {
                for w in warnings {
                    eprintln!("badclients: warning: {w}");
                }
                lookup
            }
            Err(SetupError::Store(e)) if e.is_held_elsewhere() => return Ok(None),
            Err(e) => return Err(anyhow::Error::from(e)),
        };
        let mut reports = Vec::new();
        for ip in ips {
            reports.push(lookup.facts(*ip).await);
        }
        // Let the background writers store what was learned before the process exits.
        lookup
            .tiers()
            .flush(std::time::Duration::from_secs(2))
            .await;
        anyhow::Ok(Some(reports))
    })?;
    match local {
        Some(reports) => reports.iter().map(Looked::local).collect(),
        None => ips
            .iter()
            .map(|ip| {
                let json = daemon::request(
                    config,
                    daemon::Method::Get,
                    "/v1/lookup",
                    &[("ip", ip.to_string())],
                    "the cache file",
                )?;
                Looked::from_daemon(json)
            })
            .collect(),
    }
}

fn lookup(args: &LookupArgs) -> Result<ExitCode> {
    let loaded = Config::load(args.config.as_deref())?;
    let looked = look_up(&loaded.config, &args.ips)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        let all: Vec<&serde_json::Value> = looked.iter().map(|l| &l.json).collect();
        serde_json::to_writer_pretty(&mut out, &all)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    for l in &looked {
        writeln!(out, "{}", FactsLine(&l.facts))?;
        writeln!(out, "  {}", l.sources.join("; "))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The cache file, or `None` when another process (the daemon) holds it.
fn open_store(config: &Config) -> Result<(PathBuf, Option<CacheStore>)> {
    let path = config.cache.resolved_path();
    match CacheStore::open(&path) {
        Ok((store, warning)) => {
            if let Some(w) = warning {
                eprintln!("badclients: warning: {w}");
            }
            Ok((path, Some(store)))
        }
        Err(e) if e.is_held_elsewhere() => Ok((path, None)),
        Err(e) => Err(e.into()),
    }
}

fn cache_stats(config: Option<&Path>) -> Result<ExitCode> {
    let loaded = Config::load(config)?;
    let (path, store) = open_store(&loaded.config)?;
    let sizes = match store {
        Some(store) => {
            let mut sizes = CacheSizes {
                path: Some(path.clone()),
                file_bytes: Some(std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0)),
                max_entries: loaded.config.cache.max_entries,
                ..CacheSizes::default()
            };
            sizes.store = store
                .stats()?
                .into_iter()
                .map(|(table, entries)| badclients::lookup::tiers::TableSize {
                    table: table.name().to_string(),
                    entries,
                })
                .collect();
            sizes
        }
        None => {
            let json = daemon::request(
                &loaded.config,
                daemon::Method::Get,
                "/v1/cache/stats",
                &[],
                "the cache file",
            )?;
            serde_json::from_value(json)
                .context("the daemon's cache stats have an unknown shape")?
        }
    };
    let mut out = std::io::stdout().lock();
    let shown = sizes.path.as_deref().unwrap_or(&path);
    writeln!(out, "cache file: {}", shown.display())?;
    writeln!(out, "size: {} bytes", sizes.file_bytes.unwrap_or(0))?;
    for t in &sizes.store {
        writeln!(out, "{:8} {} entries", t.table, t.entries)?;
    }
    if !sizes.memory.is_empty() {
        writeln!(out, "in the daemon's memory:")?;
        for t in &sizes.memory {
            writeln!(out, "  {:8} {} entries", t.table, t.entries)?;
        }
    }
    writeln!(out, "limit: {} entries per table", sizes.max_entries)?;
    Ok(ExitCode::SUCCESS)
}

fn cache_purge(config: Option<&Path>, ip: Option<IpAddr>) -> Result<ExitCode> {
    let loaded = Config::load(config)?;
    let (_, store) = open_store(&loaded.config)?;
    match store {
        Some(store) => {
            let removed = match ip {
                None => store.purge_all()?,
                Some(ip) => badclients::lookup::build::purge_ip(&store, ip)?,
            };
            println!("removed {removed} entries from the cache file");
        }
        None => {
            let query: Vec<(&str, String)> = ip.iter().map(|ip| ("ip", ip.to_string())).collect();
            let json = daemon::request(
                &loaded.config,
                daemon::Method::Post,
                "/v1/cache/purge",
                &query,
                "the cache file",
            )?;
            let count = |key: &str| json[key].as_u64().unwrap_or(0);
            println!("removed {} entries from the cache file", count("store"));
            println!(
                "removed {} entries from the daemon's memory",
                count("memory")
            );
        }
    }
    if let Some(url) = &loaded.config.cache.redis_url {
        let timeout = std::time::Duration::from_millis(loaded.config.cache.redis_timeout_ms);
        let removed = runtime()?.block_on(async {
            let redis = RedisTier::connect(url, timeout).await?;
            match ip {
                None => redis.purge_all().await,
                Some(ip) => badclients::lookup::build::purge_ip_redis(&redis, ip).await,
            }
        })?;
        println!("removed {removed} entries from Redis");
    }
    Ok(ExitCode::SUCCESS)
}

/// `ranges update`: every requested feed downloaded (or imported) and stored. A provider
/// without a feed URL is skipped with a note when it was not asked for by name (the
/// default "all"); a feed that fails is an error and the exit status 1.
fn ranges_update(config: Option<&Path>, files: &[String], only: &[String]) -> Result<ExitCode> {
    use badclients::cloud::{client_request_id, download, CloudError, Provider};
    let loaded = Config::load(config)?;
    let store = badclients::app::feed_store(&loaded.config);
    let mut failed: Vec<Provider> = Vec::new();
    let mut report = |provider: Provider, result: Result<String>| match result {
        Ok(done) => println!("{provider}: {done}"),
        Err(e) => {
            failed.push(provider);
            eprintln!("{provider}: error: {}", error_text(&e));
        }
    };
    if !files.is_empty() {
        for spec in files {
            let Some((name, path)) = spec.split_once('=') else {
                bail!("--from-file wants PROVIDER=PATH, not {spec:?}");
            };
            let provider: Provider = name.parse()?;
            let result = std::fs::read(path)
                .with_context(|| format!("cannot read {path}"))
                .and_then(|bytes| Ok(store.update(provider, &bytes, &format!("file:{path}"))?))
                .map(|m| format!("{} prefixes from {path}", m.prefixes));
            report(provider, result);
        }
    } else {
        let providers: Vec<Provider> = if only.is_empty() {
            Provider::ALL.to_vec()
        } else {
            only.iter().map(|p| p.parse()).collect::<Result<_, _>>()?
        };
        let rt = runtime()?;
        for provider in providers {
            let url = match loaded.config.cloud.urls.get(provider.name()) {
                Some(u) => u.clone(),
                None => match provider.default_url(&client_request_id(b"badclients")) {
                    Ok(url) => url,
                    // Asked for by name: nothing was done, so it fails; else a note.
                    Err(e @ CloudError::NoDefaultUrl { .. }) if only.is_empty() => {
                        eprintln!("{provider}: note: skipped: {e}");
                        if let Ok(Some(meta)) = store.meta(provider) {
                            eprintln!(
                                "{provider}: note: the stored feed ({} prefixes from {}) is kept",
                                meta.prefixes, meta.source
                            );
                        }
                        continue;
                    }
                    Err(e) => {
                        report(provider, Err(e.into()));
                        continue;
                    }
                },
            };
            let result = rt
                .block_on(download(&url, 64 << 20, std::time::Duration::from_secs(60)))
                .map_err(anyhow::Error::from)
                .and_then(|bytes| Ok(store.update(provider, &bytes, &url)?))
                .map(|meta| format!("{} prefixes from {url}", meta.prefixes));
            report(provider, result);
        }
    }
    if failed.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    let names: Vec<&str> = failed.iter().map(|p| p.name()).collect();
    eprintln!(
        "badclients: {} feed(s) failed: {}; each keeps its previous stored feed",
        failed.len(),
        names.join(", ")
    );
    Ok(ExitCode::from(1))
}

fn ranges_status(config: Option<&Path>) -> Result<ExitCode> {
    let loaded = Config::load(config)?;
    let dir = loaded.config.cloud_dir();
    let store = badclients::app::feed_store(&loaded.config);
    println!("feeds in {}", dir.display());
    let status = store.status();
    if status.is_empty() {
        println!("none stored yet: run `badclients ranges update`");
    }
    for s in status {
        println!(
            "{:13} {:>7} prefixes {:>10} bytes  {:>6.1} h old  {}",
            s.provider.to_string(),
            s.prefixes,
            s.bytes,
            s.age.as_secs_f64() / 3600.0,
            s.source
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The facts of a lookup, in the audit line's field syntax.
struct FactsLine<'a>(&'a Facts);

impl std::fmt::Display for FactsLine<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let line = AuditLine {
            user: "",
            service: "",
            facts: self.0,
            decision: &Decision::unlogged_allow(),
            enforced: true,
            password_checked: true,
        }
        .to_string();
        let fields = line
            .split_once(", host=")
            .map(|(_, rest)| format!("host={rest}"))
            .unwrap_or(line);
        write!(f, "{}: {fields}", self.0.ip)
    }
}

/// The shim's settings file's name next to the TOML written with `--output`, and the path
/// the shim reads by default.
const SHIM_SETTINGS_NAME: &str = "dovecot-lua.conf";

fn import(args: &ImportIniArgs) -> Result<ExitCode> {
    let file = &args.file;
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let imported = import_ini::import(&text);
    for note in &imported.notes {
        eprintln!("{}: {note}", file.display());
    }
    let toml = import_ini::to_toml(&imported.config);
    let shim_text = import_ini::to_shim_settings(&imported.shim, file);
    let shim_path = args.shim_settings.clone().or_else(|| {
        args.output
            .as_ref()
            .map(|o| o.with_file_name(SHIM_SETTINGS_NAME))
    });
    let shim_path = shim_path.filter(|_| !imported.shim.is_empty());
    // Check every target before writing any.
    if !args.force {
        for path in args.output.iter().chain(shim_path.iter()) {
            if path.exists() {
                bail!(
                    "{} exists; give --force to overwrite it, or another file",
                    path.display()
                );
            }
        }
    }
    if let (Some(out), Some(shim)) = (&args.output, &shim_path) {
        if out == shim {
            bail!(
                "the TOML and the shim's settings would both go to {}",
                out.display()
            );
        }
    }
    match &args.output {
        Some(path) => {
            write_private(path, &toml)?;
            println!("wrote {}", path.display());
        }
        None => print!("{toml}"),
    }
    match &shim_path {
        Some(path) => {
            write_private(path, &shim_text)?;
            println!(
                "wrote {} (the Lua shim's settings: {})",
                path.display(),
                shim_keys(&imported.shim)
            );
        }
        None if !imported.shim.is_empty() => {
            eprintln!(
                "{}: the Dovecot Lua shim's settings ({}) go in its own file: put these lines in \
                 /etc/badclients/{SHIM_SETTINGS_NAME} (or give --shim-settings FILE, or -o FILE \
                 to write both files):",
                file.display(),
                shim_keys(&imported.shim)
            );
            for (key, value) in &imported.shim {
                eprintln!("  {key} = {value}");
            }
        }
        None => {}
    }
    Ok(ExitCode::SUCCESS)
}

/// `result_block, process_unknown`: the keys of the shim settings.
fn shim_keys(shim: &[(String, String)]) -> String {
    let keys: Vec<&str> = shim.iter().map(|(k, _)| k.as_str()).collect();
    keys.join(", ")
}

/// Writes `text` to `path`; a new file gets mode 0640 (the configuration will hold the API
/// key), an existing one (with --force) keeps its mode and owner.
fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o640)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
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
