//! TEMPORARY: the old hand-written renderer, to compare the templates' output with.
#![allow(dead_code, clippy::all)]
use super::data::{Health, ListRow, Overview, UserView};
use super::range::Range;
use crate::history::aggregate::{OutcomeCounts, UserSummary};
use crate::history::report::{Report, Status};
use crate::history::store::{HistoryError, HistoryStats};
use crate::history::time::format_minute;
use crate::history::writer::WriterCounters;
use crate::history::{now_us, Outcome, Record};
use crate::lists::Severity;
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};

/// `value` with `& < > " '` replaced by character references: safe between tags and
/// inside quoted attribute values.
pub fn html_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    // Writing into a String cannot fail.
    let _ = html_escape_into(&mut out, value);
    out
}

fn html_escape_into(out: &mut impl fmt::Write, value: &str) -> fmt::Result {
    let mut rest = value;
    while let Some(i) = rest.find(['&', '<', '>', '"', '\'']) {
        out.write_str(&rest[..i])?;
        out.write_str(match rest.as_bytes()[i] {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            _ => "&#39;",
        })?;
        rest = &rest[i + 1..];
    }
    out.write_str(rest)
}

/// Displays its text HTML-escaped.
struct H<'a>(&'a str);

impl fmt::Display for H<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        html_escape_into(f, self.0)
    }
}

