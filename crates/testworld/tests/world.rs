//! The contract world through real clients, and the `testworld serve` binary.

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::{Resolver, TokioResolver};
use serde_json::Value;
use testworld::{contract_world, RrType, World, CONTRACT_LOGINS, RDAP_CONTENT_TYPE};

fn resolver(addr: SocketAddr) -> TokioResolver {
    let mut udp = ConnectionConfig::udp();
    udp.port = addr.port();
    let mut tcp = ConnectionConfig::tcp();
    tcp.port = addr.port();
    let config = ResolverConfig::from_name_servers(vec![NameServerConfig::new(
        addr.ip(),
        true,
        vec![udp, tcp],
    )]);
    let mut opts = ResolverOpts::default();
    opts.attempts = 0;
    opts.timeout = Duration::from_secs(2);
    // No cache: the server's counters see every lookup.
    opts.cache_size = 0;
    Resolver::builder_with_config(config, TokioRuntimeProvider::default())
        .with_options(opts)
        .build()
        .expect("resolver builds")
}

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client builds")
}

async fn ptr(r: &TokioResolver, ip: IpAddr) -> String {
    let lookup = r.reverse_lookup(ip).await.expect("PTR");
    match &lookup.answers()[0].data {
        RData::PTR(p) => p.0.to_ascii(),
        other => panic!("not a PTR: {other:?}"),
    }
}

async fn txt(r: &TokioResolver, name: &str) -> Vec<u8> {
    let lookup = r.txt_lookup(name).await.expect("TXT");
    assert_eq!(lookup.answers().len(), 1, "{name}");
    match &lookup.answers()[0].data {
        RData::TXT(t) => t.txt_data.concat(),
        other => panic!("not a TXT: {other:?}"),
    }
}

