//! FakeDns answered to a real hickory-resolver 0.26 client over UDP and TCP.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::{Resolver, TokioResolver};
use testworld::{
    cymru_asn_name, cymru_origin_name, reverse_name, FakeDns, Fault, RrType, Transport, Zone,
};

const TIMEOUT: Duration = Duration::from_millis(700);

fn resolver_with(addr: SocketAddr, edns0: bool) -> TokioResolver {
    resolver_full(addr, edns0, 1)
}

fn resolver_full(addr: SocketAddr, edns0: bool, attempts: usize) -> TokioResolver {
    resolver_opts(addr, edns0, attempts, false)
}

fn resolver_opts(
    addr: SocketAddr,
    edns0: bool,
    attempts: usize,
    case_randomization: bool,
) -> TokioResolver {
    let mut udp = ConnectionConfig::udp();
    udp.port = addr.port();
    let mut tcp = ConnectionConfig::tcp();
    tcp.port = addr.port();
    let server = NameServerConfig::new(addr.ip(), true, vec![udp, tcp]);
    let config = ResolverConfig::from_name_servers(vec![server]);
    let mut opts = ResolverOpts::default();
    opts.attempts = attempts;
    opts.timeout = TIMEOUT;
    opts.cache_size = 0;
    opts.edns0 = edns0;
    opts.case_randomization = case_randomization;
    Resolver::builder_with_config(config, TokioRuntimeProvider::default())
        .with_options(opts)
        .build()
        .expect("resolver builds")
}

fn resolver(dns: &FakeDns) -> TokioResolver {
    resolver_with(dns.addr(), true)
}

/// Every TXT record of a lookup, each as its list of character-strings.
async fn txt(resolver: &TokioResolver, name: &str) -> Result<Vec<Vec<Vec<u8>>>, NetError> {
    let lookup = resolver.txt_lookup(name).await?;
    Ok(lookup
        .answers()
        .iter()
        .filter_map(|r| match &r.data {
            RData::TXT(t) => Some(t.txt_data.iter().map(|s| s.to_vec()).collect()),
            _ => None,
        })
        .collect())
}

fn response_code(err: &NetError) -> Option<ResponseCode> {
    match err {
        NetError::Dns(DnsError::ResponseCode(code)) => Some(*code),
        NetError::Dns(DnsError::NoRecordsFound(no)) => Some(no.response_code),
        _ => None,
    }
}

const VK_ORIGIN: &str = "47764 | 176.112.168.0/21 | RU | ripencc | 2010-10-13";
const VK_AS: &str = "47764 | RU | ripencc | 2010-10-13 | VK-AS, RU";

fn vk_ip() -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(176, 112, 169, 218))
}

#[tokio::test]
async fn cymru_txt_comes_back_byte_exact() {
    let mut zone = Zone::new();
    zone.cymru_origin(vk_ip(), VK_ORIGIN)
        .cymru_asn(47764, VK_AS);
    let dns = FakeDns::start(zone).await.unwrap();
    let r = resolver(&dns);

    let origin = txt(&r, "218.169.112.176.origin.asn.cymru.com.")
        .await
        .unwrap();
    assert_eq!(origin, vec![vec![VK_ORIGIN.as_bytes().to_vec()]]);
    let asn = txt(&r, "AS47764.asn.cymru.com.").await.unwrap();
    assert_eq!(asn, vec![vec![VK_AS.as_bytes().to_vec()]]);
    assert_eq!(dns.queries_for(&cymru_origin_name(vk_ip()), RrType::Txt), 1);
    assert_eq!(dns.queries_for(&cymru_asn_name(47764), RrType::Txt), 1);
}

#[tokio::test]
async fn txt_records_with_several_strings_and_arbitrary_bytes() {
    let mut zone = Zone::new();
    zone.txt_strings(
        "multi.example.",
        &[&[&b"first "[..], &b"second"[..]], &[&b"\x00\xff|bin\n"[..]]],
    )
    .txt("garbage.example.", &["garbage"]);
    let dns = FakeDns::start(zone).await.unwrap();
    let r = resolver(&dns);

    let mut records = txt(&r, "multi.example.").await.unwrap();
    records.sort();
    assert_eq!(
        records,
        vec![
            vec![b"\x00\xff|bin\n".to_vec()],
            vec![b"first ".to_vec(), b"second".to_vec()],
        ]
    );
    // Malformed Cymru content is just a TXT record.
    assert_eq!(
        txt(&r, "garbage.example.").await.unwrap(),
        vec![vec![b"garbage".to_vec()]]
    );
}

