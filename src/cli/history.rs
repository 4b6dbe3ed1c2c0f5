//! `badclients report` and `badclients suggest`: the decision history (read from the
//! history file, or from the daemon when it holds the file, or from the shared PostgreSQL
//! history of every node with `[history] backend = "postgres"`) or audit log lines read
//! from files or stdin, aggregated and printed; `badclients history forget`: one user's records
//! deleted, the same two ways.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{bail, Context as _, Result};

use badclients::analysis::aggregate::{self, AggregateOptions, Summary};
use badclients::analysis::known_good::KnownGood;
use badclients::analysis::report::{Context, InputStats, Report, ReportOptions};
use badclients::analysis::suggest::{self, SuggestOptions, Suggestion};
use badclients::analysis::time::parse_since;
use badclients::app::HistorySource;
use badclients::audit::escape;
use badclients::auditlog::{Clock, LogFiles};
use badclients::config::{Config, LoadedConfig};
use badclients::history::codec::Strings;
use badclients::history::store::{Forgotten, HistoryError, HistoryStore};
use badclients::history::{now_us, Filter};

use super::args::{ForgetArgs, Input, RankBy, ReportArgs, SuggestArgs};

impl Input {
    fn now_us(&self) -> Result<u64> {
        match &self.now {
            Some(n) => parse_since(n, now_us()).context("--now"),
            None => Ok(now_us()),
        }
    }

    fn filter(&self) -> Result<Filter> {
        let since_us = match &self.since {
            Some(s) => Some(parse_since(s, self.now_us()?).context("--since")?),
            None => None,
        };
        Ok(Filter {
            since_us,
            until_us: None,
            user: self.user.as_deref().map(escape),
        })
    }
}

/// Where the summary came from.
enum Summarized {
    Local(Box<Summary>, Option<InputStats>),
    /// The daemon answered (it holds the history file).
    Daemon(serde_json::Value),
}

fn summarize(
    input: &Input,
    loaded: &LoadedConfig,
    options: AggregateOptions,
    daemon_path: &str,
    query: &[(&str, String)],
) -> Result<Summarized> {
    let filter = input.filter()?;
    if !input.files.is_empty() {
        let files = LogFiles {
            files: input.files.clone(),
            clock: Clock::at(input.now_us()?),
        };
        if input.node.is_some() {
            bail!("--node selects decisions of the history, not of audit log files");
        }
        let (summary, stats) = aggregate::summarize(&files, &filter, options)?;
        return Ok(Summarized::Local(Box::new(summary), stats));
    }
    let source = HistorySource::of(&loaded.config);
    source.check_node(input.node.as_deref())?;
    if matches!(source, HistorySource::Postgres { .. }) {
        return summarize_shared(&source, input.node.clone(), &filter, options);
    }
    let path = loaded.config.history_path();
    if !path.exists() {
        bail!(
            "no decision history at {} (the daemon writes it with [history] enabled); \
             pass audit log files to report on them instead",
            path.display()
        );
    }
    match open_stopped(&path) {
        Ok((store, _)) => {
            let (summary, stats) = aggregate::summarize(&store, &filter, options)?;
            Ok(Summarized::Local(Box::new(summary), stats))
        }
        Err(HistoryError::Busy { .. }) => {
            let mut q: Vec<(&str, String)> = query.to_vec();
            if let Some(s) = filter.since_us {
                q.push(("since_us", s.to_string()));
            }
            if let Some(u) = &filter.user {
                q.push(("user", u.clone()));
            }
            Ok(Summarized::Daemon(ask_daemon(
                &loaded.config,
                daemon_path,
                &q,
            )?))
        }
        Err(e) => Err(e.into()),
    }
}

/// Reads the shared PostgreSQL history (every node's decisions, or `node`'s).
fn summarize_shared(
    source: &HistorySource,
    node: Option<String>,
    filter: &Filter,
    options: AggregateOptions,
) -> Result<Summarized> {
    let what = source.describe();
    let runtime = super::runtime::runtime()?;
    let reader = runtime
        .block_on(source.pg_reader(node))
        .context("the history is not in PostgreSQL")?
        .with_context(|| format!("cannot read the shared history at {what}"))?;
    // The reader blocks on the runtime from this (non-worker) thread.
    let (summary, stats) = aggregate::summarize(&reader, filter, options)
        .with_context(|| format!("cannot read the shared history at {what}"))?;
    Ok(Summarized::Local(Box::new(summary), stats))
}

/// Asks the daemon (which holds the history file) over its HTTP listener.
fn ask_daemon(config: &Config, path: &str, query: &[(&str, String)]) -> Result<serde_json::Value> {
    super::daemon::request(
        config,
        super::daemon::Method::Get,
        path,
        query,
        "the history file",
    )
}

