//! Fakes of the internet for badclients' tests, speaking the real wire protocols on 127.0.0.1.
//!
//! This crate owns every upstream the daemon talks to, faked: [`FakeDns`] (DNS over UDP and TCP,
//! answering Team Cymru TXT, PTR, A and AAAA questions from a [`Zone`], with injectable
//! [`Fault`]s), [`FakeRdap`] (RDAP over HTTP/1.1, answering from [`Routes`], with injectable
//! [`RdapFault`]s), the recorded RDAP answers in [`fixtures`], and the contract's five logins as a
//! ready world ([`contract_world`]). Production code is meant to reach these fakes through its
//! real resolver and its real HTTP client; nothing here contacts a non-loopback address.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use std::net::{IpAddr, Ipv4Addr};
//! use testworld::{FakeDns, FakeRdap, Reply, RrType, Zone};
//!
//! let ip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
//! let mut zone = Zone::new();
//! zone.cymru_origin(ip, "64500 | 192.0.2.0/24 | ZZ | test | 2020-01-01");
//! let dns = FakeDns::start(zone).await?;
//! let rdap = FakeRdap::start().await?;
//! rdap.route("/ripe/ip/192.0.2.1", Reply::json(r#"{"name":"TEST-NET"}"#));
//! // ... point the code under test at dns.addr() and rdap.base_url() + "ripe/" ...
//! assert_eq!(dns.queries_for("1.2.0.192.origin.asn.cymru.com.", RrType::Txt), 0);
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]

pub mod contract;
pub mod dns;
mod error;
pub mod fixtures;
pub mod rdap;
pub mod world;
pub mod zone;

pub use contract::{
    contract_rdap_body, contract_world, ContractLogin, CONTRACT_AUDIT_LINES, CONTRACT_LOGINS,
};
pub use dns::{DnsCounters, FakeDns, QueryRecord, Transport};
pub use error::Error;
pub use rdap::{
    FakeRdap, RdapCounters, RdapFault, Reply, RequestRecord, Route, Routes, RDAP_CONTENT_TYPE,
};
pub use world::{RunningWorld, World};
pub use zone::{
    cymru_asn_name, cymru_origin_name, normalize_name, reverse_name, Fault, NetZone, RecordData,
    RecordSet, Resolution, RrType, Zone,
};
