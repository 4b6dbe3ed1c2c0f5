//! `cache stats` and `cache purge`: the cache file, the daemon's cache or Redis.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};

use badclients::cache::redis::RedisTier;
use badclients::cache::store::CacheStore;
use badclients::config::Config;
use badclients::lookup::tiers::CacheSizes;

use super::daemon;
use super::runtime::runtime;

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

pub(super) fn cache_stats(config: Option<&Path>) -> Result<ExitCode> {
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

pub(super) fn cache_purge(config: Option<&Path>, ip: Option<IpAddr>) -> Result<ExitCode> {
    let loaded = Config::load(config)?;
    let (_, store) = open_store(&loaded.config)?;
    match store {
        Some(store) => {
            let removed = match ip {
                None => store.purge_all()?,
                Some(ip) => badclients::lookup::purge::purge_ip(&store, ip)?,
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
    if let Some(target) = loaded
        .config
        .cache
        .redis_target()
        .map_err(anyhow::Error::msg)?
    {
        let timeout = std::time::Duration::from_millis(loaded.config.cache.redis_timeout_ms);
        let removed = runtime()?.block_on(async {
            let redis = RedisTier::open(&target, timeout)
                .await
                .with_context(|| format!("{target}"))?;
            match ip {
                None => redis.purge_all().await,
                Some(ip) => badclients::lookup::purge::purge_ip_redis(&redis, ip).await,
            }
            .with_context(|| format!("{target}"))
        })?;
        println!("removed {removed} entries from Redis");
    }
    Ok(ExitCode::SUCCESS)
}
