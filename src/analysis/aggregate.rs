//! One pass over decisions into the counts every view needs.
//!
//! [`Aggregator`] takes rows from a [`RowSource`] (the store, or records from log lines
//! interned on the way) and keeps, by integer ids only: totals, per user and per user-and-AS sources, per
//! AS, per cloud service and per country rankings with their distinct users, time buckets
//! for the dashboard's chart, and — for `suggest` — per reverse-DNS shape and per RDAP
//! entity evidence. [`Aggregator::finish`] resolves the ids into a [`Summary`].

use crate::facts::CloudTag;
use std::collections::BTreeMap;
use std::net::IpAddr;

use rustc_hash::{FxHashMap, FxHashSet};

use super::source::{InputStats, RowSource};
use crate::history::codec::{Row, Strings};
use crate::history::store::{HistoryError, HistoryStore, Weight};
use crate::history::{Filter, Outcome};

/// At most this many distinct hosts (and addresses) are kept per user and AS.
const HOSTS_KEPT: usize = 64;

/// How the aggregation runs.
#[derive(Debug, Clone, Default)]
pub struct AggregateOptions {
    /// Width of a chart bucket in microseconds (0: no chart).
    pub bucket_us: u64,
    /// Keep the evidence `suggest` needs (host shapes, entities).
    pub for_suggest: bool,
}

/// Counts of one group of logins.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub logins: u64,
    /// Logins a deny list matched (blocked or would-block).
    pub matched: u64,
    pub first_us: u64,
    pub last_us: u64,
}

impl Counts {
    fn add(&mut self, row: &Row, w: Weight) {
        self.logins += w.n;
        if row.outcome().matched_a_list() {
            self.matched += w.n;
        }
        if self.first_us == 0 || (w.first_us != 0 && w.first_us < self.first_us) {
            self.first_us = w.first_us;
        }
        self.last_us = self.last_us.max(w.last_us);
    }
}

#[derive(Debug, Default)]
struct Group {
    counts: Counts,
    users: FxHashSet<u32>,
}

impl Group {
    fn add(&mut self, row: &Row, w: Weight) {
        self.counts.add(row, w);
        self.users.insert(row.user);
    }
}

#[derive(Debug, Default)]
struct AsnGroup {
    group: Group,
    as_desc: u32,
    as_cc: u32,
    hosts: FxHashSet<u32>,
    clouds: FxHashSet<u32>,
    logins_without_host: u64,
}

#[derive(Debug, Default)]
struct Source {
    counts: Counts,
    outcomes: [u64; OUTCOMES],
    as_desc: u32,
    nets: FxHashSet<u32>,
    hosts: FxHashSet<u32>,
    hosts_more: bool,
    clouds: FxHashSet<u32>,
    ips: FxHashSet<IpAddr>,
}

#[derive(Debug, Default)]
struct UserAgg {
    counts: Counts,
    outcomes: [u64; OUTCOMES],
    matched: FxHashMap<u32, u64>,
    last_matched_us: u64,
    sources: FxHashMap<u64, Source>,
}

/// Evidence for one suggestion key (a host shape or an entity).
#[derive(Debug, Default)]
struct Evidence {
    group: Group,
    asns: FxHashSet<u64>,
    hosts: FxHashSet<u32>,
    clouds: FxHashSet<u32>,
}

impl Evidence {
    fn add(&mut self, row: &Row, w: Weight) {
        self.group.add(row, w);
        self.asns.insert(row.asn_plus_one);
        if self.hosts.len() < HOSTS_KEPT && row.host != 0 {
            self.hosts.insert(row.host);
        }
        for &c in &row.cloud {
            self.clouds.insert(c);
        }
    }
}

/// Accumulates rows.
#[derive(Debug, Default)]
pub struct Aggregator {
    options: AggregateOptions,
    totals: Counts,
    outcomes: [u64; OUTCOMES],
    users: FxHashMap<u32, UserAgg>,
    asns: FxHashMap<u64, AsnGroup>,
    /// Cloud services (`provider:service`) with their groups and the tags seen.
    clouds: Vec<(Box<str>, Group, FxHashSet<u32>)>,
    cloud_index: FxHashMap<Box<str>, usize>,
    /// Tag id → index into `clouds`.
    cloud_service_of: FxHashMap<u32, usize>,
    countries: FxHashMap<u32, Group>,
    buckets: BTreeMap<u64, [u64; OUTCOMES]>,
    shapes: FxHashMap<Box<str>, Evidence>,
    shape_of: FxHashMap<u32, Option<Box<str>>>,
    entities: FxHashMap<u32, Evidence>,
}

