//! Reading the shared history: [`PgReader`], a [`RowSource`] over every node's decisions
//! (or one node's), so `report`, `suggest` and `/ui` aggregate it as they do the redb file.
//!
//! What PostgreSQL adds up and what badclients does:
//! - whole UTC days inside the filter's `[since, until)` come from `badclients_daily`
//!   (identical decisions of one node and day already merged when they were shipped);
//! - the partial days at the edges come from `badclients_decisions`, one row per decision;
//! - a chart whose buckets do not line up with days (`bucket_us` not a multiple of a day)
//!   reads decisions only;
//! - all of it is merged again in one `GROUP BY` over every column (and the chart bucket),
//!   so what crosses the wire is one row per distinct decision, whatever the days and nodes.
//!
//! The user filter is applied in SQL on `lower(user_name COLLATE "C")`, which lowers ASCII
//! only (as [`Filter::accepts`] compares), and checked again here per distinct user string.
//!
//! [`RowSource::visit`] is synchronous: a [`PgReader`] keeps the handle of the runtime its
//! connection runs on and blocks on it, so it must be called from a thread that is not one
//! of that runtime's workers (a `spawn_blocking` task, or the command's main thread). Every
//! wait for the database — connecting, the first row, each next row — is bounded by the
//! reader's timeout (`[history] postgres_timeout_ms`).

use std::future::Future;
use std::net::IpAddr;
use std::pin::pin;
use std::time::Duration;

use futures::StreamExt;
use rustc_hash::FxHashMap;
use tokio::runtime::Handle;
use tokio_postgres::types::ToSql;
use tokio_postgres::Client;

use super::{bounded, connect, PgHistoryError};
use crate::analysis::source::{RowSource, Visited};
use crate::history::codec::{Row, Strings};
use crate::history::store::Weight;
use crate::history::{Filter, Outcome, Record};

/// A UTC day in microseconds.
pub const DAY_US: u64 = 86_400_000_000;

/// The columns of one decision, in the order [`PgReader`] reads them.
const COLUMNS: &str = "user_name, service, ip, host, asn, as_cc, as_desc, net_name, net_cc, \
                       entities, cloud, geo_cc, outcome, matched, matched_entry, lookup_errors";

/// A reader of the shared history, connected.
pub struct PgReader {
    client: Client,
    handle: Handle,
    timeout: Duration,
    node: Option<String>,
}

impl std::fmt::Debug for PgReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgReader")
            .field("timeout", &self.timeout)
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

/// What the dashboard shows about the shared history (the redb file's sizes, for it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PgStats {
    /// Decisions kept (of the node read, or all).
    pub records: u64,
    /// The oldest decision's time.
    pub oldest_us: Option<u64>,
    /// The tables' size on disk, indexes included (all nodes).
    pub bytes: u64,
}

impl PgReader {
    /// Connects to `url` (within `timeout`) on the current runtime; the reader reads every
    /// node's decisions, or only `node`'s.
    pub async fn connect(
        url: &str,
        timeout: Duration,
        node: Option<String>,
    ) -> Result<PgReader, PgHistoryError> {
        let client = connect(url, timeout).await?;
        Ok(PgReader {
            client,
            handle: Handle::current(),
            timeout,
            node,
        })
    }

    /// The node read (`None`: all).
    pub fn node(&self) -> Option<&str> {
        self.node.as_deref()
    }

    /// Runs `fut` on the connection's runtime, blocking this (non-worker) thread.
    fn block<T>(&self, fut: impl Future<Output = T>) -> T {
        self.handle.block_on(fut)
    }

