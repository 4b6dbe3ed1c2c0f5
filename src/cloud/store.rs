//! [`FeedStore`]: the raw feeds in `<state_dir>/ranges/<provider>.<ext>` with their
//! metadata in `<provider>.meta.json`. A new feed replaces the stored one only when it
//! parses, and atomically (temp file, then rename); loading reads every stored feed into
//! one [`CloudRanges`], turning feeds that fail into warnings.
//!
//! The metadata carries the byte length and an FNV-1a 64 hash of the feed (labelled as
//! such: a change detector, not a cryptographic checksum; sha256 needs the `sha2` crate).

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::error::CloudError;
use super::provider::ProviderFeed;
use super::ranges::CloudRanges;
use crate::facts::CloudProvider as Provider;

/// The metadata stored next to a feed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedMeta {
    /// The provider's short name.
    pub provider: String,
    /// Where the feed came from: a URL or `file:<path>`, as the caller gave it.
    pub source: String,
    /// When it was stored, in seconds since the Unix epoch.
    pub fetched_at: u64,
    /// Entries parsed from it ((prefix, tag) pairs).
    pub prefixes: usize,
    /// Its length in bytes.
    pub bytes: usize,
    /// FNV-1a 64 of its bytes, 16 hex digits (not cryptographic).
    /// SHA-256 of the stored feed, hex.
    pub sha256: String,
}

/// One stored feed, as `status` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedStatus {
    pub provider: Provider,
    /// Time since it was stored (zero if the clock went backwards).
    pub age: Duration,
    pub prefixes: usize,
    pub bytes: usize,
    pub source: String,
    pub fetched_at: u64,
}

/// A stored feed that could not be loaded.
#[derive(Debug)]
pub struct LoadWarning {
    pub provider: Provider,
    pub error: CloudError,
}

impl fmt::Display for LoadWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} feed not loaded: {}", self.provider, self.error)
    }
}

/// The feeds stored under a state directory.
#[derive(Clone, Debug)]
pub struct FeedStore {
    dir: PathBuf,
}

impl FeedStore {
    /// The store in `<state_dir>/ranges` (created on the first update).
    pub fn new(state_dir: &Path) -> FeedStore {
        FeedStore {
            dir: state_dir.join("ranges"),
        }
    }

    /// The directory holding the feeds.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path of `provider`'s stored feed.
    pub fn feed_path(&self, provider: Provider) -> PathBuf {
        self.dir.join(format!(
            "{}.{}",
            provider.name(),
            provider.format().extension()
        ))
    }

    /// The path of `provider`'s metadata.
    pub fn meta_path(&self, provider: Provider) -> PathBuf {
        self.dir.join(format!("{}.meta.json", provider.name()))
    }

    /// Parses `bytes` as `provider`'s feed and, if it parses, stores it (and its metadata)
    /// in place of the previous one. A feed that does not parse changes nothing and is
    /// [`CloudError::Rejected`].
    pub fn update(
        &self,
        provider: Provider,
        bytes: &[u8],
        source: &str,
    ) -> Result<FeedMeta, CloudError> {
        let entries = provider.parse(bytes).map_err(|e| CloudError::Rejected {
            provider,
            kept: if self.feed_path(provider).exists() {
                "the previous feed is kept"
            } else {
                "no feed was stored before"
            },
            source: Box::new(e),
        })?;
        let meta = FeedMeta {
            provider: provider.name().to_owned(),
            source: source.to_owned(),
            fetched_at: unix_now(),
            prefixes: entries.len(),
            bytes: bytes.len(),
            sha256: sha256_hex(bytes),
        };
        fs::create_dir_all(&self.dir).map_err(|e| io_error(&self.dir, e))?;
        let meta_json = serde_json::to_vec_pretty(&meta).map_err(|e| CloudError::Meta {
            path: self.meta_path(provider),
            reason: e.to_string(),
        })?;
        write_atomic(&self.feed_path(provider), bytes)?;
        write_atomic(&self.meta_path(provider), &meta_json)?;
        Ok(meta)
    }

    /// The stored metadata of `provider`, if a feed is stored.
    pub fn meta(&self, provider: Provider) -> Result<Option<FeedMeta>, CloudError> {
        let path = self.meta_path(provider);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error(&path, e)),
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| CloudError::Meta {
                path,
                reason: e.to_string(),
            })
    }

    /// Every stored feed parsed into one [`CloudRanges`]; a feed that cannot be read or
    /// parsed is left out with a warning. A missing directory is no feeds, no warnings.
    pub fn load_all(&self) -> (CloudRanges, Vec<LoadWarning>) {
        let mut ranges = CloudRanges::new();
        let mut warnings = Vec::new();
        for provider in Provider::ALL {
            let path = self.feed_path(provider);
            let bytes = match fs::read(&path) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    warnings.push(LoadWarning {
                        provider,
                        error: io_error(&path, e),
                    });
                    continue;
                }
            };
            match provider.parse(&bytes) {
                Ok(entries) => ranges.extend(entries),
                Err(error) => warnings.push(LoadWarning { provider, error }),
            }
        }
        (ranges, warnings)
    }

    /// The stored feeds with readable metadata, in [`Provider::ALL`] order.
    pub fn status(&self) -> Vec<FeedStatus> {
        let now = unix_now();
        Provider::ALL
            .into_iter()
            .filter_map(|provider| {
                let meta = self.meta(provider).ok().flatten()?;
                Some(FeedStatus {
                    provider,
                    age: Duration::from_secs(now.saturating_sub(meta.fetched_at)),
                    prefixes: meta.prefixes,
                    bytes: meta.bytes,
                    source: meta.source,
                    fetched_at: meta.fetched_at,
                })
            })
            .collect()
    }
}

/// FNV-1a, 64 bits.
/// The SHA-256 of `bytes`, in lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes
        .iter()
        .fold(OFFSET, |h, &b| (h ^ u64::from(b)).wrapping_mul(PRIME))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn io_error(path: &Path, source: std::io::Error) -> CloudError {
    CloudError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes `bytes` to a temp file beside `path`, syncs it, and renames it over `path`.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CloudError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp.{}", std::process::id()));
    let written = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(io_error(&tmp, e));
    }
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        io_error(path, e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_known_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn fnv1a64_known_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