impl Aggregator {
    pub fn new(options: AggregateOptions) -> Aggregator {
        Aggregator {
            options,
            ..Aggregator::default()
        }
    }

    /// Adds one row; `strings` resolves its ids (only consulted for ids not seen before).
    pub fn add(&mut self, row: &Row, strings: &Strings) {
        self.add_weighted(row, strings, Weight::one(row.time_us));
    }

    /// Adds `w.n` rows identical to `row` but for their times, which span
    /// `w.first_us..=w.last_us` (within one chart bucket).
    pub fn add_weighted(&mut self, row: &Row, strings: &Strings, w: Weight) {
        let outcome = row.outcome();
        let o = usize::from(outcome.code());
        self.totals.add(row, w);
        self.outcomes[o] += w.n;

        let user = self.users.entry(row.user).or_default();
        user.counts.add(row, w);
        user.outcomes[o] += w.n;
        if outcome.matched_a_list() {
            *user.matched.entry(row.matched).or_default() += w.n;
            user.last_matched_us = user.last_matched_us.max(w.last_us);
        }
        let source = user.sources.entry(row.asn_plus_one).or_default();
        source.counts.add(row, w);
        source.outcomes[o] += w.n;
        if row.as_desc != 0 {
            source.as_desc = row.as_desc;
        }
        if row.net_name != 0 {
            source.nets.insert(row.net_name);
        }
        if row.host != 0 {
            if source.hosts.len() < HOSTS_KEPT {
                source.hosts.insert(row.host);
            } else if !source.hosts.contains(&row.host) {
                source.hosts_more = true;
            }
        }
        for &c in &row.cloud {
            source.clouds.insert(c);
        }
        if let Some(ip) = row.ip {
            if source.ips.len() < HOSTS_KEPT {
                source.ips.insert(ip);
            }
        }

        let asn = self.asns.entry(row.asn_plus_one).or_default();
        asn.group.add(row, w);
        if row.as_desc != 0 {
            asn.as_desc = row.as_desc;
        }
        if row.as_cc != 0 {
            asn.as_cc = row.as_cc;
        }
        if row.host == 0 {
            asn.logins_without_host += w.n;
        } else if asn.hosts.len() < HOSTS_KEPT {
            asn.hosts.insert(row.host);
        }
        for &c in &row.cloud {
            asn.clouds.insert(c);
        }

        let mut services = [usize::MAX; 8];
        let mut n = 0;
        for &tag in &row.cloud {
            let index = match self.cloud_service_of.get(&tag) {
                Some(&i) => i,
                None => {
                    let service = CloudTag::provider_and_service_of(strings.get(tag));
                    let i = match self.cloud_index.get(service) {
                        Some(&i) => i,
                        None => {
                            self.clouds.push((
                                service.into(),
                                Group::default(),
                                FxHashSet::default(),
                            ));
                            self.cloud_index
                                .insert(service.into(), self.clouds.len() - 1);
                            self.clouds.len() - 1
                        }
                    };
                    self.cloud_service_of.insert(tag, i);
                    i
                }
            };
            let (_, _, tags) = &mut self.clouds[index];
            if tags.len() < 8 {
                tags.insert(tag);
            }
            if n < services.len() && !services[..n].contains(&index) {
                services[n] = index;
                n += 1;
            }
        }
        for &index in &services[..n] {
            self.clouds[index].1.add(row, w);
        }

        let country = if row.geo_cc != 0 {
            row.geo_cc
        } else {
            row.as_cc
        };
        self.countries.entry(country).or_default().add(row, w);

        if let Some(b) = w.first_us.checked_div(self.options.bucket_us) {
            self.buckets.entry(b).or_default()[o] += w.n;
        }

        if self.options.for_suggest {
            if row.host != 0 {
                let shape = self.shape_of.entry(row.host).or_insert_with(|| {
                    super::shape::host_shape(strings.get(row.host)).map(Into::into)
                });
                if let Some(shape) = shape {
                    match self.shapes.get_mut(&**shape) {
                        Some(e) => e.add(row, w),
                        None => self.shapes.entry(shape.clone()).or_default().add(row, w),
                    }
                }
            }
            for &e in &row.entities {
                self.entities.entry(e).or_default().add(row, w);
            }
        }
    }