fn context_parts(loaded: &LoadedConfig) -> Result<(badclients::decision::Policy, KnownGood)> {
    let (policy, _) = badclients::app::policy(loaded, None)?;
    let (kg, diagnostics) = KnownGood::load(&loaded.config.known_good_path());
    for d in diagnostics {
        eprintln!("{d}");
    }
    Ok((policy, kg))
}

pub(super) fn report(args: &ReportArgs) -> Result<ExitCode> {
    let loaded = Config::load(args.input.config.as_deref())?;
    let options = ReportOptions {
        top: args.top,
        by_logins: args.by == RankBy::Logins,
    };
    let query = [
        ("top", args.top.to_string()),
        (
            "by",
            if options.by_logins { "logins" } else { "users" }.to_string(),
        ),
    ];
    let agg = AggregateOptions::default();
    let report = match summarize(&args.input, &loaded, agg, "/v1/history/report", &query)? {
        Summarized::Local(summary, input) => {
            let (policy, kg) = context_parts(&loaded)?;
            let cx = Context {
                lists: Some(&policy.lists),
                known_good: Some(&kg),
            };
            let mut report = Report::build(&summary, &cx, options);
            report.since_us = args.input.filter()?.since_us;
            report.user = args.input.user.as_deref().map(escape);
            report.input = input;
            report
        }
        Summarized::Daemon(value) => {
            serde_json::from_value(value).context("the daemon's report has an unknown shape")?
        }
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else if args.csv {
        out.write_all(report.to_csv().as_bytes())?;
    } else {
        out.write_all(report.to_table().as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn suggest(args: &SuggestArgs) -> Result<ExitCode> {
    let loaded = Config::load(args.input.config.as_deref())?;
    let options = SuggestOptions {
        min_users: args.min_users.max(1),
    };
    let query = [("min_users", options.min_users.to_string())];
    let agg = AggregateOptions {
        bucket_us: 0,
        for_suggest: true,
    };
    let suggestions: Vec<Suggestion> =
        match summarize(&args.input, &loaded, agg, "/v1/history/suggest", &query)? {
            Summarized::Local(summary, input) => {
                if let Some(input) = input.filter(|i| i.malformed > 0) {
                    eprintln!(
                        "badclients: skipped {} malformed audit line(s)",
                        input.malformed
                    );
                }
                let (policy, kg) = context_parts(&loaded)?;
                let cx = Context {
                    lists: Some(&policy.lists),
                    known_good: Some(&kg),
                };
                suggest::suggest(&summary, &cx, options)
            }
            Summarized::Daemon(value) => serde_json::from_value(value)
                .context("the daemon's suggestions have an unknown shape")?,
        };
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &suggestions)?;
        writeln!(out)?;
    } else {
        out.write_all(suggest::render(&suggestions, options).as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Opens the history file itself — `Busy` while the daemon holds it — and commits what
/// its journal still holds, as the daemon's next start would; gives the store and its
/// strings.
fn open_stopped(path: &std::path::Path) -> Result<(HistoryStore, Strings), HistoryError> {
    let (store, warning) = HistoryStore::open(path)?;
    if let Some(w) = warning {
        eprintln!("badclients: warning: {w}");
    }
    let mut strings = store.strings()?;
    let replay = badclients::history::writer::replay_journal(&store, &mut strings, path)?;
    for w in replay.warnings {
        eprintln!("badclients: {w}");
    }
    Ok((store, strings))
}

pub(super) fn forget(args: &ForgetArgs) -> Result<ExitCode> {
    if args.user.is_empty() {
        bail!("--user must not be empty");
    }
    let loaded = Config::load(args.config.as_deref())?;
    let user = escape(&args.user);
    if loaded.config.history.backend == badclients::config::HistoryBackend::Postgres {
        return super::history_shared::forget(&loaded.config, &user);
    }
    let path = loaded.config.history_path();
    if !path.exists() {
        bail!(
            "no decision history at {} (the daemon writes it with [history] enabled)",
            path.display()
        );
    }
    let (forgotten, how) = match open_stopped(&path) {
        // The journal's records were committed (and its segments removed) by the open, so
        // none of the user's records comes back at the daemon's next start.
        Ok((store, mut strings)) => (store.forget_user(&user, &mut strings)?, "in"),
        Err(HistoryError::Busy { .. }) => {
            let answer = super::daemon::request(
                &loaded.config,
                super::daemon::Method::Post,
                "/v1/history/forget",
                &[("user", user.clone())],
                "the history file",
            )?;
            let forgotten: Forgotten = serde_json::from_value(answer)
                .context("the daemon's answer to forget has an unknown shape")?;
            (forgotten, "by the daemon in")
        }
        Err(e) => return Err(e.into()),
    };
    println!(
        "removed {} record(s) of user {user} ({} string(s) no other record used) {how} {}",
        forgotten.records,
        forgotten.strings,
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}
