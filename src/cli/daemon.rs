//! Asking the running daemon over its HTTP listener (`[http] listen`: TCP, or a unix
//! socket), with the API key when one is configured: for the commands whose file (history,
//! cache) the daemon holds.

use std::net::SocketAddr;

use anyhow::{bail, Context as _, Result};

use badclients::config::Config;
use badclients::postfix::listen::ListenAddr;

/// The request's method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Method {
    Get,
    Post,
}

/// Sends one request to the daemon and returns its JSON answer; `held` names what the
/// daemon holds (for the error when it does not answer).
pub(super) fn request(
    config: &Config,
    method: Method,
    path: &str,
    query: &[(&str, String)],
    held: &str,
) -> Result<serde_json::Value> {
    let listen: ListenAddr = config
        .http
        .listen
        .parse()
        .with_context(|| format!("[http] listen = {:?}", config.http.listen))?;
    badclients::tls::install_crypto_provider();
    let mut builder = reqwest::Client::builder().timeout(std::time::Duration::from_secs(60));
    let base = match &listen {
        ListenAddr::Tcp(addr) => {
            let addr = if addr.ip().is_unspecified() {
                SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), addr.port())
            } else {
                *addr
            };
            format!("http://{addr}")
        }
        ListenAddr::Unix(p) => {
            builder = builder.unix_socket(p.clone());
            "http://localhost".to_string()
        }
    };
    let client = builder.build().context("HTTP client")?;
    let mut url = url::Url::parse(&format!("{base}{path}")).context("daemon URL")?;
    if !query.is_empty() {
        url.query_pairs_mut()
            .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async {
        let mut req = match method {
            Method::Get => client.get(url.clone()),
            Method::Post => client.post(url.clone()),
        };
        if let Some(key) = &config.http.api_key {
            req = req.header(config.http.api_header.as_str(), key.trim());
        }
        let resp = req.send().await.with_context(|| {
            format!("{held} is held by the daemon, which did not answer at {url}")
        })?;
        let status = resp.status();
        let body: serde_json::Value = resp
            .json()
            .await
            .context("the daemon's answer is not JSON")?;
        if !status.is_success() {
            bail!(
                "the daemon answered {status}: {}",
                body.get("error").and_then(|e| e.as_str()).unwrap_or("")
            );
        }
        Ok(body)
    })
}