#[tokio::test]
async fn ptr_reverse_lookup_v4_and_v6_and_forward_lookups() {
    let v6: IpAddr = "2a00:1450:4001:82b::200e".parse().unwrap();
    let mut zone = Zone::new();
    zone.ptr(vk_ip(), "rimap26.i.mail.ru")
        .ptr(v6, "fra16s48-in-x0e.1e100.net.")
        .a("rimap26.i.mail.ru", Ipv4Addr::new(176, 112, 169, 218))
        .aaaa(
            "fra16s48-in-x0e.1e100.net",
            "2a00:1450:4001:82b::200e".parse::<Ipv6Addr>().unwrap(),
        );
    let dns = FakeDns::start(zone).await.unwrap();
    let r = resolver(&dns);

    let ptr = r.reverse_lookup(vk_ip()).await.unwrap();
    let hosts: Vec<String> = ptr
        .answers()
        .iter()
        .filter_map(|rec| match &rec.data {
            RData::PTR(p) => Some(p.0.to_ascii()),
            _ => None,
        })
        .collect();
    assert_eq!(hosts, vec!["rimap26.i.mail.ru.".to_owned()]);
    assert_eq!(ptr.answers()[0].ttl, testworld::zone::DEFAULT_TTL);

    let ptr6 = r.reverse_lookup(v6).await.unwrap();
    assert!(
        matches!(&ptr6.answers()[0].data, RData::PTR(p) if p.0.to_ascii() == "fra16s48-in-x0e.1e100.net.")
    );
    assert_eq!(dns.queries_for(&reverse_name(v6), RrType::Ptr), 1);

    let a = r.lookup("RIMAP26.i.mail.ru.", RecordType::A).await.unwrap();
    assert!(
        matches!(&a.answers()[0].data, RData::A(ip) if ip.0 == Ipv4Addr::new(176, 112, 169, 218))
    );
    let aaaa = r
        .lookup("fra16s48-in-x0e.1e100.net.", RecordType::AAAA)
        .await
        .unwrap();
    assert!(matches!(&aaaa.answers()[0].data, RData::AAAA(ip) if IpAddr::V6(ip.0) == v6));
    // Counted case-insensitively.
    assert_eq!(dns.queries_for("rimap26.i.mail.ru", RrType::A), 1);
}

#[tokio::test]
async fn unknown_name_is_nxdomain_known_name_other_type_is_nodata() {
    let mut zone = Zone::new();
    zone.txt("exists.example.", &["x"]);
    let dns = FakeDns::start(zone).await.unwrap();
    let r = resolver(&dns);

    let err = r.txt_lookup("missing.example.").await.unwrap_err();
    assert!(err.is_nx_domain(), "{err:?}");
    let err = r.reverse_lookup(vk_ip()).await.unwrap_err();
    assert!(err.is_nx_domain(), "{err:?}");

    let err = r
        .lookup("exists.example.", RecordType::A)
        .await
        .unwrap_err();
    assert!(err.is_no_records_found() && !err.is_nx_domain(), "{err:?}");
    assert_eq!(response_code(&err), Some(ResponseCode::NoError));
}

#[tokio::test]
async fn servfail_and_refused() {
    let mut zone = Zone::new();
    zone.txt("sf.example.", &["never seen"])
        .set_fault("sf.example.", Fault::ServFail)
        .set_fault("ref.example.", Fault::Refused);
    let dns = FakeDns::start(zone).await.unwrap();
    let r = resolver(&dns);

    let err = r.txt_lookup("sf.example.").await.unwrap_err();
    assert_eq!(response_code(&err), Some(ResponseCode::ServFail), "{err:?}");
    let err = r.txt_lookup("ref.example.").await.unwrap_err();
    assert_eq!(response_code(&err), Some(ResponseCode::Refused), "{err:?}");
    assert!(dns.queries_for("sf.example.", RrType::Txt) >= 1);
}

