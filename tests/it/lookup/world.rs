//! The contract world of testworld and badclients configurations pointing every upstream at
//! a running world: shared by the lookup tests of `tests/it` and those of `tests/redis` (which
//! includes this file with `#[path]`).

use badclients::config::Config;
use testkit::ListDir;
use testworld::{contract_world, RdapFault, Reply, RunningWorld};

/// A configuration pointing every upstream at `world`.
pub(super) fn config_for(world: &RunningWorld, deadline_ms: u64) -> Config {
    let mut c = Config::default();
    c.lookup.dns_servers = vec![world.dns.addr()];
    c.lookup.deadline_ms = deadline_ms;
    let base = world.rdap.base_url();
    for (registry, path) in [
        ("arin", "arin"),
        ("ripencc", "ripe"),
        ("apnic", "apnic"),
        ("lacnic", "lacnic"),
        ("afrinic", "afrinic"),
    ] {
        c.rdap
            .base_urls
            .insert(registry.into(), format!("{base}{path}/"));
    }
    c.cache.memory_only = true;
    c
}

/// The same configuration as a TOML file, for the binary.
pub(super) fn config_file(world: &RunningWorld, dir: &ListDir, extra: &str) -> std::path::PathBuf {
    let base = world.rdap.base_url();
    let text = format!(
        "list_path = \"lists\"\n{extra}\n[lookup]\ndns_servers = [\"{}\"]\ndeadline_ms = 1000\n\
         [cache]\npath = \"cache.redb\"\n\
         [rdap.base_urls]\narin = \"{base}arin/\"\nripencc = \"{base}ripe/\"\napnic = \"{base}apnic/\"\n\
         lacnic = \"{base}lacnic/\"\nafrinic = \"{base}afrinic/\"\n",
        world.dns.addr()
    );
    let path = dir.path().join("badclients.toml");
    std::fs::write(&path, text).unwrap();
    std::fs::create_dir_all(dir.path().join("lists")).unwrap();
    path
}

/// The contract world, plus the redirect ARIN answers for Linode's RIPE-registered
/// 139.162.0.0/16 (IANA's bootstrap names ARIN for 139/8).
pub(super) async fn contract() -> RunningWorld {
    let world = contract_world().start().await.unwrap();
    world.rdap.route(
        "/arin/ip/139.162.133.252",
        Reply::fault(RdapFault::Redirect {
            to: "/ripe/ip/139.162.133.252".into(),
            status: 301,
        }),
    );
    world
}