/// A query-string value, percent-encoded (still to be HTML-escaped in an attribute).
fn url_value(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

fn head(out: &mut String, title: &str) -> fmt::Result {
    writeln!(
        out,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<link rel=\"icon\" href=\"data:,\">\n\
         <link rel=\"stylesheet\" href=\"/ui/style.css\">\n\
         <script src=\"/ui/app.js\" defer></script>\n</head>\n<body>",
        H(title)
    )
}

fn top_bar(out: &mut String, range: Option<Range>, search: &str) -> fmt::Result {
    out.push_str(
        "<header class=\"topbar\">\n<a class=\"brand\" href=\"/ui\"><span class=\"logo\">bc</span>\
         badclients</a>\n",
    );
    out.push_str("<nav class=\"ranges\" aria-label=\"time range\">");
    for r in Range::ALL {
        let current = range == Some(r);
        write!(
            out,
            "<a href=\"/ui?range={name}\"{cls}>{name}</a>",
            name = r.name(),
            cls = if current {
                " class=\"current\" aria-current=\"page\""
            } else {
                ""
            }
        )?;
    }
    out.push_str("</nav>\n");
    writeln!(
        out,
        "<form class=\"search\" method=\"get\" action=\"/ui/user\" role=\"search\">\
         <input type=\"search\" id=\"user-search\" name=\"q\" value=\"{}\" \
         placeholder=\"Search a user…\" aria-label=\"user name\" autocomplete=\"off\">\
         <button type=\"submit\">Search</button></form>\n</header>\n<main>",
        H(search)
    )
}

fn foot(out: &mut String, now: u64) -> fmt::Result {
    writeln!(
        out,
        "</main>\n<footer>\n<span>generated {} UTC</span>\n\
         <label class=\"js-only\" hidden><input type=\"checkbox\" id=\"autorefresh\"> \
         refresh every minute</label>\n</footer>\n</body>\n</html>",
        H(&format_minute(now))
    )
}

pub fn render_overview(
    out: &mut String,
    range: Range,
    now: u64,
    health: &Health,
    overview: Option<&(PathBuf, Result<Overview, HistoryError>)>,
    counters: Option<&WriterCounters>,
) -> fmt::Result {
    head(out, "badclients dashboard")?;
    top_bar(out, Some(range), "")?;
    match overview {
        None => {
            out.push_str(
                "<section class=\"card notice\" id=\"history-off\"><h2>Decision history</h2>\
                 <p>The history is off (<code>[history] enabled = false</code>): no chart, \
                 rankings or latest blocked logins. Turn it on in the configuration and \
                 restart the daemon.</p></section>\n",
            );
        }
        Some((path, Err(e))) => {
            writeln!(
                out,
                "<section class=\"card notice error\"><h2>Decision history</h2>\
                 <p>The history {} could not be read: {}</p></section>",
                H(&path.display().to_string()),
                H(&e.to_string())
            )?;
        }
        Some((path, Ok(o))) => {
            totals(out, &o.report, range)?;
            chart_card(out, &o.buckets, range, now)?;
            out.push_str("<div class=\"grid\">\n");
            asn_table(out, &o.report)?;
            out.push_str("<div class=\"stack\">\n");
            cloud_table(out, &o.report)?;
            country_table(out, &o.report)?;
            out.push_str("</div>\n</div>\n");
            latest_blocked(out, &o.latest)?;
            out.push_str("<div class=\"grid\">\n");
            health_card(out, health, now)?;
            history_card(out, path, &o.stats, counters, now)?;
            out.push_str("</div>\n");
            return foot(out, now);
        }
    }
    health_card(out, health, now)?;
    foot(out, now)
}

fn totals(out: &mut String, report: &Report, range: Range) -> fmt::Result {
    let t = &report.totals;
    let candidates = report.candidate_asns().count();
    writeln!(
        out,
        "<section class=\"cards\" aria-label=\"totals over {}\">",
        range.name()
    )?;
    let mut card = |class: &str, label: &str, value: String| {
        writeln!(
            out,
            "<div class=\"stat {class}\"><div class=\"value\">{}</div><div class=\"label\">{}</div></div>",
            H(&value),
            H(label)
        )
    };
    card("", "logins", t.logins.to_string())?;
    card("", "users", t.users.to_string())?;
    card("allowed", "allowed", t.allowed.to_string())?;
    card("blocked", "blocked", t.blocked.to_string())?;
    card(
        "would-block",
        "would-block (audit)",
        t.would_block.to_string(),
    )?;
    if t.tempfail > 0 {
        card("tempfail", "tempfail", t.tempfail.to_string())?;
    }
    if t.unverified > 0 {
        card(
            "unverified",
            "refused before the password was checked",
            t.unverified.to_string(),
        )?;
    }
    card("candidate", "candidate ASes", candidates.to_string())?;
    out.push_str("</section>\n");
    Ok(())
}

/// The chart's series, bottom to top: name, CSS class, colour.
/// The last two are shown in the legend only when they happened.
const SERIES: [(&str, &str, &str); 5] = [
    ("allowed", "allowed", "#2f9e62"),
    ("would-block", "would-block", "#e3a008"),
    ("blocked", "blocked", "#d9463e"),
    ("tempfail", "tempfail", "#8b95a5"),
    ("unverified", "unverified", "#b9a3e3"),
];

fn series_values(c: &OutcomeCounts) -> [u64; 5] {
    [
        c.allowed,
        c.would_block,
        c.blocked,
        c.tempfail,
        c.unverified,
    ]
}

/// The smallest step of 1, 2 or 5 × 10^k with `ticks` steps reaching `max`.
fn nice_step(max: u64, ticks: u64) -> u64 {
    let raw = max.div_ceil(ticks).max(1);
    let mut magnitude = 1u64;
    while magnitude.saturating_mul(10) <= raw {
        magnitude *= 10;
    }
    [1, 2, 5, 10]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(raw)
}

fn chart_card(
    out: &mut String,
    buckets: &[(u64, OutcomeCounts)],
    range: Range,
    now: u64,
) -> fmt::Result {
    writeln!(
        out,
        "<section class=\"card\" id=\"chart\">\n<h2>Decisions over the last {}</h2>",
        range.name()
    )?;
    let (svg, sums) = chart_svg(buckets, range, now);
    out.push_str(&svg);
    out.push_str("<ul class=\"legend\">");
    for (i, (name, class, _)) in SERIES.iter().enumerate() {
        if i >= 3 && sums[i] == 0 {
            continue;
        }
        write!(
            out,
            "<li><span class=\"swatch {class}\"></span>{name} <b>{}</b></li>",
            sums[i]
        )?;
    }
    writeln!(
        out,
        "<li class=\"muted\">one bar per {} · UTC</li></ul>\n</section>",
        range.bucket_text()
    )
}

/// The stacked bar chart of `buckets` over `range` ending `now`, and each series' sum.
fn chart_svg(buckets: &[(u64, OutcomeCounts)], range: Range, now: u64) -> (String, [u64; 5]) {
    const W: f64 = 960.0;
    const H_: f64 = 280.0;
    const LEFT: f64 = 56.0;
    const RIGHT: f64 = 12.0;
    const TOP: f64 = 14.0;
    const BOTTOM: f64 = 46.0;
    const TICKS: u64 = 4;
    let width = range.bucket_us();
    let first = range.since_us(now) / width;
    let last = (now / width).max(first);
    let n = (last - first + 1) as usize;
    let mut values = vec![[0u64; 5]; n];
    for (start, c) in buckets {
        let b = start / width;
        if (first..=last).contains(&b) {
            values[(b - first) as usize] = series_values(c);
        }
    }
    let mut sums = [0u64; 5];
    for v in &values {
        for (s, x) in sums.iter_mut().zip(v) {
            *s += x;
        }
    }
    let max = values
        .iter()
        .map(|v| v.iter().sum::<u64>())
        .max()
        .unwrap_or(0);
    let step = nice_step(max, TICKS);
    let y_max = step * TICKS;
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H_ - TOP - BOTTOM;
    let base = TOP + plot_h;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg class=\"chart\" viewBox=\"0 0 {W} {H_}\" role=\"img\" \
         aria-label=\"stacked bar chart of decisions per {}\" font-size=\"12\">",
        range.bucket_text()
    );
    // Grid and y labels.
    for k in 0..=TICKS {
        let y = base - plot_h * k as f64 / TICKS as f64;
        let _ = writeln!(
            s,
            "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" \
             stroke=\"#e5e7eb\"/>\
             <text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#6b7280\">{}</text>",
            W - RIGHT,
            LEFT - 8.0,
            y + 4.0,
            step * k
        );
    }
    let slot = plot_w / n as f64;
    let bar_w = (slot * 0.72).max(1.0);
    let every = n.div_ceil(8).max(1);
    for (i, v) in values.iter().enumerate() {
        let start = (first + i as u64) * width;
        let x = LEFT + slot * i as f64 + (slot - bar_w) / 2.0;
        let total: u64 = v.iter().sum();
        let _ = write!(
            s,
            "<g class=\"bucket\"><title>{} UTC: {} logins — allowed {}, blocked {}, would-block {}{}{}</title>",
            H(&format_minute(start)),
            total,
            v[0],
            v[2],
            v[1],
            if v[3] > 0 {
                format!(", tempfail {}", v[3])
            } else {
                String::new()
            },
            if v[4] > 0 {
                format!(", unverified {}", v[4])
            } else {
                String::new()
            }
        );
        // An invisible full-height target so the tooltip shows over empty buckets too.
        let _ = write!(
            s,
            "<rect class=\"hover\" x=\"{:.1}\" y=\"{TOP}\" width=\"{slot:.1}\" height=\"{plot_h:.1}\" fill=\"transparent\"/>",
            LEFT + slot * i as f64
        );
        let mut y = base;
        for (j, (_, class, color)) in SERIES.iter().enumerate() {
            if v[j] == 0 {
                continue;
            }
            let h = plot_h * v[j] as f64 / y_max as f64;
            y -= h;
            let _ = write!(
                s,
                "<rect class=\"bar {class}\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bar_w:.1}\" height=\"{h:.1}\" fill=\"{color}\"/>"
            );
        }
        s.push_str("</g>\n");
        if i % every == 0 {
            let cx = LEFT + slot * (i as f64 + 0.5);
            let _ = writeln!(
                s,
                "<line x1=\"{cx:.1}\" x2=\"{cx:.1}\" y1=\"{base:.1}\" y2=\"{:.1}\" stroke=\"#9ca3af\"/>\
                 <text class=\"tick\" x=\"{cx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#6b7280\">{}</text>",
                base + 4.0,
                base + 17.0,
                H(&range.label(start))
            );
        }
    }
    let _ = writeln!(
        s,
        "<line class=\"axis\" x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{base:.1}\" y2=\"{base:.1}\" stroke=\"#9ca3af\"/>\n\
         <text class=\"axis-title\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#374151\">time (UTC)</text>\n\
         <text class=\"axis-title\" transform=\"translate(14 {:.1}) rotate(-90)\" text-anchor=\"middle\" fill=\"#374151\">logins per {}</text>",
        W - RIGHT,
        LEFT + plot_w / 2.0,
        H_ - 8.0,
        TOP + plot_h / 2.0,
        range.bucket_text()
    );
    if max == 0 {
        let _ = writeln!(
            s,
            "<text class=\"empty\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#6b7280\" font-size=\"15\">no decisions in this range</text>",
            LEFT + plot_w / 2.0,
            TOP + plot_h / 2.0
        );
    }
    s.push_str("</svg>\n");
    (s, sums)
}