#[tokio::test]
async fn timeout_makes_the_resolver_give_up_within_its_timeout() {
    let mut zone = Zone::new();
    zone.txt("slow.example.", &["x"])
        .set_fault("slow.example.", Fault::Timeout);
    let dns = FakeDns::start(zone).await.unwrap();
    let r = resolver(&dns);

    let started = Instant::now();
    let err = r.txt_lookup("slow.example.").await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(
        elapsed >= TIMEOUT - Duration::from_millis(50),
        "{elapsed:?}"
    );
    assert!(elapsed < TIMEOUT * 3, "{elapsed:?}");
    assert!(
        matches!(err, NetError::Timeout) || err.to_string().contains("timed out"),
        "{err:?}"
    );
    assert!(dns.queries_for("slow.example.", RrType::Txt) >= 1);
}

#[tokio::test]
async fn truncated_udp_answer_makes_the_resolver_retry_over_tcp() {
    let mut zone = Zone::new();
    zone.cymru_origin(vk_ip(), VK_ORIGIN)
        .set_fault(&cymru_origin_name(vk_ip()), Fault::Truncated);
    let dns = FakeDns::start(zone).await.unwrap();
    let r = resolver(&dns);

    let origin = txt(&r, &cymru_origin_name(vk_ip())).await.unwrap();
    assert_eq!(origin, vec![vec![VK_ORIGIN.as_bytes().to_vec()]]);
    assert_eq!(dns.queries_by(Transport::Udp), 1);
    assert_eq!(dns.queries_by(Transport::Tcp), 1);
    let log = dns.counters().log;
    assert_eq!(
        log.iter().map(|q| q.transport).collect::<Vec<_>>(),
        vec![Transport::Udp, Transport::Tcp]
    );
}

#[tokio::test]
async fn answers_too_big_for_udp_are_truncated_on_their_own() {
    // 20 records of 100 bytes do not fit a classic 512-byte UDP answer.
    let texts: Vec<String> = (0..20)
        .map(|i| format!("{i:02}{}", "y".repeat(98)))
        .collect();
    let mut zone = Zone::new();
    zone.txt("big.example.", &texts);
    let dns = FakeDns::start(zone).await.unwrap();
    let r = resolver_with(dns.addr(), false);

    let records = txt(&r, "big.example.").await.unwrap();
    assert_eq!(records.len(), 20);
    assert_eq!(dns.queries_by(Transport::Udp), 1);
    assert_eq!(dns.queries_by(Transport::Tcp), 1);
}

#[tokio::test]
async fn garbage_is_an_error() {
    let mut zone = Zone::new();
    zone.txt("junk.example.", &["x"])
        .set_fault("junk.example.", Fault::Garbage);
    let dns = FakeDns::start(zone).await.unwrap();
    let r = resolver(&dns);

    let started = Instant::now();
    let result = r.txt_lookup("junk.example.").await;
    assert!(result.is_err(), "{result:?}");
    assert!(started.elapsed() < TIMEOUT * 4);
    assert!(dns.queries_for("junk.example.", RrType::Txt) >= 1);
}

#[tokio::test]
async fn delay_and_latency_are_measurable() {
    let mut zone = Zone::new();
    zone.txt("fast.example.", &["fast"])
        .txt("late.example.", &["late"])
        .set_fault("late.example.", Fault::Delay(Duration::from_millis(300)));
    let dns = FakeDns::start(zone).await.unwrap();
    let r = resolver(&dns);

    let started = Instant::now();
    txt(&r, "fast.example.").await.unwrap();
    let fast = started.elapsed();
    assert!(fast < Duration::from_millis(250), "{fast:?}");

    let started = Instant::now();
    let late = txt(&r, "late.example.").await.unwrap();
    let late_elapsed = started.elapsed();
    assert_eq!(late, vec![vec![b"late".to_vec()]]);
    assert!(
        late_elapsed >= Duration::from_millis(300),
        "{late_elapsed:?}"
    );
    assert!(late_elapsed < TIMEOUT, "{late_elapsed:?}");

    dns.set_latency(Duration::from_millis(200));
    let started = Instant::now();
    txt(&r, "fast.example.").await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(200));

    // Latency plus a delay longer than the resolver's timeout: the resolver gives up.
    dns.set_latency(Duration::from_millis(500));
    assert!(r.txt_lookup("late.example.").await.is_err());
}

