//! [`CloudError`]: everything that can go wrong parsing, storing or downloading a feed.

use std::path::PathBuf;

use crate::facts::CloudProvider as Provider;

/// A cloud feed error.
#[derive(Debug, thiserror::Error)]
pub enum CloudError {
    #[error("unknown cloud provider {name:?}")]
    UnknownProvider { name: String },
    #[error("{}", no_url_text(*provider))]
    NoDefaultUrl { provider: Provider },
    #[error("{provider} feed is not valid JSON of the expected shape: {reason}")]
    Json { provider: Provider, reason: String },
    #[error("{provider} feed: {what} is not an IP prefix: {text:?}")]
    BadPrefix {
        provider: Provider,
        /// Where in the feed (line number or entry).
        what: String,
        text: String,
    },
    #[error("{provider} feed has no prefixes")]
    Empty { provider: Provider },
    #[error("{provider} feed rejected, {kept}: {source}")]
    Rejected {
        provider: Provider,
        /// "the previous feed is kept" or "no feed was stored before".
        kept: &'static str,
        #[source]
        source: Box<CloudError>,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: bad metadata: {reason}")]
    Meta { path: PathBuf, reason: String },
    #[error("download of {url}: {reason}")]
    Http { url: String, reason: String },
    #[error("download of {url}: HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("download of {url}: larger than {max_bytes} bytes")]
    TooLarge { url: String, max_bytes: usize },
    #[error("download of {url}: timed out after {} ms", after.as_millis())]
    Timeout {
        url: String,
        after: std::time::Duration,
    },
}

/// What to do about a provider without a feed URL: where the URL goes (`[cloud.urls]`), where
/// to find it, and the `--from-file` alternative.
fn no_url_text(provider: Provider) -> String {
    let page = match provider {
        Provider::Azure => {
            " (Microsoft's weekly ServiceTags_Public_YYYYMMDD.json, linked from \
             https://www.microsoft.com/en-us/download/details.aspx?id=56519)"
        }
        _ => "",
    };
    format!(
        "{provider} has no stable feed URL (the download link changes weekly): set \
         `[cloud.urls] {provider} = \"URL\"` in the configuration to the current feed{page}, \
         or download it and run `badclients ranges update --from-file {provider}=FILE`"
    )
}

impl CloudError {
    /// A JSON parse error of `provider`'s feed.
    pub(crate) fn json(provider: Provider, error: &serde_json::Error) -> CloudError {
        CloudError::Json {
            provider,
            reason: error.to_string(),
        }
    }
}