    /// Resolves everything into a [`Summary`].
    pub fn finish(self, strings: &Strings) -> Summary {
        let s = |id: u32| strings.get(id).to_string();
        let opt = |id: u32| strings.opt(id).map(str::to_string);
        let asn_of = |plus_one: u64| plus_one.checked_sub(1).map(|a| a as u32);
        let sorted_strings = |ids: &FxHashSet<u32>| {
            let mut v: Vec<String> = ids.iter().map(|&i| s(i)).collect();
            v.sort();
            v
        };
        let all_users: usize = self.users.len();
        let mut users: Vec<UserSummary> = self
            .users
            .into_iter()
            .map(|(id, u)| {
                let mut matched: Vec<(String, u64)> =
                    u.matched.into_iter().map(|(m, n)| (s(m), n)).collect();
                matched.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                let mut sources: Vec<SourceSummary> = u
                    .sources
                    .into_iter()
                    .map(|(asn, src)| SourceSummary {
                        asn: asn_of(asn),
                        as_desc: opt(src.as_desc),
                        counts: src.counts,
                        outcomes: OutcomeCounts::from(src.outcomes),
                        networks: sorted_strings(&src.nets),
                        hosts: sorted_strings(&src.hosts),
                        hosts_more: src.hosts_more,
                        clouds: sorted_strings(&src.clouds),
                        ips: src.ips.len(),
                    })
                    .collect();
                sources.sort_by(|a, b| {
                    b.counts
                        .logins
                        .cmp(&a.counts.logins)
                        .then_with(|| a.asn.cmp(&b.asn))
                });
                UserSummary {
                    user: s(id),
                    counts: u.counts,
                    outcomes: OutcomeCounts::from(u.outcomes),
                    matched,
                    last_matched_us: u.last_matched_us,
                    sources,
                }
            })
            .collect();
        users.sort_by(|a, b| a.user.cmp(&b.user));

        let asns = self
            .asns
            .into_iter()
            .map(|(asn, g)| AsnSummary {
                asn: asn_of(asn),
                as_desc: opt(g.as_desc),
                as_cc: opt(g.as_cc),
                users: g.group.users.len(),
                counts: g.group.counts,
                hosts: sorted_strings(&g.hosts),
                logins_without_host: g.logins_without_host,
                clouds: sorted_strings(&g.clouds),
            })
            .collect();
        let clouds = self
            .clouds
            .into_iter()
            .map(|(service, g, tags)| CloudSummary {
                service: service.to_string(),
                tags: sorted_strings(&tags),
                users: g.users.len(),
                counts: g.counts,
            })
            .collect();
        let countries = self
            .countries
            .into_iter()
            .map(|(cc, g)| CountrySummary {
                country: opt(cc),
                users: g.users.len(),
                counts: g.counts,
            })
            .collect();
        let evidence = |key: String, e: Evidence| EvidenceSummary {
            key,
            users: {
                let mut v: Vec<String> = e.group.users.iter().map(|&u| s(u)).collect();
                v.sort();
                v
            },
            counts: e.group.counts,
            asns: {
                let mut v: Vec<u32> = e.asns.iter().filter_map(|&a| asn_of(a)).collect();
                v.sort_unstable();
                v
            },
            hosts: sorted_strings(&e.hosts),
            clouds: sorted_strings(&e.clouds),
        };
        let shapes = self
            .shapes
            .into_iter()
            .map(|(k, e)| evidence(k.to_string(), e))
            .collect();
        let entities = self
            .entities
            .into_iter()
            .map(|(k, e)| evidence(s(k), e))
            .collect();
        Summary {
            counts: self.totals,
            outcomes: OutcomeCounts::from(self.outcomes),
            distinct_users: all_users,
            users,
            asns,
            clouds,
            countries,
            buckets: self
                .buckets
                .into_iter()
                .map(|(b, c)| (b * self.options.bucket_us, OutcomeCounts::from(c)))
                .collect(),
            shapes,
            entities,
        }
    }
}