#[tokio::test]
async fn default_fault_and_changes_while_running() {
    let dns = FakeDns::start(Zone::new()).await.unwrap();
    let r = resolver(&dns);

    assert!(r
        .txt_lookup("later.example.")
        .await
        .unwrap_err()
        .is_nx_domain());
    dns.update(|zone| {
        zone.txt("later.example.", &["added"]);
    });
    assert_eq!(
        txt(&r, "later.example.").await.unwrap(),
        vec![vec![b"added".to_vec()]]
    );

    dns.set_default_fault(Some(Fault::ServFail));
    let err = r.txt_lookup("later.example.").await.unwrap_err();
    assert_eq!(response_code(&err), Some(ResponseCode::ServFail));
    dns.set_default_fault(None);
    dns.set_fault("later.example.", Fault::Refused);
    let err = r.txt_lookup("later.example.").await.unwrap_err();
    assert_eq!(response_code(&err), Some(ResponseCode::Refused));
    dns.clear_fault("later.example.");
    assert!(txt(&r, "later.example.").await.is_ok());
}

#[tokio::test]
async fn counters_count_and_reset() {
    let mut zone = Zone::new();
    zone.txt("a.example.", &["a"])
        .ptr(vk_ip(), "rimap26.i.mail.ru");
    let dns = FakeDns::start(zone).await.unwrap();
    let r = resolver(&dns);

    for _ in 0..3 {
        txt(&r, "A.Example.").await.unwrap();
    }
    r.reverse_lookup(vk_ip()).await.unwrap();
    let _ = r.txt_lookup("nope.example.").await;

    let counters = dns.counters();
    assert_eq!(counters.total, 5);
    assert_eq!(counters.udp, 5);
    assert_eq!(counters.tcp, 0);
    assert_eq!(counters.queries_for("a.example", RrType::Txt), 3);
    assert_eq!(counters.queries_for(&reverse_name(vk_ip()), RrType::Ptr), 1);
    assert_eq!(counters.queries_for("nope.example.", RrType::Txt), 1);
    assert_eq!(counters.queries_for_name("a.example."), 3);
    assert_eq!(
        counters.names().into_iter().collect::<Vec<_>>(),
        vec![
            "218.169.112.176.in-addr.arpa.".to_owned(),
            "a.example.".to_owned(),
            "nope.example.".to_owned()
        ]
    );

    dns.reset_counters();
    assert_eq!(dns.total_queries(), 0);
    assert_eq!(dns.queries_for("a.example.", RrType::Txt), 0);
    txt(&r, "a.example.").await.unwrap();
    assert_eq!(dns.total_queries(), 1);
}

#[tokio::test]
async fn a_thousand_distinct_ips_under_one_prefix() {
    let mut zone = Zone::new();
    zone.cymru_origin_net(
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, 0)),
        8,
        "64500 | 10.0.0.0/8 | ZZ | test | 2020-01-01",
    )
    .ptr_under("in-addr.arpa.", "pool.example.")
    .cymru_asn(64500, "64500 | ZZ | test | 2020-01-01 | TEST-AS, ZZ");
    let dns = FakeDns::start(zone).await.unwrap();
    let r = resolver(&dns);

    let ips: Vec<IpAddr> = (0..1000u32)
        .map(|i| IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i * 257 + 1)))
        .collect();
    let mut set = tokio::task::JoinSet::new();
    for chunk in ips.chunks(50) {
        let chunk = chunk.to_vec();
        let r = r.clone();
        set.spawn(async move {
            let mut ok = 0;
            for ip in chunk {
                let origin = txt(&r, &cymru_origin_name(ip)).await.expect("origin");
                assert_eq!(origin[0][0], b"64500 | 10.0.0.0/8 | ZZ | test | 2020-01-01");
                let ptr = r.reverse_lookup(ip).await.expect("ptr");
                assert!(matches!(&ptr.answers()[0].data, RData::PTR(p) if p.0.to_ascii() == "pool.example."));
                ok += 1;
            }
            ok
        });
    }
    let mut answered = 0;
    while let Some(done) = set.join_next().await {
        answered += done.unwrap();
    }
    assert_eq!(answered, 1000);
    let counters = dns.counters();
    assert_eq!(counters.total, 2000);
    assert_eq!(counters.names().len(), 2000);

    // An address outside the prefix is NXDOMAIN.
    let err = r
        .txt_lookup(cymru_origin_name("11.0.0.1".parse().unwrap()))
        .await
        .unwrap_err();
    assert!(err.is_nx_domain());
}

