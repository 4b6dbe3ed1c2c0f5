//! [`download`]: one GET of a feed URL with reqwest (rustls with ring), refused when it is
//! not 2xx, takes longer than the timeout, or grows past the size cap while streaming.

use std::time::Duration;

use super::error::CloudError;

/// Downloads `url` (at most `max_bytes` of body, all within `timeout`).
pub async fn download(
    url: &str,
    max_bytes: usize,
    timeout: Duration,
) -> Result<Vec<u8>, CloudError> {
    let http = |reason: String| CloudError::Http {
        url: url.to_owned(),
        reason,
    };
    let (client, tls_problem) = crate::tls::client_with_system_roots(|| {
        reqwest::Client::builder()
            .user_agent(concat!("badclients/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::limited(5))
            .timeout(timeout)
            .connect_timeout(timeout)
    })
    .map_err(|e| http(e.to_string()))?;
    let exchange = async {
        let mut response = client.get(url).send().await.map_err(|e| {
            match (classify(url, &e, timeout), &tls_problem) {
                // Say why an HTTPS feed cannot be fetched on this machine.
                (CloudError::Http { url, reason }, Some(problem)) => CloudError::Http {
                    url,
                    reason: format!("{reason} ({problem})"),
                },
                (other, _) => other,
            }
        })?;
        let status = response.status();
        if !status.is_success() {
            return Err(CloudError::Status {
                url: url.to_owned(),
                status: status.as_u16(),
            });
        }
        let too_large = || CloudError::TooLarge {
            url: url.to_owned(),
            max_bytes,
        };
        let announced = response.content_length();
        if announced.is_some_and(|len| len > max_bytes as u64) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| classify(url, &e, timeout))?
        {
            if chunk.len() > max_bytes - body.len() {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .unwrap_or(Err(CloudError::Timeout {
            url: url.to_owned(),
            after: timeout,
        }))
}

fn classify(url: &str, error: &reqwest::Error, timeout: Duration) -> CloudError {
    if error.is_timeout() {
        return CloudError::Timeout {
            url: url.to_owned(),
            after: timeout,
        };
    }
    let reason = crate::error_chain::error_chain(error);
    CloudError::Http {
        url: url.to_owned(),
        reason,
    }
}
