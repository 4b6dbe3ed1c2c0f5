//! The pure policy core of badclients: what is known about one client IP ([`facts`]), the
//! special-purpose address tables ([`reserved`]), the list directory ([`lists`]), the
//! decision ([`decision`]), DNS blocklist zones and hits ([`dnsbl`]) and the audit lines
//! ([`audit`]), written and read back.
//!
//! Nothing here does I/O beyond reading a list directory: no async runtime, no sockets, no
//! databases. The daemon, the lookups and the history live in the `badclients` crate, which
//! depends on this one and never the other way round.

#![deny(missing_docs)]

/// Serialises a typed fact as its text (`Display`) and reads it back with `FromStr`, so
/// the JSON form stays the string the fact replaced.
macro_rules! serde_as_text {
    ($t:ty) => {
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

pub mod audit;
pub mod countries;
pub mod decision;
pub mod dnsbl;
pub mod facts;
pub mod lists;
pub mod reserved;
