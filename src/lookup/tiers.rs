//! The cache tiers as the lookups use them: typed memory tables in front of the redb store
//! (written by a background task in batches) and, when configured, Redis.
//!
//! Reading: memory, then Redis (its answer is copied into memory). The store is read once,
//! at start, into memory. Writing: memory at once; store and Redis in the background, so a
//! slow disk or a dead Redis never delays a login.
//!
//! Bounded: every memory table and every table of the store holds at most `max_entries`
//! entries (the ones that expire soonest make room), and [`Tiers::prune`] removes what is
//! past its stale lifetime from memory and from the store (the daemon runs it
//! periodically). [`CacheSizes`] says how full each tier is.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ipnet::IpNet;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::cache::memory::{Cached, KeyTable, NetTable, DEFAULT_MAX_ENTRIES};
use crate::cache::redis::RedisTier;
use crate::cache::store::{CacheStore, StoreError};
use crate::cache::{now_unix, Stored, Table};
use crate::facts::Asn;
use crate::lookup::cymru::Origin;
use crate::rdap::RdapNetwork;

/// How long entries live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ttls {
    /// Fresh lifetime of a positive answer (PTR answers use their DNS TTL, at most this).
    pub positive: Duration,
    /// Fresh lifetime of a negative answer (no such name, not found).
    pub negative: Duration,
    /// How long past its freshness an entry may still be served while refreshing.
    pub stale: Duration,
}

impl Default for Ttls {
    fn default() -> Self {
        Ttls {
            positive: Duration::from_secs(24 * 3600),
            negative: Duration::from_secs(300),
            stale: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// The shortest lifetime of a positive answer that carries its own (a DNS TTL).
const MIN_OWN_TTL: Duration = Duration::from_secs(60);

impl Ttls {
    /// How long an answer stays fresh: `negative` for a negative one (`found` false);
    /// for a positive one `positive`, or its own lifetime `own` (a DNS TTL) when it has
    /// one, kept between a minute and `positive`.
    pub fn lifetime(&self, found: bool, own: Option<Duration>) -> Duration {
        match (found, own) {
            (false, _) => self.negative,
            (true, None) => self.positive,
            // Never `clamp`: it panics when an admin sets the lifetime below a minute.
            (true, Some(ttl)) => ttl.max(MIN_OWN_TTL).min(self.positive),
        }
    }
}

/// One write for the background writer.
type Write = (Table, String, Stored);

/// Entries of one table of one tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSize {
    /// The table's name ([`Table::name`], or `dnsbl`).
    pub table: String,
    pub entries: usize,
}

/// How full the cache tiers are (for `cache stats` and `/metrics`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheSizes {
    /// The store file, when there is one.
    pub path: Option<PathBuf>,
    /// Its size in bytes.
    pub file_bytes: Option<u64>,
    /// Rows per table of the store (empty without a store).
    pub store: Vec<TableSize>,
    /// Entries per memory table.
    pub memory: Vec<TableSize>,
    /// The cap of every table, in entries.
    pub max_entries: usize,
}

/// What one [`Tiers::prune`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub memory: usize,
    pub store: usize,
}

/// The typed tables plus the lower tiers.
pub struct Tiers {
    pub origin: NetTable<Option<Origin>>,
    pub rdap: NetTable<Option<RdapNetwork>>,
    pub as_name: KeyTable<Asn, Option<String>>,
    pub ptr: KeyTable<IpAddr, Option<String>>,
    pub ttls: Ttls,
    store: Option<Arc<CacheStore>>,
    writes: Option<mpsc::Sender<Write>>,
    /// The shared tier: set at start, or later by [`Tiers::with_redis_unreachable`]'s
    /// reconnection task once the configured Redis answers.
    redis: Arc<OnceLock<RedisTier>>,
    /// A Redis is configured but was not reached at start (`redis` stays empty until it is).
    redis_unreachable: bool,
    /// While Redis is failing, it is skipped until this time (ms since the epoch), so a dead
    /// Redis costs one timeout per pause, not one per lookup.
    redis_paused_until: Arc<AtomicU64>,
    /// Background writes (store and Redis) not finished yet.
    pending: Arc<AtomicUsize>,
    /// The cap of every table (memory and store), in entries.
    max_entries: usize,
    /// "The writer is behind", logged at most once per interval.
    behind_log: crate::warn_limit::WarnLimit,
}

/// How long Redis is skipped after it failed.
const REDIS_PAUSE: Duration = Duration::from_secs(5);

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl std::fmt::Debug for Tiers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tiers")
            .field("origin", &self.origin.len())
            .field("rdap", &self.rdap.len())
            .field("store", &self.store.is_some())
            .field("redis", &self.redis.get().is_some())
            .finish()
    }
}