/// Checks every contract fact through the real clients against servers at `dns` and `rdap_base`.
async fn check_contract_facts(dns: SocketAddr, rdap_base: &str) {
    let r = resolver(dns);
    let c = http();
    for login in &CONTRACT_LOGINS {
        assert_eq!(ptr(&r, login.ip).await, format!("{}.", login.host));
        let Some(origin) = login.origin_txt else {
            assert!(r
                .txt_lookup(login.origin_name())
                .await
                .unwrap_err()
                .is_nx_domain());
            continue;
        };
        assert_eq!(txt(&r, &login.origin_name()).await, origin.as_bytes());
        let asn_name = login.asn_name().expect("public logins have an AS");
        assert_eq!(
            txt(&r, &asn_name).await,
            login.asn_txt.expect("AS text").as_bytes()
        );
        // Registry base URL + "ip/<address>".
        let path = login.rdap_path.expect("public logins have RDAP");
        let url = format!("{}{}", rdap_base.trim_end_matches('/'), path);
        let resp = c
            .get(&url)
            .header("accept", RDAP_CONTENT_TYPE)
            .send()
            .await
            .expect("RDAP answers");
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.expect("RDAP body is JSON");
        let line = login.audit_line;
        assert!(line.contains(&format!("net_name=<{}>", body["name"].as_str().unwrap())));
        match body.get("country").and_then(Value::as_str) {
            Some(cc) => assert!(line.contains(&format!("net_cc={cc},")), "{line}"),
            None => assert!(line.contains("net_cc=None"), "{line}"),
        }
        let entities: Vec<&str> = body["entities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["handle"].as_str().unwrap())
            .collect();
        let expected: Vec<&str> = line
            .split(", ")
            .filter_map(|f| f.strip_prefix("entity="))
            .collect();
        assert_eq!(entities, expected);
    }
}

#[tokio::test]
async fn contract_world_resolves_through_real_clients() {
    let world = contract_world().start().await.unwrap();
    check_contract_facts(world.dns.addr(), &world.rdap.base_url()).await;

    let dns = world.dns.counters();
    // 5 PTR, 4 origin TXT + 4 AS TXT (AS15169 twice), 1 origin TXT for the reserved address.
    assert_eq!(dns.total, 14);
    let reserved = &CONTRACT_LOGINS[1];
    assert_eq!(dns.queries_for(&reserved.ptr_name(), RrType::Ptr), 1);
    assert_eq!(dns.queries_for("AS15169.asn.cymru.com.", RrType::Txt), 2);

    let rdap = world.rdap.counters();
    assert_eq!(rdap.total, 4);
    assert!(rdap.log.iter().all(|r| !r.path.contains("172.17.1.204")));

    // Specific facts of the contract, spelled out.
    let vk = testworld::contract_rdap_body(CONTRACT_LOGINS[0].ip).unwrap();
    assert_eq!(vk["name"], "VK-FRONT");
    assert_eq!(vk["country"], "RU");
    assert_eq!(vk["startAddress"], "176.112.168.0");
    assert_eq!(vk["endAddress"], "176.112.175.255");
    let google = testworld::contract_rdap_body(CONTRACT_LOGINS[3].ip).unwrap();
    assert_eq!(google["name"], "GOOGLE");
    assert!(google.get("country").is_none());
    assert_eq!(google["startAddress"], "209.85.128.0");
    assert_eq!(google["endAddress"], "209.85.255.255");
    // Same network for the second Gmail address; only the links name the queried address.
    let google53 = testworld::contract_rdap_body(CONTRACT_LOGINS[4].ip).unwrap();
    assert_eq!(google53["handle"], google["handle"]);
    assert_eq!(google53["entities"][0]["handle"], "GOGL");
    assert_eq!(
        google53["links"][0]["value"],
        "https://rdap.arin.net/registry/ip/209.85.218.53"
    );
}

#[test]
fn contract_world_spec_round_trips() {
    let world = contract_world();
    let json = world.to_json().unwrap();
    let back = World::from_json(json.as_bytes()).unwrap();
    assert_eq!(back, world);
}

/// A `testworld serve` child process; killed if still running when dropped.
struct Served {
    child: Child,
    dns: SocketAddr,
    rdap: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(args: &[&str]) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_testworld"))
        .arg("serve")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("testworld starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("ready line");
    let ready: Value = serde_json::from_str(&line).expect("ready line is JSON");
    let dns: SocketAddr = ready["dns"].as_str().unwrap().parse().unwrap();
    let rdap = ready["rdap"].as_str().unwrap().to_owned();
    assert!(dns.ip().is_loopback());
    assert!(rdap.starts_with("http://127.0.0.1:") && rdap.ends_with('/'));
    Served { child, dns, rdap }
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "testworld did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn binary_serves_the_contract_until_stdin_closes() {
    let mut served = serve(&["--contract"]);
    check_contract_facts(served.dns, &served.rdap).await;
    drop(served.child.stdin.take());
    assert!(wait_exit(&mut served.child).success());
}

#[tokio::test]
async fn binary_serves_a_spec_file_until_sigterm() {
    let dump = Command::new(env!("CARGO_BIN_EXE_testworld"))
        .arg("dump-contract")
        .output()
        .unwrap();
    assert!(dump.status.success());
    let spec = std::env::temp_dir().join(format!("testworld-spec-{}.json", std::process::id()));
    std::fs::File::create(&spec)
        .and_then(|mut f| f.write_all(&dump.stdout))
        .unwrap();

    let mut served = serve(&["--spec", spec.to_str().unwrap(), "--ignore-stdin"]);
    check_contract_facts(served.dns, &served.rdap).await;
    drop(served.child.stdin.take());
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        served.child.try_wait().unwrap().is_none(),
        "--ignore-stdin keeps it running"
    );
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(served.child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    assert!(wait_exit(&mut served.child).success());
    let _ = std::fs::remove_file(spec);
}

#[test]
fn binary_rejects_bad_arguments() {
    let out = Command::new(env!("CARGO_BIN_EXE_testworld"))
        .args(["serve"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--spec"));

    let missing = Command::new(env!("CARGO_BIN_EXE_testworld"))
        .args(["serve", "--spec", "/nonexistent/world.json"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read spec"));
}