fn asn_text(asn: Option<u32>) -> String {
    asn.map(|a| format!("AS{a}")).unwrap_or_else(|| "—".into())
}

fn or_dash(v: Option<&str>) -> &str {
    v.filter(|s| !s.is_empty()).unwrap_or("—")
}

/// A status as a badge; `why`, when not empty, as its tooltip.
fn status_badge(status: Status, why: &str) -> String {
    let name = status.name();
    let class = match status {
        Status::Unknown => "unknown",
        _ => name,
    };
    let title = if why.is_empty() {
        String::new()
    } else {
        format!(" title=\"{}\"", H(why))
    };
    format!("<span class=\"badge st-{class}\"{title}>{}</span>", H(name))
}

fn empty_row(out: &mut String, cols: usize, text: &str) -> fmt::Result {
    writeln!(
        out,
        "<tr class=\"none\"><td colspan=\"{cols}\">{}</td></tr>",
        H(text)
    )
}

fn asn_table(out: &mut String, report: &Report) -> fmt::Result {
    out.push_str(
        "<section class=\"card\" id=\"top-asns\">\n<h2>Top ASNs</h2>\n\
         <p class=\"hint\">by distinct users; <span class=\"badge st-candidate\">candidate</span> \
         rows: no list caught any of their logins and they look like hosting (the same evidence \
         <code>badclients suggest</code> uses) — worth a look; <span class=\"badge st-unlisted\">unlisted</span>: \
         no list caught them either, but nothing says hosting</p>\n\
         <table>\n<thead><tr><th>AS</th><th>name</th><th>cc</th><th class=\"num\">users</th>\
         <th class=\"num\">logins</th><th class=\"num\">matched</th><th>status</th><th>why</th></tr></thead>\n<tbody>\n",
    );
    if report.asns.is_empty() {
        empty_row(out, 8, "no logins in this range")?;
    }
    for a in &report.asns {
        writeln!(
            out,
            "<tr{}><td class=\"mono\">{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
            if a.status == Status::Candidate {
                " class=\"candidate\""
            } else {
                ""
            },
            H(&asn_text(a.asn)),
            H(or_dash(a.as_desc.as_deref())),
            H(or_dash(a.as_cc.as_deref())),
            a.users,
            a.logins,
            a.matched,
            status_badge(a.status, ""),
            H(&a.why)
        )?;
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
    Ok(())
}

fn cloud_table(out: &mut String, report: &Report) -> fmt::Result {
    out.push_str(
        "<section class=\"card\" id=\"top-clouds\">\n<h2>Top clouds</h2>\n<table>\n\
         <thead><tr><th>cloud service</th><th class=\"num\">users</th><th class=\"num\">logins</th>\
         <th class=\"num\">matched</th><th>status</th></tr></thead>\n<tbody>\n",
    );
    if report.clouds.is_empty() {
        empty_row(out, 5, "no logins from a known cloud range")?;
    }
    for c in &report.clouds {
        writeln!(
            out,
            "<tr{}><td class=\"mono\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td>{}</td></tr>",
            if c.status == Status::Candidate {
                " class=\"candidate\""
            } else {
                ""
            },
            H(&c.cloud),
            c.users,
            c.logins,
            c.matched,
            status_badge(c.status, &c.why)
        )?;
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
    Ok(())
}

fn country_table(out: &mut String, report: &Report) -> fmt::Result {
    out.push_str(
        "<section class=\"card\" id=\"top-countries\">\n<h2>Top countries</h2>\n<table>\n\
         <thead><tr><th>country</th><th class=\"num\">users</th><th class=\"num\">logins</th>\
         <th class=\"num\">matched</th></tr></thead>\n<tbody>\n",
    );
    if report.countries.is_empty() {
        empty_row(out, 4, "no logins in this range")?;
    }
    for c in &report.countries {
        writeln!(
            out,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            H(or_dash(c.country.as_deref())),
            c.users,
            c.logins,
            c.matched
        )?;
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
    Ok(())
}

fn outcome_badge(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Allowed => "<span class=\"badge o-allowed\">allowed</span>",
        Outcome::Blocked => "<span class=\"badge o-blocked\">blocked</span>",
        Outcome::WouldBlock => "<span class=\"badge o-would-block\">would-block</span>",
        Outcome::TempFail => "<span class=\"badge o-tempfail\">tempfail</span>",
        Outcome::Unverified => {
            "<span class=\"badge o-unverified\" title=\"a list matched before the password \
             was checked: maybe a password guess\">unverified</span>"
        }
    }
}

fn user_link(user: &str) -> String {
    format!(
        "<a href=\"/ui/user?q={}\">{}</a>",
        H(&url_value(user)),
        H(user)
    )
}

fn time_cell(t: Option<u64>) -> String {
    t.map(format_minute).unwrap_or_else(|| "—".into())
}

fn latest_blocked(out: &mut String, latest: &[Record]) -> fmt::Result {
    out.push_str(
        "<section class=\"card\" id=\"latest-blocked\">\n<h2>Latest blocked logins</h2>\n\
         <p class=\"hint\">the newest logins a deny list matched (blocked, or would-block in audit \
         mode), with the list entry that matched</p>\n",
    );
    decision_table(out, latest, true, "nothing blocked yet")?;
    out.push_str("</section>\n");
    Ok(())
}

/// Decisions, one a row: when, who (and the service), from where (address and host),
/// the AS, the outcome, and why (the label and the list entry that matched).
fn decision_table(
    out: &mut String,
    records: &[Record],
    link_users: bool,
    none: &str,
) -> fmt::Result {
    out.push_str(
        "<div class=\"scroll\"><table class=\"decisions\">\n<thead><tr><th>time (UTC)</th>\
         <th>user · service</th><th>client</th><th>AS</th><th>outcome</th><th>matched</th>\
         <th>why</th></tr></thead>\n<tbody>\n",
    );
    if records.is_empty() {
        empty_row(out, 7, none)?;
    }
    for r in records {
        let user = if link_users {
            user_link(&r.user)
        } else {
            H(&r.user).to_string()
        };
        writeln!(
            out,
            "<tr><td class=\"nowrap\">{}</td><td>{user}<div class=\"sub\">{}</div></td>\
             <td><span class=\"mono\">{}</span><div class=\"sub mono\">{}</div></td>\
             <td>{}</td><td>{}</td><td class=\"mono\">{}</td>\
             <td class=\"why\"><code>{}</code></td></tr>",
            H(&time_cell(r.time_us)),
            H(&r.service),
            H(&r.ip.to_string()),
            H(or_dash(r.host.as_deref())),
            as_cell(r.asn, r.as_desc.as_deref()),
            outcome_badge(r.outcome),
            H(or_dash(r.matched.as_deref())),
            H(or_dash(r.matched_entry.as_deref()))
        )?;
    }
    out.push_str("</tbody>\n</table></div>\n");
    Ok(())
}

fn as_cell(asn: Option<u32>, desc: Option<&str>) -> String {
    format!(
        "<span class=\"mono\">{}</span><div class=\"sub\">{}</div>",
        H(&asn_text(asn)),
        H(desc.unwrap_or(""))
    )
}

fn ago(now: u64, then: u64) -> String {
    if then == 0 || then > now {
        return String::new();
    }
    let secs = (now - then) / 1_000_000;
    match secs {
        0..=59 => "just now".into(),
        60..=3599 => format!("{} min ago", secs / 60),
        3600..=86_399 => format!("{} h ago", secs / 3600),
        _ => format!("{} days ago", secs / 86_400),
    }
}

fn health_card(out: &mut String, health: &Health, now: u64) -> fmt::Result {
    let errors = health
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = health.diagnostics.len() - errors;
    let (class, text) = if let Some(fault) = health.degraded {
        (
            "bad",
            format!("degraded: {fault}; the lists in force are kept"),
        )
    } else if errors > 0 {
        ("bad", format!("{errors} errors, {warnings} warnings"))
    } else if warnings > 0 {
        ("warn", format!("{warnings} warnings"))
    } else {
        ("ok", "clean".to_string())
    };
    writeln!(
        out,
        "<section class=\"card\" id=\"list-health\">\n<h2>List health <span class=\"badge h-{class}\">{}</span></h2>\n\
         <dl class=\"facts\"><dt>list directory</dt><dd class=\"mono\">{}</dd>\
         <dt>configuration</dt><dd class=\"mono\">{}</dd>\
         <dt>last reload</dt><dd>{} UTC <span class=\"muted\">{}</span></dd></dl>",
        H(&text),
        H(&health.dir.display().to_string()),
        H(&health
            .config_path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "(defaults)".into())),
        H(&format_minute(health.loaded_at_us)),
        H(&ago(now, health.loaded_at_us)),
    )?;
    out.push_str(
        "<table>\n<thead><tr><th>list file</th><th class=\"num\">entries</th>\
         <th class=\"num\">errors</th><th class=\"num\">warnings</th></tr></thead>\n<tbody>\n",
    );
    let shown = |row: &&ListRow| row.present || row.entries > 0 || row.errors + row.warnings > 0;
    if !health.rows.iter().any(|row| shown(&row)) {
        empty_row(out, 4, "no list files")?;
    }
    for row in health.rows.iter().filter(shown) {
        writeln!(
            out,
            "<tr{}><td class=\"mono\">{}</td><td class=\"num\">{}</td><td class=\"num{}\">{}</td>\
             <td class=\"num{}\">{}</td></tr>",
            if row.present { "" } else { " class=\"absent\"" },
            H(row.file),
            if row.present {
                row.entries.to_string()
            } else {
                "no file".into()
            },
            if row.errors > 0 { " bad" } else { "" },
            row.errors,
            if row.warnings > 0 { " warn" } else { "" },
            row.warnings
        )?;
    }
    out.push_str("</tbody>\n</table>\n");
    let absent: Vec<&str> = health
        .rows
        .iter()
        .filter(|row| !shown(row))
        .map(|row| row.file)
        .collect();
    if !absent.is_empty() {
        writeln!(
            out,
            "<p class=\"hint absent-lists\">no file (an empty list): {}</p>",
            H(&absent.join(", "))
        )?;
    }
    if !health.diagnostics.is_empty() {
        out.push_str("<h3>Problems found by the last load</h3>\n<ul class=\"diagnostics\">\n");
        for d in health.diagnostics.iter().take(100) {
            let path = d.path.strip_prefix(&health.dir).unwrap_or(&d.path);
            let mut place = path.display().to_string();
            if let Some(line) = d.line {
                let _ = write!(place, ":{line}");
            }
            writeln!(
                out,
                "<li class=\"{}\"><code>{}</code> <b>{}</b>: {}</li>",
                if d.severity == Severity::Error {
                    "bad"
                } else {
                    "warn"
                },
                H(&place),
                d.severity,
                H(&d.message)
            )?;
        }
        if health.diagnostics.len() > 100 {
            writeln!(
                out,
                "<li class=\"muted\">… and {} more</li>",
                health.diagnostics.len() - 100
            )?;
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n");
    Ok(())
}

fn bytes_text(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

fn history_card(
    out: &mut String,
    path: &Path,
    stats: &HistoryStats,
    counters: Option<&WriterCounters>,
    now: u64,
) -> fmt::Result {
    use std::sync::atomic::Ordering::Relaxed;
    write!(
        out,
        "<section class=\"card\" id=\"history-stats\">\n<h2>Decision history</h2>\n<dl class=\"facts\">\
         <dt>file</dt><dd class=\"mono\">{}</dd>\
         <dt>records</dt><dd>{}</dd><dt>file size</dt><dd>{}</dd>\
         <dt>oldest</dt><dd>{} <span class=\"muted\">{}</span></dd>",
        H(&path.display().to_string()),
        stats.records,
        H(&bytes_text(stats.file_bytes)),
        H(&stats
            .oldest_us
            .map(|t| format!("{} UTC", format_minute(t)))
            .unwrap_or_else(|| "—".into())),
        H(&stats.oldest_us.map(|t| ago(now, t)).unwrap_or_default()),
    )?;
    if let Some(c) = counters {
        let commit_errors = c.commit_errors.load(Relaxed);
        let journal_errors = c.journal_errors.load(Relaxed);
        write!(
            out,
            "<dt>written since start</dt><dd>{}</dd><dt>pruned since start</dt><dd>{}</dd>\
             <dt>write errors</dt><dd class=\"{}\">{} commit, {} journal</dd>",
            c.committed.load(Relaxed),
            c.pruned.load(Relaxed),
            if commit_errors + journal_errors > 0 {
                "bad"
            } else {
                ""
            },
            commit_errors,
            journal_errors
        )?;
    }
    out.push_str("</dl>\n</section>\n");
    Ok(())
}

pub fn render_user(
    out: &mut String,
    wanted: &str,
    view: Option<&Result<UserView, HistoryError>>,
) -> fmt::Result {
    let title = if wanted.is_empty() {
        "user search · badclients".to_string()
    } else {
        format!("{wanted} · badclients")
    };
    head(out, &title)?;
    top_bar(out, None, wanted)?;
    let now = now_us();
    if wanted.is_empty() {
        out.push_str(
            "<section class=\"card notice\"><h2>User search</h2><p>Type a user name in the box \
             above to see where that user logs in from.</p></section>\n",
        );
        return foot(out, now);
    }
    let view = match view {
        None => {
            out.push_str(
                "<section class=\"card notice\" id=\"history-off\"><h2>Decision history</h2>\
                 <p>The history is off (<code>[history] enabled = false</code>): there is \
                 nothing to search.</p></section>\n",
            );
            return foot(out, now);
        }
        Some(Err(e)) => {
            writeln!(
                out,
                "<section class=\"card notice error\"><p>The history could not be read: {}</p></section>",
                H(&e.to_string())
            )?;
            return foot(out, now);
        }
        Some(Ok(v)) => v,
    };
    if view.users.is_empty() {
        writeln!(
            out,
            "<section class=\"card notice\" id=\"no-logins\"><h2>{}</h2>\
             <p>No logins recorded for this user in the history (names are matched exactly, \
             ignoring case).</p></section>",
            H(wanted)
        )?;
        return foot(out, now);
    }
    for u in &view.users {
        user_section(out, u)?;
    }
    out.push_str("<section class=\"card\" id=\"user-latest\">\n<h2>Latest decisions</h2>\n");
    decision_table(out, &view.latest, false, "no decisions")?;
    out.push_str("</section>\n");
    foot(out, now)
}

fn list_cell(items: &[String], more: bool) -> String {
    const SHOWN: usize = 8;
    if items.is_empty() {
        return "—".into();
    }
    let mut s = String::new();
    for item in items.iter().take(SHOWN) {
        let _ = write!(s, "<span class=\"chip\">{}</span>", H(item));
    }
    let hidden = items.len().saturating_sub(SHOWN);
    if hidden > 0 || more {
        let _ = write!(
            s,
            "<span class=\"muted\"> +{hidden}{} more</span>",
            if more { "+" } else { "" }
        );
    }
    s
}

fn user_section(out: &mut String, u: &UserSummary) -> fmt::Result {
    write!(
        out,
        "<section class=\"card user\">\n<h2>User <span class=\"mono\">{}</span></h2>\n\
         <section class=\"cards\">",
        H(&u.user)
    )?;
    let o = &u.outcomes;
    for (class, label, value) in [
        ("", "logins", u.counts.logins.to_string()),
        ("allowed", "allowed", o.allowed.to_string()),
        ("blocked", "blocked", o.blocked.to_string()),
        (
            "would-block",
            "would-block (audit)",
            o.would_block.to_string(),
        ),
        ("when", "first seen (UTC)", format_minute(u.counts.first_us)),
        ("when", "last seen (UTC)", format_minute(u.counts.last_us)),
    ] {
        write!(
            out,
            "<div class=\"stat {class}\"><div class=\"value\">{}</div><div class=\"label\">{}</div></div>",
            H(&value),
            H(label)
        )?;
    }
    out.push_str("</section>\n");
    if !u.matched.is_empty() {
        out.push_str("<p>Matched lists: ");
        for (label, n) in &u.matched {
            write!(out, "<span class=\"chip bad\">{} ×{n}</span>", H(label))?;
        }
        out.push_str("</p>\n");
    }
    out.push_str(
        "<h3>Login sources</h3>\n<div class=\"scroll\"><table class=\"sources\">\n<thead><tr><th>AS</th><th>name</th>\
         <th class=\"num\">logins</th><th class=\"num\">matched</th><th>networks</th><th>hosts</th>\
         <th>clouds</th><th class=\"num\">addresses</th><th>last (UTC)</th></tr></thead>\n<tbody>\n",
    );
    for s in &u.sources {
        writeln!(
            out,
            "<tr{}><td class=\"mono\">{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"nowrap\">{}</td></tr>",
            if s.counts.matched > 0 {
                " class=\"matched\""
            } else {
                ""
            },
            H(&asn_text(s.asn)),
            H(or_dash(s.as_desc.as_deref())),
            s.counts.logins,
            s.counts.matched,
            list_cell(&s.networks, false),
            list_cell(&s.hosts, s.hosts_more),
            list_cell(&s.clouds, false),
            s.ips,
            H(&format_minute(s.counts.last_us))
        )?;
    }
    out.push_str("</tbody>\n</table></div>\n</section>\n");
    Ok(())
}
