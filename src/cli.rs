//! Command-line arguments and what each command does.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};

use badclients::audit::AuditLine;
use badclients::config::{import_ini, Config};
use badclients::decision::{Decision, Policy, Verdict};
use badclients::facts::Facts;
use badclients::lists::LoadReport;
use badclients::reserved::{reserved, reserved_facts};

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
    /// Work with the list directory.
    #[command(subcommand)]
    Lists(ListsCommand),
    /// Decide one login and print its audit line.
    ///
    /// Exit status: 0 when the login is allowed, 1 when it is blocked, 2 on an error.
    ///
    /// Example, with the facts written by hand:
    ///   badclients check 176.112.169.218 --user craig --service imap --facts facts.json
    /// where facts.json holds {"host": "rimap26.i.mail.ru", "asn": "AS47764",
    /// "as_cc": "RU", "as_desc": "VK-AS, RU", "net_name": "VK-FRONT", "net_cc": "RU",
    /// "entities": ["MAIL-RU"]} (unknown values are null).
    Check(CheckArgs),
    /// Work with the configuration file.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Debug, Subcommand)]
enum ListsCommand {
    /// Load every list and print each problem as PATH:LINE: error|warning: message.
    ///
    /// Exit status: 0 when there are no errors (warnings are allowed), 1 otherwise.
    Check(Source),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Turn the older tool's bad_clients.conf.ext (INI) into badclients.toml (on stdout);
    /// what cannot be carried over is said on stderr.
    ImportIni {
        /// The INI file, e.g. /etc/dovecot/bad_clients.conf.ext.
        file: PathBuf,
    },
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
        Command::Lists(ListsCommand::Check(source)) => lists_check(&source),
        Command::Check(args) => check(&args),
        Command::Config(ConfigCommand::ImportIni { file }) => import(&file),
    }
}

fn load_policy(source: &Source) -> Result<(Policy, LoadReport)> {
    let loaded = Config::load(source.config.as_deref())?;
    Ok(loaded.policy(source.lists.as_deref())?)
}

fn lists_check(source: &Source) -> Result<ExitCode> {
    let (policy, report) = load_policy(source)?;
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
        None => match reserved(args.ip) {
            Some(range) => reserved_facts(args.ip, range, None),
            None => bail!(
                "{} is a public address and this build cannot look up facts yet; \
                 pass them with --facts FILE",
                args.ip
            ),
        },
    };
    let (policy, report) = load_policy(&args.source)?;
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
    let audit = AuditLine {
        user: &args.user,
        service: &args.service,
        facts: &facts,
        decision: &decision,
    }
    .to_string();
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &check_json(&decision, &audit, &facts))?;
        writeln!(out)?;
    } else {
        writeln!(out, "{audit}")?;
    }
    Ok(match decision.verdict {
        Verdict::Allow => ExitCode::SUCCESS,
        Verdict::Block => ExitCode::from(1),
    })
}

fn check_json(decision: &Decision, audit: &str, facts: &Facts) -> serde_json::Value {
    let hit = decision.hit();
    serde_json::json!({
        "verdict": decision.verdict,
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
    use badclients::decision::Reason;
    match decision.reason {
        Reason::DisabledService(_) => "disabled_service",
        Reason::Reserved(_) => "reserved_address",
        Reason::AllowedNetwork(_) => "allowed_network",
        Reason::AllowedUser(_) => "allowed_user",
        Reason::Listed(_) => "listed",
        Reason::NoMatch => "no_match",
    }
}

fn import(file: &Path) -> Result<ExitCode> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let imported = import_ini::import(&text);
    for note in &imported.notes {
        eprintln!("{}: {note}", file.display());
    }
    print!("{}", import_ini::to_toml(&imported.config));
    Ok(ExitCode::SUCCESS)
}
