//! Writes a cache file holding N networks (origin, RDAP and AS-name entries, and a PTR per
//! network), for measuring the daemon's memory with a large cache.
//!
//! Run: `cargo run --release --example fill_cache -- PATH [N]` (N defaults to 100,000).

use std::net::Ipv4Addr;
use std::time::Duration;

use badclients::cache::store::CacheStore;
use badclients::cache::{Stored, Table};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: fill_cache PATH [N]");
        std::process::exit(2);
    };
    let n: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let (store, _) = CacheStore::open(std::path::Path::new(&path)).expect("open the cache file");
    let ttl = Duration::from_secs(24 * 3600);
    let mut batch = Vec::with_capacity(4096);
    for i in 0..n {
        // One /24 per network, from 11.0.0.0 upwards (public space, distinct networks).
        let base = Ipv4Addr::from(0x0b00_0000u32 + (i << 8));
        let net = format!("{base}/24");
        let asn = 64_512 + (i % 1000);
        let origin = serde_json::json!({
            "asns": [asn], "prefix": net, "cc": "NL", "registry": "ripencc", "allocated": "2014-12-29"
        });
        let end = Ipv4Addr::from(u32::from(base) + 255);
        let rdap = serde_json::json!({
            "handle": format!("NET-{i}"), "name": format!("EXAMPLE-NET-{i}"), "country": "NL",
            "start": base.to_string(), "end": end.to_string(), "cidrs": [net],
            "entities": [format!("ORG-EX{i}-RIPE"), "RIPE-NCC-END-MNT", format!("AB{i}-RIPE")]
        });
        let host = format!("host-{i}.example.net");
        let name = format!("EXAMPLE-AS-{asn}, NL");
        batch.push((
            Table::Origin,
            net.clone(),
            Stored::new(origin.to_string(), ttl),
        ));
        batch.push((Table::Rdap, net.clone(), Stored::new(rdap.to_string(), ttl)));
        batch.push((
            Table::Ptr,
            base.to_string(),
            Stored::new(serde_json::to_string(&host).expect("json"), ttl),
        ));
        if i < 1000 {
            batch.push((
                Table::AsName,
                format!("AS{asn}"),
                Stored::new(serde_json::to_string(&name).expect("json"), ttl),
            ));
        }
        if batch.len() >= 4096 {
            store.put_many(&batch).expect("write");
            batch.clear();
        }
    }
    store.put_many(&batch).expect("write");
    println!("{n} networks written to {path}");
}