    /// `fut` bounded by the reader's timeout, its driver error as the failure of `op`.
    async fn bounded<T>(
        &self,
        op: &'static str,
        fut: impl Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<T, PgHistoryError> {
        bounded(self.timeout, op, async {
            fut.await.map_err(PgHistoryError::of(op))
        })
        .await
    }

    /// The nodes that ever shipped here, by name.
    pub fn nodes(&self) -> Result<Vec<String>, PgHistoryError> {
        self.block(async {
            let rows = self
                .bounded(
                    "list nodes",
                    self.client
                        .query("SELECT node FROM badclients_nodes ORDER BY node", &[]),
                )
                .await?;
            Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
        })
    }

    /// How many decisions are kept, since when, and the tables' size.
    pub fn stats(&self) -> Result<PgStats, PgHistoryError> {
        self.block(async {
            let mut sql = String::from(
                "SELECT coalesce(sum(n), 0)::bigint, min(first_us), \
                 (SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint \
                    FROM pg_class c WHERE c.relkind = 'r' AND c.relname LIKE 'badclients%') \
                 FROM badclients_daily",
            );
            let mut params: Vec<&(dyn ToSql + Sync)> = Vec::new();
            if let Some(node) = &self.node {
                sql.push_str(" WHERE node = $1");
                params.push(node);
            }
            let row = self
                .bounded("read stats", self.client.query_one(&sql, &params))
                .await?;
            let records: i64 = row.get(0);
            let oldest: Option<i64> = row.get(1);
            let bytes: i64 = row.get(2);
            Ok(PgStats {
                records: records.max(0) as u64,
                oldest_us: oldest.map(|t| t.max(0) as u64),
                bytes: bytes.max(0) as u64,
            })
        })
    }

    /// The latest `n` decisions (newest first) that a deny list matched (`matched_only`) or
    /// of one user (`user`, ignoring ASCII case), of the node read or all. The days to read
    /// are found in `badclients_daily` first, so only those days' partitions are scanned.
    pub fn latest(
        &self,
        n: usize,
        matched_only: bool,
        user: Option<&str>,
    ) -> Result<Vec<Record>, PgHistoryError> {
        let user_lower = user.map(|u| u.to_ascii_lowercase());
        let mut cond = String::new();
        let mut params: Vec<&(dyn ToSql + Sync)> = Vec::new();
        if let Some(node) = &self.node {
            params.push(node);
            cond.push_str(&format!(" AND node = ${}", params.len()));
        }
        if let Some(u) = &user_lower {
            params.push(u);
            cond.push_str(&format!(
                " AND lower(user_name COLLATE \"C\") = ${}",
                params.len()
            ));
        }
        if matched_only {
            cond.push_str(" AND outcome IN (1, 2)");
        }
        self.block(async {
            let days = self
                .bounded(
                    "read the latest decisions",
                    self.client.query(
                        &format!(
                            "SELECT day_us, sum(n)::bigint FROM badclients_daily \
                             WHERE true{cond} GROUP BY day_us ORDER BY day_us DESC"
                        ),
                        &params,
                    ),
                )
                .await?;
            let mut from: Option<i64> = None;
            let mut seen = 0u64;
            for day in &days {
                from = Some(day.get(0));
                seen += day.get::<_, i64>(1).max(0) as u64;
                if seen >= n as u64 {
                    break;
                }
            }
            let Some(from) = from else {
                return Ok(Vec::new());
            };
            let rows = self
                .bounded(
                    "read the latest decisions",
                    self.client.query(
                        &format!(
                            "SELECT {COLUMNS}, 1::bigint, time_us, time_us \
                             FROM badclients_decisions WHERE time_us >= {from}{cond} \
                             ORDER BY time_us DESC LIMIT {n}"
                        ),
                        &params,
                    ),
                )
                .await?;
            let mut strings = Strings::new();
            let mut added = Vec::new();
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                let (row, _) = decode(r, &mut strings, &mut added)?;
                if user.is_some_and(|u| !u.eq_ignore_ascii_case(strings.get(row.user))) {
                    continue;
                }
                out.push(row.to_record(&strings));
            }
            Ok(out)
        })
    }
}

/// The SQL that reads what `filter` selects, merged by every column (and the chart bucket
/// of `bucket_us`), and its text parameters (the node, the user).
fn grouped_query<'a>(
    filter: &Filter,
    bucket_us: u64,
    node: Option<&'a String>,
    user_lower: Option<&'a String>,
) -> (String, Vec<&'a (dyn ToSql + Sync)>) {
    let mut params: Vec<&(dyn ToSql + Sync)> = Vec::new();
    let mut cond = String::new();
    if let Some(node) = node {
        params.push(node);
        cond.push_str(&format!(" AND node = ${}", params.len()));
    }
    if let Some(u) = user_lower {
        params.push(u);
        cond.push_str(&format!(
            " AND lower(user_name COLLATE \"C\") = ${}",
            params.len()
        ));
    }
    let plan = Plan::of(filter, bucket_us);
    let mut parts = Vec::new();
    if let Some((lo, hi)) = plan.whole_days {
        let mut w = String::from("true");
        if let Some(lo) = lo {
            w.push_str(&format!(" AND day_us >= {lo}"));
        }
        if let Some(hi) = hi {
            w.push_str(&format!(" AND day_us < {hi}"));
        }
        parts.push(format!(
            "SELECT {COLUMNS}, n, first_us, last_us FROM badclients_daily WHERE {w}{cond}"
        ));
    }
    for (lo, hi) in plan.raw {
        let mut w = String::from("true");
        if let Some(lo) = lo {
            w.push_str(&format!(" AND time_us >= {lo}"));
        }
        if let Some(hi) = hi {
            w.push_str(&format!(" AND time_us < {hi}"));
        }
        parts.push(format!(
            "SELECT {COLUMNS}, 1::bigint AS n, time_us AS first_us, time_us AS last_us \
             FROM badclients_decisions WHERE {w}{cond}"
        ));
    }
    let bucket = if bucket_us > 0 {
        format!(", first_us / {bucket_us}")
    } else {
        String::new()
    };
    let sql = format!(
        "SELECT {COLUMNS}, sum(n)::bigint, min(first_us), max(last_us) FROM ({}) r \
         GROUP BY {COLUMNS}{bucket}",
        parts.join(" UNION ALL ")
    );
    (sql, params)
}

