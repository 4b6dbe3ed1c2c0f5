//! `lookup`: the facts about addresses, looked up with this process's cache or through the
//! daemon, one line per source.

use std::io::Write;
use std::net::IpAddr;
use std::process::ExitCode;

use anyhow::{Context, Result};

use badclients::app::SetupError;
use badclients::audit::AuditLine;
use badclients::config::Config;
use badclients::decision::Decision;
use badclients::facts::Facts;
use badclients::lookup::LookupReport;

use super::args::LookupArgs;
use super::daemon;
use super::runtime::runtime;

/// One address's lookup, looked up here or by the daemon.
pub(super) struct Looked {
    pub(super) facts: Facts,
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
pub(super) fn look_up(config: &Config, ips: &[IpAddr]) -> Result<Vec<Looked>> {
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

pub(super) fn lookup(args: &LookupArgs) -> Result<ExitCode> {
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
