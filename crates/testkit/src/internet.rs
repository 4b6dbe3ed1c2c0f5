//! The fake internet the daemon's lookups go to: testworld's contract world (fake DNS + fake
//! RDAP on 127.0.0.1) on a tokio runtime of its own, so synchronous tests can use it.

use std::net::IpAddr;

use testworld::{
    contract_world, cymru_origin_name, reverse_name, Fault, RdapFault, Reply, RrType, RunningWorld,
};

/// testworld's contract world on its own runtime, plus the redirect ARIN gives for Linode's
/// RIPE-registered 139.162.0.0/16.
pub struct FakeInternet {
    // Dropped before the runtime.
    pub world: RunningWorld,
    rt: tokio::runtime::Runtime,
}

impl FakeInternet {
    pub fn start() -> FakeInternet {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("tokio runtime for the fakes");
        let world = rt
            .block_on(contract_world().start())
            .expect("start the fake DNS and RDAP servers");
        world.rdap.route(
            "/arin/ip/139.162.133.252",
            Reply::fault(RdapFault::Redirect {
                to: "/ripe/ip/139.162.133.252".into(),
                status: 301,
            }),
        );
        FakeInternet { world, rt }
    }

    /// Team Cymru origin queries the fake DNS has answered for `ip`.
    pub fn origin_queries(&self, ip: &str) -> u64 {
        let ip: IpAddr = ip.parse().expect("an IP address");
        self.world
            .dns
            .queries_for(&cymru_origin_name(ip), RrType::Txt)
    }

    /// Makes every DNS lookup about `ip` (origin and PTR) fail with SERVFAIL.
    pub fn fail_dns_for(&self, ip: &str) {
        let ip: IpAddr = ip.parse().expect("an IP address");
        self.world
            .dns
            .set_fault(&cymru_origin_name(ip), Fault::ServFail);
        self.world.dns.set_fault(&reverse_name(ip), Fault::ServFail);
    }

    /// Gives `ip` the PTR record `host` instead of the one it has (the fake DNS answers with
    /// it from now on, also while a daemon runs; what a daemon cached stays until it expires).
    pub fn set_ptr(&self, ip: &str, host: &str) {
        let ip: IpAddr = ip.parse().expect("an IP address");
        self.world.dns.update(|zone| {
            zone.ptr(ip, host);
        });
    }

    /// The `[lookup]`, `[rdap.base_urls]` and `[cache]` sections pointing at the fakes
    /// (`@LOOKUP@` marks where more `[lookup]` keys go).
    pub fn config_sections(&self) -> String {
        let base = self.world.rdap.base_url();
        format!(
            "[lookup]\ndns_servers = [\"{dns}\"]\ndeadline_ms = 1000\n@LOOKUP@\n\
             [rdap.base_urls]\narin = \"{base}arin/\"\nripencc = \"{base}ripe/\"\n\
             apnic = \"{base}apnic/\"\nlacnic = \"{base}lacnic/\"\nafrinic = \"{base}afrinic/\"\n\n\
             [cache]\nmemory_only = true\n",
            dns = self.world.dns.addr()
        )
    }

    /// Keeps the runtime referenced (it runs the fakes' tasks).
    pub fn runtime(&self) -> &tokio::runtime::Runtime {
        &self.rt
    }
}
