//! A [`World`]: a zone and RDAP routes together, its JSON spec form, and starting both fakes.
//!
//! This module owns the spec file format read by `testworld serve --spec` (`{"zone": <Zone>,
//! "rdap": <Routes>}`, see [`crate::zone`] and [`crate::rdap`] for each half) and
//! [`RunningWorld`], the pair of started servers.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::dns::FakeDns;
use crate::rdap::{FakeRdap, Routes};
use crate::zone::Zone;
use crate::Error;

/// The DNS zone and RDAP routes of a test's internet.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct World {
    /// What the fake DNS server answers.
    pub zone: Zone,
    /// What the fake RDAP server answers.
    pub rdap: Routes,
}

impl World {
    /// An empty world: every DNS name NXDOMAIN, every RDAP path 404.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads a spec file (JSON).
    pub fn from_file(path: &Path) -> Result<World, Error> {
        let text = std::fs::read(path).map_err(|source| Error::ReadSpec {
            path: path.to_owned(),
            source,
        })?;
        Self::from_json(&text)
    }

    /// Parses a spec (JSON).
    pub fn from_json(json: &[u8]) -> Result<World, Error> {
        Ok(serde_json::from_slice(json)?)
    }

    /// The spec form of this world (JSON).
    pub fn to_json(&self) -> Result<String, Error> {
        Ok(serde_json::to_string_pretty(self)?)
    }

    /// Starts a [`FakeDns`] serving the zone and a [`FakeRdap`] serving the routes.
    pub async fn start(self) -> std::io::Result<RunningWorld> {
        let dns = FakeDns::start(self.zone).await?;
        let rdap = FakeRdap::start_with(self.rdap).await?;
        Ok(RunningWorld { dns, rdap })
    }
}

/// Both fakes, running. Dropping it stops them.
#[derive(Debug)]
pub struct RunningWorld {
    /// The DNS server.
    pub dns: FakeDns,
    /// The RDAP server.
    pub rdap: FakeRdap,
}

impl RunningWorld {
    /// The line `testworld serve` prints when ready:
    /// `{"dns": "127.0.0.1:PORT", "rdap": "http://127.0.0.1:PORT/"}`.
    pub fn ready_line(&self) -> String {
        serde_json::json!({
            "dns": self.dns.addr().to_string(),
            "rdap": self.rdap.base_url(),
        })
        .to_string()
    }
}
