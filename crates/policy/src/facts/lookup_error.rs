//! The lookup-error fact: a source that failed for one lookup, as `source:kind`
//! (`rdap:timeout`, `dnsbl.zen.example.org:servfail`, `geoip:failed`).

use std::fmt;
use std::str::FromStr;

/// One source that failed for this lookup and how.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LookupError {
    /// The source: `ptr`, `origin`, `as_name`, `rdap`, `geoip`, `dnsbl.<zone>`.
    pub source: String,
    /// How it failed: `timeout`, `servfail`, `failed`, …
    pub kind: String,
}

impl LookupError {
    /// `source` failed with `kind`.
    pub fn new(source: impl Into<String>, kind: impl Into<String>) -> LookupError {
        LookupError {
            source: source.into(),
            kind: kind.into(),
        }
    }
}

impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.source, self.kind)
    }
}

impl PartialEq<str> for LookupError {
    fn eq(&self, other: &str) -> bool {
        other.split_once(':') == Some((self.source.as_str(), self.kind.as_str()))
    }
}

impl PartialEq<&str> for LookupError {
    fn eq(&self, other: &&str) -> bool {
        *self == **other
    }
}

/// Text that is not `source:kind`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a lookup error (source:kind): {0:?}")]
pub struct BadLookupError(pub String);

impl FromStr for LookupError {
    type Err = BadLookupError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (source, kind) = s
            .split_once(':')
            .ok_or_else(|| BadLookupError(s.to_owned()))?;
        Ok(LookupError::new(source, kind))
    }
}

serde_as_text!(LookupError);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_parses_and_compares_as_source_colon_kind() {
        let e = LookupError::new("dnsbl.zen.example.org", "servfail");
        assert_eq!(e.to_string(), "dnsbl.zen.example.org:servfail");
        assert_eq!(e, "dnsbl.zen.example.org:servfail");
        assert_ne!(e, "dnsbl.zen.example.org:timeout");
        assert_eq!(
            "rdap:timeout".parse::<LookupError>().unwrap(),
            LookupError::new("rdap", "timeout")
        );
        assert!("timeout".parse::<LookupError>().is_err());
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(json, "\"dnsbl.zen.example.org:servfail\"");
        assert_eq!(serde_json::from_str::<LookupError>(&json).unwrap(), e);
    }
}