fn decode<T: DeserializeOwned>(s: &Stored) -> Option<Cached<Option<T>>> {
    let value: Option<T> = serde_json::from_str(&s.value).ok()?;
    Some(Cached {
        value: Arc::new(value),
        stored_at: s.stored_at,
        expires_at: s.expires_at,
    })
}

fn encode<T: Serialize>(c: &Cached<Option<T>>) -> Option<Stored> {
    Some(Stored {
        value: serde_json::to_string(&*c.value).ok()?,
        stored_at: c.stored_at,
        expires_at: c.expires_at,
    })
}

impl Tiers {
    /// Memory only, every table capped at [`DEFAULT_MAX_ENTRIES`].
    pub fn memory(ttls: Ttls) -> Tiers {
        Tiers::memory_capped(ttls, DEFAULT_MAX_ENTRIES)
    }

    /// Memory only, every table (and the store added later) capped at `max_entries`.
    pub fn memory_capped(ttls: Ttls, max_entries: usize) -> Tiers {
        let max_entries = max_entries.max(1);
        Tiers {
            origin: NetTable::with_max_entries(max_entries),
            rdap: NetTable::with_max_entries(max_entries),
            as_name: KeyTable::with_max_entries(max_entries),
            ptr: KeyTable::with_max_entries(max_entries),
            max_entries,
            behind_log: crate::warn_limit::WarnLimit::new(Duration::from_secs(10)),
            ttls,
            store: None,
            writes: None,
            redis: Arc::new(OnceLock::new()),
            redis_unreachable: false,
            redis_paused_until: Arc::new(AtomicU64::new(0)),
            pending: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Adds the persistent store: loads what it holds and starts the writer task (needs a
    /// Tokio runtime).
    pub fn with_store(mut self, store: CacheStore) -> Tiers {
        let store = Arc::new(store);
        self.load(&store);
        let (tx, rx) = mpsc::channel(4096);
        tokio::spawn(write_batches(
            Arc::clone(&store),
            rx,
            Arc::clone(&self.pending),
            self.max_entries,
        ));
        self.store = Some(store);
        self.writes = Some(tx);
        self
    }

    /// Adds the shared Redis tier.
    pub fn with_redis(self, redis: RedisTier) -> Tiers {
        // A fresh `Tiers` has no tier yet, so this sets it.
        let _ = self.redis.set(redis);
        self
    }

    /// Records that the configured Redis could not be reached at start: the local tiers work
    /// alone, [`Tiers::redis_degraded`] says so, and `connect` is tried again every `every`
    /// in the background (needs a Tokio runtime) until it gives the tier, which is used from
    /// then on.
    pub fn with_redis_unreachable<F, Fut, E>(mut self, every: Duration, mut connect: F) -> Tiers
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<RedisTier, E>> + Send,
        E: std::fmt::Display,
    {
        self.redis_unreachable = true;
        let slot = Arc::downgrade(&self.redis);
        tokio::spawn(async move {
            let mut failures = 0u64;
            loop {
                tokio::time::sleep(every).await;
                // The lookup service is gone: nothing to connect for.
                let Some(slot) = slot.upgrade() else { return };
                match connect().await {
                    Ok(redis) => {
                        let _ = slot.set(redis);
                        tracing::warn!("the shared cache (Redis) answers now; using it again");
                        return;
                    }
                    Err(e) => {
                        failures += 1;
                        // Once a minute at the default interval, not every attempt.
                        if failures.is_multiple_of(12) {
                            tracing::warn!(error = %e, failures, "the shared cache (Redis) is still unreachable");
                        }
                    }
                }
            }
        });
        self
    }

    /// Why the shared tier is not in use, for `/healthz`: it was unreachable at start (a
    /// dead Redis, a wrong password) and still is, or it failed lately and is skipped for now.
    pub fn redis_degraded(&self) -> Option<&'static str> {
        if self.redis_unreachable && self.redis.get().is_none() {
            return Some(
                "shared cache (Redis) unreachable since start; using the local cache only",
            );
        }
        self.redis.get()?;
        (now_millis() < self.redis_paused_until.load(Ordering::Relaxed))
            .then_some("shared cache (Redis) failing; using the local cache only for now")
    }

    /// The persistent store, if any.
    pub fn store(&self) -> Option<&Arc<CacheStore>> {
        self.store.as_ref()
    }

    fn load(&self, store: &CacheStore) {
        let oldest = now_unix().saturating_sub(self.ttls.stale.as_secs());
        for table in Table::ALL {
            for (key, stored) in store.load_all(table) {
                if stored.expires_at < oldest {
                    continue;
                }
                self.fill(table, &key, &stored);
            }
        }
    }

    /// Puts an entry read from a lower tier into memory. Undecodable entries are dropped.
    fn fill(&self, table: Table, key: &str, stored: &Stored) {
        match table {
            Table::Origin => {
                if let (Ok(net), Some(c)) = (key.parse::<IpNet>(), decode::<Origin>(stored)) {
                    self.origin.insert(net, c);
                }
            }
            Table::Rdap => {
                if let (Ok(net), Some(c)) = (key.parse::<IpNet>(), decode::<RdapNetwork>(stored)) {
                    self.rdap.insert(net, c);
                }
            }
            Table::AsName => {
                if let (Ok(asn), Some(c)) = (key.parse::<Asn>(), decode::<String>(stored)) {
                    self.as_name.insert(asn, c);
                }
            }
            Table::Ptr => {
                if let (Ok(ip), Some(c)) = (key.parse::<IpAddr>(), decode::<String>(stored)) {
                    self.ptr.insert(ip, c);
                }
            }
        }
    }

    /// A fresh-for-`ttl` entry holding `value`.
    pub fn entry<T>(value: Option<T>, ttl: Duration) -> Cached<Option<T>> {
        let now = now_unix();
        Cached {
            value: Arc::new(value),
            stored_at: now,
            expires_at: now.saturating_add(ttl.as_secs()),
        }
    }

    /// Sends an entry to the store and Redis in the background.
    fn persist<T: Serialize>(&self, table: Table, key: String, c: &Cached<Option<T>>) {
        let Some(stored) = encode(c) else { return };
        if let Some(redis) = self.live_redis() {
            let redis = redis.clone();
            let paused = Arc::clone(&self.redis_paused_until);
            let (k, s) = (key.clone(), stored.clone());
            let keep = self.ttls.stale;
            let pending = Arc::clone(&self.pending);
            pending.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                if let Err(e) = redis.put(table, &k, &s, keep).await {
                    pause_redis(&paused, &e);
                }
                pending.fetch_sub(1, Ordering::SeqCst);
            });
        }
        if let Some(tx) = &self.writes {
            self.pending.fetch_add(1, Ordering::SeqCst);
            if tx.try_send((table, key, stored)).is_err() {
                self.pending.fetch_sub(1, Ordering::SeqCst);
                if let Some(n) = self.behind_log.hit() {
                    tracing::warn!(
                        entries = n,
                        "cache store writer is behind; entries kept in memory only"
                    );
                }
            }
        }
    }

