//! `lists check` and `check`: the policy from the configuration (or `--lists`), one
//! decision for an address, as text or JSON.

use std::io::Write;
use std::net::IpAddr;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};

use badclients::audit::AuditLine;
use badclients::config::{Config, Mode};
use badclients::decision::{Decision, Policy, Reason, Verdict};
use badclients::facts::Facts;
use badclients::lists::LoadReport;

use super::args::{CheckArgs, Source};

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

pub(super) fn lists_check(source: &Source) -> Result<ExitCode> {
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

pub(super) fn check(args: &CheckArgs) -> Result<ExitCode> {
    let facts = match &args.facts {
        Some(path) => read_facts(path, args.ip)?,
        None => {
            let loaded = Config::load(args.source.config.as_deref())?;
            let mut looked = super::lookup::look_up(&loaded.config, &[args.ip])?;
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