/// Which times come from the daily rows and which from the decisions.
#[derive(Debug, PartialEq, Eq)]
struct Plan {
    /// Day starts `[lo, hi)` read from `badclients_daily` (`None`: unbounded).
    whole_days: Option<(Option<i64>, Option<i64>)>,
    /// Time ranges `[lo, hi)` read from `badclients_decisions`.
    raw: Vec<(Option<i64>, Option<i64>)>,
}

impl Plan {
    fn of(filter: &Filter, bucket_us: u64) -> Plan {
        let clamp = |t: u64| i64::try_from(t).unwrap_or(i64::MAX);
        let since = filter.since_us.map(clamp);
        let until = filter.until_us.map(clamp);
        let day = DAY_US as i64;
        if bucket_us > 0 && !bucket_us.is_multiple_of(DAY_US) {
            return Plan {
                whole_days: None,
                raw: vec![(since, until)],
            };
        }
        let first_day = since.map(|s| {
            s.div_euclid(day)
                .saturating_add(i64::from(s.rem_euclid(day) != 0))
                .saturating_mul(day)
        });
        let end_day = until.map(|u| u.div_euclid(day) * day);
        if let (Some(a), Some(b)) = (first_day, end_day) {
            if a >= b {
                return Plan {
                    whole_days: None,
                    raw: vec![(since, until)],
                };
            }
        }
        let mut raw = Vec::new();
        if let (Some(s), Some(a)) = (since, first_day) {
            if s < a {
                raw.push((Some(s), Some(a)));
            }
        }
        if let (Some(u), Some(b)) = (until, end_day) {
            if b < u {
                raw.push((Some(b), Some(u)));
            }
        }
        Plan {
            whole_days: Some((first_day, end_day)),
            raw,
        }
    }
}

/// One result row into `strings`: the row and its weight (the last three columns).
fn decode(
    r: &tokio_postgres::Row,
    strings: &mut Strings,
    added: &mut Vec<(u32, String)>,
) -> Result<(Row, Weight), PgHistoryError> {
    let bad = |what: &'static str| PgHistoryError::Unreadable(what);
    let mut one = |s: Option<&str>| s.map_or(0, |s| strings.intern(s, added));
    let user = one(r
        .try_get::<_, Option<&str>>(0)
        .map_err(PgHistoryError::of("read a row"))?);
    let text = |i: usize| r.try_get::<_, Option<&str>>(i);
    let service = one(text(1).map_err(PgHistoryError::of("read a row"))?);
    let ip: Option<IpAddr> = r.try_get(2).map_err(PgHistoryError::of("read a row"))?;
    let host = one(text(3).map_err(PgHistoryError::of("read a row"))?);
    let asn: Option<i64> = r.try_get(4).map_err(PgHistoryError::of("read a row"))?;
    let as_cc = one(text(5).map_err(PgHistoryError::of("read a row"))?);
    let as_desc = one(text(6).map_err(PgHistoryError::of("read a row"))?);
    let net_name = one(text(7).map_err(PgHistoryError::of("read a row"))?);
    let net_cc = one(text(8).map_err(PgHistoryError::of("read a row"))?);
    let list = |i: usize| r.try_get::<_, Vec<&str>>(i);
    let entities: Vec<u32> = list(9)
        .map_err(PgHistoryError::of("read a row"))?
        .into_iter()
        .map(|s| one(Some(s)))
        .collect();
    let cloud: Vec<u32> = list(10)
        .map_err(PgHistoryError::of("read a row"))?
        .into_iter()
        .map(|s| one(Some(s)))
        .collect();
    let geo_cc = one(text(11).map_err(PgHistoryError::of("read a row"))?);
    let outcome: i16 = r.try_get(12).map_err(PgHistoryError::of("read a row"))?;
    let outcome = u8::try_from(outcome)
        .ok()
        .and_then(Outcome::from_code)
        .ok_or(bad("outcome"))?;
    let matched = one(text(13).map_err(PgHistoryError::of("read a row"))?);
    let matched_entry = one(text(14).map_err(PgHistoryError::of("read a row"))?);
    let lookup_errors: Vec<u32> = list(15)
        .map_err(PgHistoryError::of("read a row"))?
        .into_iter()
        .map(|s| one(Some(s)))
        .collect();
    let n: i64 = r.try_get(16).map_err(PgHistoryError::of("read a row"))?;
    let first: i64 = r.try_get(17).map_err(PgHistoryError::of("read a row"))?;
    let last: i64 = r.try_get(18).map_err(PgHistoryError::of("read a row"))?;
    let asn_plus_one = match asn {
        None => 0,
        Some(a) => u64::from(u32::try_from(a).map_err(|_| bad("asn"))?) + 1,
    };
    let w = Weight {
        n: n.max(0) as u64,
        first_us: first.max(0) as u64,
        last_us: last.max(0) as u64,
    };
    let row = Row {
        time_us: w.last_us,
        user,
        service,
        ip,
        host,
        asn_plus_one,
        as_cc,
        as_desc,
        net_name,
        net_cc,
        entities,
        cloud,
        geo_cc,
        outcome: Some(outcome),
        matched,
        matched_entry,
        lookup_errors,
    };
    Ok((row, w))
}

