//! `ranges update` and `ranges status`: the cloud providers' range feeds.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};

use badclients::config::Config;

use super::error_text::error_text;
use super::runtime::runtime;

/// `ranges update`: every requested feed downloaded (or imported) and stored. A provider
/// without a feed URL is skipped with a note when it was not asked for by name (the
/// default "all"); a feed that fails is an error and the exit status 1.
pub(super) fn ranges_update(
    config: Option<&Path>,
    files: &[String],
    only: &[String],
) -> Result<ExitCode> {
    use badclients::cloud::{client_request_id, download, CloudError, Provider, ProviderFeed};
    let loaded = Config::load(config)?;
    let store = badclients::app::feed_store(&loaded.config);
    let mut failed: Vec<Provider> = Vec::new();
    let mut report = |provider: Provider, result: Result<String>| match result {
        Ok(done) => println!("{provider}: {done}"),
        Err(e) => {
            failed.push(provider);
            eprintln!("{provider}: error: {}", error_text(&e));
        }
    };
    if !files.is_empty() {
        for spec in files {
            let Some((name, path)) = spec.split_once('=') else {
                bail!("--from-file wants PROVIDER=PATH, not {spec:?}");
            };
            let provider: Provider = name.parse()?;
            let result = std::fs::read(path)
                .with_context(|| format!("cannot read {path}"))
                .and_then(|bytes| Ok(store.update(provider, &bytes, &format!("file:{path}"))?))
                .map(|m| format!("{} prefixes from {path}", m.prefixes));
            report(provider, result);
        }
    } else {
        let providers: Vec<Provider> = if only.is_empty() {
            Provider::ALL.to_vec()
        } else {
            only.iter().map(|p| p.parse()).collect::<Result<_, _>>()?
        };
        let rt = runtime()?;
        for provider in providers {
            let url = match loaded.config.cloud.urls.get(provider.name()) {
                Some(u) => u.clone(),
                None => match provider.default_url(&client_request_id(b"badclients")) {
                    Ok(url) => url,
                    // Asked for by name: nothing was done, so it fails; else a note.
                    Err(e @ CloudError::NoDefaultUrl { .. }) if only.is_empty() => {
                        eprintln!("{provider}: note: skipped: {e}");
                        if let Ok(Some(meta)) = store.meta(provider) {
                            eprintln!(
                                "{provider}: note: the stored feed ({} prefixes from {}) is kept",
                                meta.prefixes, meta.source
                            );
                        }
                        continue;
                    }
                    Err(e) => {
                        report(provider, Err(e.into()));
                        continue;
                    }
                },
            };
            let result = rt
                .block_on(download(&url, 64 << 20, std::time::Duration::from_secs(60)))
                .map_err(anyhow::Error::from)
                .and_then(|bytes| Ok(store.update(provider, &bytes, &url)?))
                .map(|meta| format!("{} prefixes from {url}", meta.prefixes));
            report(provider, result);
        }
    }
    if failed.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    let names: Vec<&str> = failed.iter().map(|p| p.name()).collect();
    eprintln!(
        "badclients: {} feed(s) failed: {}; each keeps its previous stored feed",
        failed.len(),
        names.join(", ")
    );
    Ok(ExitCode::from(1))
}

pub(super) fn ranges_status(config: Option<&Path>) -> Result<ExitCode> {
    let loaded = Config::load(config)?;
    let dir = loaded.config.cloud_dir();
    let store = badclients::app::feed_store(&loaded.config);
    println!("feeds in {}", dir.display());
    let status = store.status();
    if status.is_empty() {
        println!("none stored yet: run `badclients ranges update`");
    }
    for s in status {
        println!(
            "{:13} {:>7} prefixes {:>10} bytes  {:>6.1} h old  {}",
            s.provider.to_string(),
            s.prefixes,
            s.bytes,
            s.age.as_secs_f64() / 3600.0,
            s.source
        );
    }
    Ok(ExitCode::SUCCESS)
}