    pub fn put_origin(&self, net: IpNet, c: Cached<Option<Origin>>) {
        self.persist(Table::Origin, net.trunc().to_string(), &c);
        self.origin.insert(net, c);
    }

    pub fn put_rdap(&self, nets: &[IpNet], c: Cached<Option<RdapNetwork>>) {
        for net in nets {
            self.persist(Table::Rdap, net.trunc().to_string(), &c);
            self.rdap.insert(*net, c.clone());
        }
    }

    pub fn put_as_name(&self, asn: Asn, c: Cached<Option<String>>) {
        self.persist(Table::AsName, asn.to_string(), &c);
        self.as_name.insert(asn, c);
    }

    pub fn put_ptr(&self, ip: IpAddr, c: Cached<Option<String>>) {
        self.persist(Table::Ptr, ip.to_string(), &c);
        self.ptr.insert(ip, c);
    }

    /// Redis, unless none is configured or it is paused after a failure.
    fn live_redis(&self) -> Option<&RedisTier> {
        let redis = self.redis.get()?;
        (now_millis() >= self.redis_paused_until.load(Ordering::Relaxed)).then_some(redis)
    }

    /// Looks `ip` up in Redis for a network-keyed table and copies a hit into memory.
    pub async fn redis_network(&self, table: Table, ip: IpAddr) -> bool {
        let Some(redis) = self.live_redis() else {
            return false;
        };
        match redis.get_covering(table, ip).await {
            Ok(Some((net, stored))) => {
                self.fill(table, &net.to_string(), &stored);
                true
            }
            Ok(None) => false,
            Err(e) => {
                pause_redis(&self.redis_paused_until, &e);
                false
            }
        }
    }

    /// Looks a key up in Redis and copies a hit into memory.
    pub async fn redis_key(&self, table: Table, key: String) -> bool {
        let Some(redis) = self.live_redis() else {
            return false;
        };
        match redis.get(table, &key).await {
            Ok(Some(stored)) => {
                self.fill(table, &key, &stored);
                true
            }
            Ok(None) => false,
            Err(e) => {
                pause_redis(&self.redis_paused_until, &e);
                false
            }
        }
    }

