//! Writes a decision history of N decisions spread over the last D days, shaped like a
//! mail server's: 5,000 users, each with one mail client polling from a home address that
//! changes daily, 15 % of logins from a cloud client (EC2-style host names, cloud tags,
//! one address per day); one provider blocked, one would-block in audit mode. With
//! `--distinct` every decision differs (a new address and host each time): the worst case
//! for the report's grouping of identical decisions.
//!
//! Run: `cargo run --release --example history_fill -- PATH [N] [DAYS] [--distinct]`
//! (N defaults to 10,000,000, DAYS to 30). Prints the time taken and the file size.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use badclients::history::store::HistoryStore;
use badclients::history::{now_us, Outcome, Record};

/// A small deterministic generator (xorshift), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn record(rng: &mut Rng, time_us: u64, distinct: bool) -> Record {
    let user = rng.below(5_000);
    // Each user has a home network and sometimes a cloud client.
    let cloud = rng.below(100) < 15;
    let asn;
    let host;
    let cloud_tags;
    let as_desc;
    let ip;
    if cloud {
        let provider = user % 4;
        // A user's cloud client logs in from one of the provider's addresses per day.
        let day = time_us / 86_400_000_000;
        let slot = if distinct {
            rng.below(2_500)
        } else {
            (user * 13 + day * 5) % 2_500
        };
        let a = (slot / 50) as u8;
        let b = (slot % 50) as u8;
        ip = IpAddr::V4(Ipv4Addr::new(3 + provider as u8, 80, a, b));
        asn = [14618, 16509, 396982, 63949][provider as usize];
        as_desc = [
            "AMAZON-AES, US",
            "AMAZON-02, US",
            "GOOGLE-CLOUD-PLATFORM, US",
            "AKAMAI-LINODE-AP Akamai Connected Cloud, SG",
        ][provider as usize];
        host = Some(format!(
            "ec2-{}-80-{a}-{b}.compute-1.amazonaws.com",
            3 + provider
        ));
        cloud_tags = vec![[
            "aws:EC2:us-east-1",
            "aws:EC2:eu-west-1",
            "gcp:Google Cloud:us-central1",
            "linode:eu-central",
        ][provider as usize]
            .to_string()];
    } else {
        // The home address changes once a day.
        let isp = user % 2_000;
        let day = time_us / 86_400_000_000;
        let line = if distinct {
            rng.below(4096)
        } else {
            (user * 31 + day * 7) % 4096
        };
        let v4 = 0x5000_0000u32 + ((isp as u32) << 12) + line as u32;
        ip = IpAddr::V4(Ipv4Addr::from(v4));
        asn = 60_000 + isp as u32;
        as_desc = "EXAMPLE-BROADBAND, DE";
        host = Some(format!("p{v4:08x}.dip0.example-isp{isp}.de"));
        cloud_tags = Vec::new();
    }
    // The verdict follows the network, as it does in the daemon: one provider is on
    // asn.deny.lst, another matches rev_host.deny.lst in audit mode.
    let (outcome, matched) = match (cloud, user % 4) {
        (true, 0) => (Outcome::Blocked, Some("asn".to_string())),
        (true, 3) => (Outcome::WouldBlock, Some("rev_host".to_string())),
        _ => (Outcome::Allowed, None),
    };
    Record {
        time_us: Some(time_us),
        user: format!("user{user}@example.org"),
        // Each user's client uses one protocol.
        service: ["imap", "pop3", "smtp"][(user % 3) as usize].to_string(),
        ip,
        host,
        asn: Some(asn),
        as_cc: Some(if cloud { "US" } else { "DE" }.to_string()),
        as_desc: Some(as_desc.to_string()),
        net_name: Some(format!("NET-{asn}")),
        net_cc: Some("DE".to_string()),
        entities: vec![format!("ORG-{asn}-RIPE"), "RIPE-NCC-END-MNT".to_string()],
        cloud: cloud_tags,
        geo_cc: None,
        outcome,
        matched_entry: matched.as_ref().map(|m| format!("{m}.deny.lst:1: x")),
        matched,
        lookup_errors: Vec::new(),
    }
}

fn main() {
    let distinct = std::env::args().any(|a| a == "--distinct");
    let mut args = std::env::args().skip(1).filter(|a| a != "--distinct");
    let Some(path) = args.next() else {
        eprintln!("usage: history_fill PATH [N] [DAYS]");
        std::process::exit(2);
    };
    let n: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000_000);
    let days: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(30);
    let (store, _) = HistoryStore::open(std::path::Path::new(&path)).expect("open the history");
    let mut strings = store.strings().expect("strings");
    let span = days * 86_400 * 1_000_000;
    let start = now_us() - span;
    let step = span / n.max(1);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let t0 = Instant::now();
    let batch = 10_000;
    let mut i = 0;
    while i < n {
        let records: Vec<Record> = (i..(i + batch).min(n))
            .map(|k| record(&mut rng, start + k * step, distinct))
            .collect();
        store.append(&records, &mut strings, None).expect("append");
        i += batch;
    }
    let elapsed = t0.elapsed();
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!(
        "wrote {n} decisions over {days} days in {:.1} s ({:.0}/s in batches of {batch}); {} MiB ({:.1} bytes per decision), {} strings",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64(),
        size / (1 << 20),
        size as f64 / n as f64,
        strings.len()
    );
}