impl RowSource for PgReader {
    type Error = PgHistoryError;

    /// Identical decisions merged in PostgreSQL (see the module's doc), streamed; each
    /// wait for the next rows bounded by the reader's timeout.
    fn visit(
        &self,
        filter: &Filter,
        bucket_us: u64,
        visitor: &mut dyn FnMut(&Row, &Strings, Weight),
    ) -> Result<Visited, PgHistoryError> {
        let user_lower = filter.user.as_ref().map(|u| u.to_ascii_lowercase());
        let (sql, params) =
            grouped_query(filter, bucket_us, self.node.as_ref(), user_lower.as_ref());
        let mut strings = Strings::new();
        let mut added = Vec::new();
        // Whether each user string passes the filter, checked once per string.
        let mut user_ok: FxHashMap<u32, bool> = FxHashMap::default();
        self.block(async {
            let stream = self
                .bounded(
                    "read decisions",
                    self.client.query_raw(&sql, params.iter().copied()),
                )
                .await?;
            let mut stream = pin!(stream);
            loop {
                let next = match tokio::time::timeout(self.timeout, stream.next()).await {
                    Ok(next) => next,
                    Err(_) => {
                        return Err(PgHistoryError::Timeout {
                            op: "read decisions",
                            after: self.timeout,
                        })
                    }
                };
                let Some(r) = next else { break };
                let r = r.map_err(PgHistoryError::of("read decisions"))?;
                added.clear();
                let (row, w) = decode(&r, &mut strings, &mut added)?;
                let ok = *user_ok
                    .entry(row.user)
                    .or_insert_with(|| filter.accepts(None, strings.get(row.user)));
                if ok {
                    visitor(&row, &strings, w);
                }
            }
            Ok(())
        })?;
        Ok(Visited {
            strings,
            input: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: u64 = DAY_US;

    fn plan(since: Option<u64>, until: Option<u64>, bucket: u64) -> Plan {
        let filter = Filter {
            since_us: since,
            until_us: until,
            user: None,
        };
        Plan::of(&filter, bucket)
    }

    #[test]
    fn whole_days_come_from_the_daily_rows_and_the_edges_from_the_decisions() {
        let d = D as i64;
        assert_eq!(
            plan(Some(10 * D + 5), Some(20 * D + 7), 0),
            Plan {
                whole_days: Some((Some(11 * d), Some(20 * d))),
                raw: vec![
                    (Some(10 * d + 5), Some(11 * d)),
                    (Some(20 * d), Some(20 * d + 7))
                ],
            }
        );
        assert_eq!(
            plan(Some(10 * D), None, 0),
            Plan {
                whole_days: Some((Some(10 * d), None)),
                raw: vec![],
            }
        );
        assert_eq!(
            plan(None, None, 0),
            Plan {
                whole_days: Some((None, None)),
                raw: vec![],
            }
        );
    }

    #[test]
    fn a_range_within_a_day_or_buckets_across_days_read_the_decisions() {
        let d = D as i64;
        assert_eq!(
            plan(Some(10 * D + 5), Some(10 * D + 9), 0).raw,
            vec![(Some(10 * d + 5), Some(10 * d + 9))]
        );
        assert_eq!(
            plan(Some(10 * D + 5), Some(11 * D + 9), 0).whole_days,
            None,
            "no whole day between them"
        );
        let hourly = plan(Some(10 * D + 5), None, 3_600_000_000);
        assert_eq!(hourly.whole_days, None);
        assert_eq!(hourly.raw, vec![(Some(10 * d + 5), None)]);
        let daily = plan(Some(10 * D + 5), None, D);
        assert_eq!(daily.whole_days, Some((Some(11 * d), None)));
    }
}