    /// Waits (at most `limit`) until the background writes are done: for a command that
    /// exits after its lookups. Returns whether everything was written.
    pub async fn flush(&self, limit: Duration) -> bool {
        let until = tokio::time::Instant::now() + limit;
        while self.pending.load(Ordering::SeqCst) > 0 {
            if tokio::time::Instant::now() >= until {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        true
    }

    /// Whether a Redis tier is in use (configured and reached).
    pub fn has_redis(&self) -> bool {
        self.redis.get().is_some()
    }

    /// The cap of every table, in entries.
    pub fn max_entries(&self) -> usize {
        self.max_entries
    }

    /// The oldest `expires_at` an entry may have at `now` and still be kept: past it, it is
    /// too stale to serve.
    pub fn keep_limit(&self, now: u64) -> u64 {
        now.saturating_sub(self.ttls.stale.as_secs())
    }

    /// Removes the memory entries past their stale lifetime at `now`; returns how many.
    pub fn prune_memory(&self, now: u64) -> usize {
        let limit = self.keep_limit(now);
        self.origin.prune(limit)
            + self.rdap.prune(limit)
            + self.as_name.prune(limit)
            + self.ptr.prune(limit)
    }

    /// Removes the store's rows past their stale lifetime at `now` and keeps every table
    /// within the cap; returns how many rows went. Blocking: run it off the async workers.
    pub fn prune_store(&self, now: u64) -> Result<usize, StoreError> {
        let Some(store) = &self.store else {
            return Ok(0);
        };
        let expired = store.prune_expired(self.keep_limit(now))?;
        Ok(expired + store.cap_rows(self.max_entries)?)
    }

    /// Entries per memory table, in [`Table::ALL`] order.
    pub fn memory_sizes(&self) -> Vec<TableSize> {
        Table::ALL
            .into_iter()
            .map(|table| TableSize {
                table: table.name().to_string(),
                entries: match table {
                    Table::Origin => self.origin.len(),
                    Table::AsName => self.as_name.len(),
                    Table::Rdap => self.rdap.len(),
                    Table::Ptr => self.ptr.len(),
                },
            })
            .collect()
    }

    /// How full the tiers are; the store part reads the file (blocking: run it off the
    /// async workers).
    pub fn sizes(&self) -> Result<CacheSizes, StoreError> {
        let mut sizes = CacheSizes {
            memory: self.memory_sizes(),
            max_entries: self.max_entries,
            ..CacheSizes::default()
        };
        if let Some(store) = &self.store {
            sizes.path = Some(store.path().to_path_buf());
            sizes.file_bytes = Some(store.file_size()?);
            sizes.store = store
                .stats()?
                .into_iter()
                .map(|(table, entries)| TableSize {
                    table: table.name().to_string(),
                    entries,
                })
                .collect();
        }
        Ok(sizes)
    }

    /// Removes every memory entry, or those for `ip` (its networks, its PTR); returns how
    /// many went.
    pub fn purge_memory(&self, ip: Option<IpAddr>) -> usize {
        match ip {
            None => {
                let n = self.origin.len() + self.rdap.len() + self.as_name.len() + self.ptr.len();
                self.origin.clear();
                self.rdap.clear();
                self.as_name.clear();
                self.ptr.clear();
                n
            }
            Some(ip) => {
                let canonical = crate::reserved::canonical(ip);
                self.origin.remove_covering(canonical)
                    + self.rdap.remove_covering(canonical)
                    + usize::from(self.ptr.remove(&canonical))
                    + usize::from(ip != canonical && self.ptr.remove(&ip))
            }
        }
    }
}

/// Skips Redis for a while after `error`, and says so.
fn pause_redis(paused_until: &AtomicU64, error: &impl std::fmt::Display) {
    paused_until.store(
        now_millis().saturating_add(REDIS_PAUSE.as_millis() as u64),
        Ordering::Relaxed,
    );
    tracing::warn!(
        %error,
        pause_secs = REDIS_PAUSE.as_secs(),
        "Redis cache failed; using the local cache only for now"
    );
}

/// The store writer: batches of up to 512 entries, one write transaction each, which also
/// keeps every table within `max_entries` rows.
async fn write_batches(
    store: Arc<CacheStore>,
    mut rx: mpsc::Receiver<Write>,
    pending: Arc<AtomicUsize>,
    max_entries: usize,
) {
    let mut batch = Vec::with_capacity(512);
    while rx.recv_many(&mut batch, 512).await > 0 {
        let items = std::mem::take(&mut batch);
        let written = items.len();
        let job = Arc::clone(&store);
        let result =
            tokio::task::spawn_blocking(move || job.put_many_capped(&items, max_entries)).await;
        match result {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => store.log_write_failure(&e),
            Err(e) => tracing::warn!(error = %e, "cache store writer failed"),
        }
        pending.fetch_sub(written, Ordering::SeqCst);
    }
}
