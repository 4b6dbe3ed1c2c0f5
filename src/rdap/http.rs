//! The HTTP exchange of one RDAP lookup: a reqwest client (rustls with ring, bounded
//! redirects to http/https only, `Accept: application/rdap+json`), one GET, and a body read
//! chunk by chunk that stops as soon as it passes the size limit.

use std::error::Error as StdError;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, RETRY_AFTER};
use reqwest::redirect::{Attempt, Policy};
use url::Url;

use super::config::RdapConfig;
use super::error::RdapError;
use crate::error_chain::error_chain;

/// The media type of RDAP answers (RFC 9083 §10.1).
pub const RDAP_MEDIA_TYPE: &str = "application/rdap+json";

/// What came back for one GET.
#[derive(Debug)]
pub(super) struct Fetched {
    /// The URL that answered (after redirects).
    pub url: Url,
    pub status: u16,
    /// The `Retry-After` header, when it is text.
    pub retry_after: Option<String>,
    /// The body of a 2xx answer (at most the configured size); empty otherwise.
    pub body: Vec<u8>,
}

/// Why a redirect was not followed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct RedirectRefused(String);

/// A reqwest client for RDAP, and why HTTPS cannot work when the system has no CA
/// certificates (see [`crate::tls::client_with_system_roots`]).
pub(super) fn build_client(
    config: &RdapConfig,
) -> Result<(reqwest::Client, Option<String>), RdapError> {
    let mut headers = HeaderMap::new();
    headers.insert(ACCEPT, HeaderValue::from_static(RDAP_MEDIA_TYPE));
    crate::tls::client_with_system_roots(|| {
        reqwest::Client::builder()
            .default_headers(headers.clone())
            .user_agent(config.user_agent.as_str())
            .redirect(redirect_policy(config.max_redirects))
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
    })
    .map_err(|e| RdapError::Config {
        reason: error_chain(&e),
    })
}

/// Follows at most `max` redirects, never to a URL already visited in this lookup and
/// never to anything but http/https.
fn redirect_policy(max: usize) -> Policy {
    Policy::custom(move |attempt: Attempt<'_>| {
        let next = attempt.url();
        let refusal = if !matches!(next.scheme(), "http" | "https") {
            Some(format!("redirect to a URL that is not http(s): {next}"))
        } else if attempt.previous().contains(next) {
            Some(format!("redirect loop back to {next}"))
        } else if attempt.previous().len() > max {
            // `previous` holds the first URL and every URL redirected to so far.
            Some(format!("more than {max} redirects (the last to {next})"))
        } else {
            None
        };
        match refusal {
            Some(reason) => attempt.error(RedirectRefused(reason)),
            None => attempt.follow(),
        }
    })
}

/// GETs `url`, reading the body only for a 2xx answer and at most `max_body_bytes` of it,
/// all within `timeout`.
pub(super) async fn fetch(
    client: &reqwest::Client,
    url: Url,
    max_body_bytes: usize,
    timeout: Duration,
) -> Result<Fetched, RdapError> {
    let exchange = async {
        let mut response = client
            .get(url)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| from_reqwest(&e, timeout))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let final_url = response.url().clone();
        let body = if status.is_success() {
            read_capped(&mut response, max_body_bytes, timeout).await?
        } else {
            Vec::new()
        };
        Ok(Fetched {
            url: final_url,
            status: status.as_u16(),
            retry_after,
            body,
        })
    };
    // reqwest's own timer covers the same span; this one also bounds anything it misses.
    tokio::time::timeout(timeout, exchange)
        .await
        .unwrap_or(Err(RdapError::Timeout { after: timeout }))
}

/// The body, refused as soon as it is known to be longer than `limit`: from the
/// `Content-Length` header before reading, or from the bytes read so far.
async fn read_capped(
    response: &mut reqwest::Response,
    limit: usize,
    timeout: Duration,
) -> Result<Vec<u8>, RdapError> {
    let too_large = RdapError::TooLarge { limit };
    let announced = response.content_length();
    if announced.is_some_and(|len| len > limit as u64) {
        return Err(too_large);
    }
    let capacity = announced
        .and_then(|len| usize::try_from(len).ok())
        .unwrap_or(0)
        .min(limit);
    let mut body = Vec::with_capacity(capacity);
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| from_reqwest(&e, timeout))?
    {
        if chunk.len() > limit - body.len() {
            return Err(too_large);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Classifies a reqwest failure; `timeout` is the limit a timeout error hit.
fn from_reqwest(error: &reqwest::Error, timeout: Duration) -> RdapError {
    if error.is_timeout() {
        return RdapError::Timeout { after: timeout };
    }
    if error.is_redirect() {
        let mut source = error.source();
        while let Some(cause) = source {
            if let Some(refused) = cause.downcast_ref::<RedirectRefused>() {
                return RdapError::Redirects {
                    reason: refused.0.clone(),
                };
            }
            source = cause.source();
        }
        return RdapError::Redirects {
            reason: error_chain(error),
        };
    }
    RdapError::Transport {
        reason: error_chain(error),
    }
}