/// How many outcomes there are (the length of the per-outcome count arrays).
const OUTCOMES: usize = Outcome::ALL.len();

/// Logins by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct OutcomeCounts {
    pub allowed: u64,
    pub blocked: u64,
    pub would_block: u64,
    pub tempfail: u64,
    /// Refusals of logins whose password nobody had checked ([`Outcome::Unverified`]).
    pub unverified: u64,
}

impl From<[u64; OUTCOMES]> for OutcomeCounts {
    fn from(c: [u64; OUTCOMES]) -> Self {
        OutcomeCounts {
            allowed: c[usize::from(Outcome::Allowed.code())],
            blocked: c[usize::from(Outcome::Blocked.code())],
            would_block: c[usize::from(Outcome::WouldBlock.code())],
            tempfail: c[usize::from(Outcome::TempFail.code())],
            unverified: c[usize::from(Outcome::Unverified.code())],
        }
    }
}

/// Everything one pass found.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Summary {
    pub counts: Counts,
    pub outcomes: OutcomeCounts,
    pub distinct_users: usize,
    /// By user name.
    pub users: Vec<UserSummary>,
    /// Unsorted.
    pub asns: Vec<AsnSummary>,
    pub clouds: Vec<CloudSummary>,
    pub countries: Vec<CountrySummary>,
    /// Chart buckets: start time → counts.
    pub buckets: Vec<(u64, OutcomeCounts)>,
    pub shapes: Vec<EvidenceSummary>,
    pub entities: Vec<EvidenceSummary>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct UserSummary {
    pub user: String,
    pub counts: Counts,
    pub outcomes: OutcomeCounts,
    /// `matched=` labels with their counts, most frequent first.
    pub matched: Vec<(String, u64)>,
    pub last_matched_us: u64,
    /// Per AS, most logins first.
    pub sources: Vec<SourceSummary>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct SourceSummary {
    pub asn: Option<u32>,
    pub as_desc: Option<String>,
    pub counts: Counts,
    pub outcomes: OutcomeCounts,
    pub networks: Vec<String>,
    pub hosts: Vec<String>,
    /// More distinct hosts were seen than are kept.
    pub hosts_more: bool,
    pub clouds: Vec<String>,
    /// Distinct addresses (at most 64 are counted).
    pub ips: usize,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct AsnSummary {
    pub asn: Option<u32>,
    pub as_desc: Option<String>,
    pub as_cc: Option<String>,
    pub users: usize,
    pub counts: Counts,
    /// Up to 64 distinct hosts.
    pub hosts: Vec<String>,
    pub logins_without_host: u64,
    pub clouds: Vec<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct CloudSummary {
    /// `provider:service`.
    pub service: String,
    /// Up to 8 full tags seen.
    pub tags: Vec<String>,
    pub users: usize,
    pub counts: Counts,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct CountrySummary {
    pub country: Option<String>,
    pub users: usize,
    pub counts: Counts,
}

/// The evidence behind a possible suggestion.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EvidenceSummary {
    /// The host shape (a Lua pattern) or the entity handle.
    pub key: String,
    pub users: Vec<String>,
    pub counts: Counts,
    pub asns: Vec<u32>,
    pub hosts: Vec<String>,
    pub clouds: Vec<String>,
}

/// Aggregates what `filter` selects in `source` (the history or audit log lines: the
/// same rows either way); gives what was read when the source was log lines.
pub fn summarize<S: RowSource + ?Sized>(
    source: &S,
    filter: &Filter,
    options: AggregateOptions,
) -> Result<(Summary, Option<InputStats>), S::Error> {
    let mut agg = Aggregator::new(options.clone());
    let visited = source.visit(filter, options.bucket_us, &mut |row, strings, w| {
        agg.add_weighted(row, strings, w)
    })?;
    Ok((agg.finish(&visited.strings), visited.input))
}

/// [`summarize`] over the history store.
pub fn summarize_store(
    store: &HistoryStore,
    filter: &Filter,
    options: AggregateOptions,
) -> Result<Summary, HistoryError> {
    summarize(store, filter, options).map(|(summary, _)| summary)
}