#[tokio::test]
async fn tcp_only_client_and_pipelined_queries() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let mut zone = Zone::new();
    zone.txt("one.example.", &["one"])
        .txt("two.example.", &["two"])
        .set_fault("one.example.", Fault::Delay(Duration::from_millis(200)));
    let dns = FakeDns::start(zone).await.unwrap();

    // Two queries on one TCP connection: the delayed first one must not hold back the second.
    let query = |id: u16, name: &str| {
        use hickory_resolver::proto::op::{Message, Query};
        use hickory_resolver::proto::rr::Name;
        let mut m = Message::query();
        m.metadata.id = id;
        m.add_query(Query::query(
            Name::from_ascii(name).unwrap(),
            RecordType::TXT,
        ));
        let bytes = m.to_vec().unwrap();
        let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&bytes);
        framed
    };
    let mut stream = tokio::net::TcpStream::connect(dns.addr()).await.unwrap();
    stream.write_all(&query(1, "one.example.")).await.unwrap();
    stream.write_all(&query(2, "two.example.")).await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..2 {
        let len = stream.read_u16().await.unwrap();
        let mut buf = vec![0; usize::from(len)];
        stream.read_exact(&mut buf).await.unwrap();
        let m = hickory_resolver::proto::op::Message::from_vec(&buf).unwrap();
        ids.push(m.metadata.id);
    }
    assert_eq!(ids, vec![2, 1]);
    assert_eq!(dns.queries_by(Transport::Tcp), 2);
}

#[tokio::test]
async fn dropping_the_server_frees_its_port() {
    let dns = FakeDns::start(Zone::new()).await.unwrap();
    let addr = dns.addr();
    assert!(addr.ip().is_loopback());
    drop(dns);
    // Aborted tasks release their sockets shortly after.
    let mut bound = false;
    for _ in 0..50 {
        if tokio::net::TcpListener::bind(addr).await.is_ok() {
            bound = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(bound, "port {addr} still taken");
}

/// Pins down hickory-resolver 0.26's retry semantics, which the fakes make visible:
/// `attempts` counts retries after the first try, and within one try the UDP client re-sends
/// the query every 333 ms until its timeout.
#[tokio::test]
async fn hickory_attempts_count_retries_and_udp_resends_within_a_try() {
    let mut zone = Zone::new();
    zone.set_fault("sf.example.", Fault::ServFail)
        .set_fault("slow.example.", Fault::Timeout);
    let dns = FakeDns::start(zone).await.unwrap();

    let once = resolver_full(dns.addr(), true, 0);
    let err = once.txt_lookup("sf.example.").await.unwrap_err();
    assert_eq!(response_code(&err), Some(ResponseCode::ServFail));
    assert_eq!(dns.queries_for("sf.example.", RrType::Txt), 1);

    let twice = resolver_full(dns.addr(), true, 1);
    dns.reset_counters();
    let _ = twice.txt_lookup("sf.example.").await.unwrap_err();
    assert_eq!(dns.queries_for("sf.example.", RrType::Txt), 2);

    dns.reset_counters();
    let started = Instant::now();
    let err = once.txt_lookup("slow.example.").await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(matches!(err, NetError::Timeout), "{err:?}");
    assert!(
        elapsed >= TIMEOUT && elapsed < TIMEOUT + Duration::from_millis(300),
        "{elapsed:?}"
    );
    // Sent at 0, 333 and 666 ms within the 700 ms timeout.
    assert_eq!(dns.queries_by(Transport::Udp), 3);
    assert_eq!(dns.queries_by(Transport::Tcp), 0);
}

#[tokio::test]
async fn answers_pass_the_resolvers_0x20_case_check() {
    let mut zone = Zone::new();
    zone.cymru_origin(vk_ip(), VK_ORIGIN)
        .ptr(vk_ip(), "rimap26.i.mail.ru");
    let dns = FakeDns::start(zone).await.unwrap();
    let r = resolver_opts(dns.addr(), true, 0, true);

    for _ in 0..5 {
        let origin = txt(&r, "218.169.112.176.origin.asn.cymru.com.")
            .await
            .unwrap();
        assert_eq!(origin, vec![vec![VK_ORIGIN.as_bytes().to_vec()]]);
        r.clear_cache();
    }
    assert!(r.reverse_lookup(vk_ip()).await.is_ok());
    // Randomised case on the wire, one counter key.
    assert_eq!(dns.queries_for(&cymru_origin_name(vk_ip()), RrType::Txt), 5);
}
