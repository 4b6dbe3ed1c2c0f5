//! [`Lookup::facts`]: every source of one address at once under one deadline — PTR, the
//! origin and then its AS name (or the offline ASN table for both, or for the name only), RDAP, the DNS blocklists —
//! then the local sources; the answers folded into [`Facts`] and each source's
//! [`SourceReport`]. A reserved address gets synthesised facts and its PTR only.

use std::net::IpAddr;
use std::time::Instant;

use super::as_name::AsNameQuery;
use super::cached::read;
use super::dnsbl_query::ask_zones;
use super::local::from_asn_table;
use super::origin::OriginQuery;
use super::ptr::PtrQuery;
use super::rdap::RdapQuery;
use super::report::{record_error, LookupReport, Outcome, Source};
use super::Lookup;
use crate::facts::{ClientIp, Facts};
use crate::reserved::reserved_facts;

impl Lookup {
    /// Everything known about `ip`, within the deadline.
    pub async fn facts(&self, ip: IpAddr) -> LookupReport {
        let inner = &self.inner;
        let started = Instant::now();
        let deadline = tokio::time::Instant::from_std(started + inner.settings.deadline);
        // The address is judged once here; the decision reads the result from the facts.
        let client = ClientIp::new(ip);
        if let Some(range) = client.reserved() {
            // Reserved addresses are never looked up upstream, but their local PTR is.
            let ptr = read(inner, PtrQuery { ip }, deadline).await;
            let mut facts = reserved_facts(client, range, ptr.get().cloned());
            let sources = vec![ptr.report(Source::Ptr, started)];
            record_error(&mut facts, &sources[0]);
            return LookupReport { facts, sources };
        }
        let ptr = async {
            let o = read(inner, PtrQuery { ip }, deadline).await;
            (o.report(Source::Ptr, started), o)
        };
        let asn_table = inner.local.load().asn_table.clone();
        let origin_chain = async {
            let names = match asn_table {
                Some(table) if inner.settings.asn_table_names_only => Some(table),
                Some(table) => return from_asn_table(&table, ip, started),
                None => None,
            };
            let origin = read(inner, OriginQuery { ip }, deadline).await;
            let origin_report = origin.report(Source::Origin, started);
            let asn = origin.get().and_then(|o| o.asns.first().copied());
            // With the table naming ASes, a named AS needs no second round trip.
            let named = asn.and_then(|asn| Some(names.as_ref()?.name_of(asn.0)?.to_string()));
            let as_name = match (asn, named) {
                (Some(_), Some(name)) => Outcome::from_table(Some(name)),
                (Some(asn), None) => read(inner, AsNameQuery { asn }, deadline).await,
                (None, _) => Outcome::skipped(),
            };
            let as_report = as_name.report(Source::AsName, started);
            (origin_report, origin, as_report, as_name)
        };
        let rdap = async {
            let o = read(inner, RdapQuery::new(inner, ip), deadline).await;
            (o.report(Source::Rdap, started), o)
        };
        let ((ptr_r, ptr), (origin_r, origin, as_r, as_name), (rdap_r, rdap), dnsbl) = tokio::join!(
            ptr,
            origin_chain,
            rdap,
            ask_zones(inner, ip, deadline, started)
        );

        let mut facts = Facts::unknown_at(client);
        facts.host = ptr.get().cloned();
        if let Some(o) = origin.get() {
            facts.asn = o.asns.first().copied();
            facts.asns = o.asns.clone();
            facts.as_cc = o.cc.clone();
            facts.as_prefix = o.prefix;
        }
        facts.as_desc = as_name.get().cloned();
        if let Some(n) = rdap.get() {
            facts.net_name = n.name.clone();
            facts.net_cc = n.country.clone();
            facts.net_handle = Some(n.handle.clone());
            facts.net_cidrs = n.cidrs.clone();
            facts.entities = n.entities.clone();
        }
        let mut sources = vec![ptr_r, origin_r, as_r, rdap_r];
        for s in &sources {
            record_error(&mut facts, s);
        }
        inner.local.load().add_facts(ip, &mut facts);
        if let Some(dnsbl) = dnsbl {
            facts.dnsbl = dnsbl.listed;
            facts.lookup_errors.extend(dnsbl.errors);
            sources.push(dnsbl.report);
        }
        LookupReport { facts, sources }
    }
}
