//! The cache's upkeep in the daemon: every `[cache] prune_interval_secs`, the entries past
//! their stale lifetime leave the memory tables and the cache file, the file's tables are
//! kept within `[cache] max_entries`, and the sizes go to `/metrics`.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::cache::now_unix;
use crate::lookup::Lookup;
use crate::metrics::Metrics;

/// Runs until `stop`: sizes at once, then a prune and the sizes every `every`.
pub(super) async fn run(
    lookup: Lookup,
    metrics: Arc<Metrics>,
    every: Duration,
    stop: CancellationToken,
) {
    let every = every.max(Duration::from_secs(1));
    observe_sizes(&lookup, &metrics).await;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        prune(&lookup, &metrics).await;
        observe_sizes(&lookup, &metrics).await;
    }
}

/// One prune of memory and store, counted and logged.
pub(super) async fn prune(lookup: &Lookup, metrics: &Metrics) {
    let now = now_unix();
    let memory = lookup.prune_memory(now);
    metrics.observe_cache_pruned("memory", memory);
    let blocking = lookup.clone();
    match tokio::task::spawn_blocking(move || blocking.tiers().prune_store(now)).await {
        Ok(Ok(store)) => {
            metrics.observe_cache_pruned("store", store);
            tracing::debug!(memory, store, "cache pruned");
        }
        // Once per interval at most: the interval is the rate limit.
        Ok(Err(error)) => tracing::warn!(%error, "cache file: pruning failed; will try again"),
        Err(error) => tracing::warn!(%error, "cache file: the prune task failed"),
    }
}

/// Reads the sizes (off the async workers: the store part reads the file) into `metrics`.
async fn observe_sizes(lookup: &Lookup, metrics: &Metrics) {
    let blocking = lookup.clone();
    match tokio::task::spawn_blocking(move || blocking.cache_sizes()).await {
        Ok(Ok(sizes)) => metrics.observe_cache_sizes(&sizes),
        Ok(Err(error)) => tracing::warn!(%error, "cache file: cannot read its size"),
        Err(error) => tracing::warn!(%error, "cache file: the size task failed"),
    }
}
