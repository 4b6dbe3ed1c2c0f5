//! [`FakeDns`]: a DNS server on UDP and TCP (same port) on 127.0.0.1 that answers from a
//! [`Zone`] and injects its [`Fault`]s.
//!
//! This module owns the sockets, the wire handling (hickory-proto only parses queries and
//! serialises answers; framing, truncation and faults are done here) and the query counters.
//! The zone can be changed while the server runs; every query reads the zone as it is when the
//! query arrives.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, PTR, TXT};
use hickory_proto::rr::{Name, RData, Record};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};

use crate::zone::{normalize_name, Fault, RecordData, RecordSet, Resolution, RrType, Zone};

/// Largest UDP answer when the query carries no EDNS record (RFC 1035).
const CLASSIC_UDP_LIMIT: usize = 512;
/// The UDP payload size this server advertises in its own EDNS record.
const SERVER_UDP_PAYLOAD: u16 = 1232;
/// Pause after a failed receive or accept.
const ERROR_BACKOFF: Duration = Duration::from_millis(10);
/// The UDP receive buffer asked for (the kernel caps it at `net.core.rmem_max`): a test sends
/// a thousand queries at once, more than the default buffer holds while the answering tasks
/// wait for a busy CPU, and a dropped query is a client timeout.
const UDP_RECEIVE_BUFFER: usize = 4 << 20;
/// At most this many entries are kept in the query log.
const QUERY_LOG_LIMIT: usize = 100_000;

/// How a query reached the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    /// A UDP datagram.
    Udp,
    /// A TCP connection (2-byte length-prefixed messages).
    Tcp,
}

/// One query, as logged by the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryRecord {
    /// Lower-cased absolute query name.
    pub name: String,
    /// Query type.
    pub rr_type: RrType,
    /// Transport it came over.
    pub transport: Transport,
}

/// A snapshot of the server's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DnsCounters {
    /// Every message received (parseable or not).
    pub total: u64,
    /// Messages received over UDP.
    pub udp: u64,
    /// Messages received over TCP.
    pub tcp: u64,
    /// Messages that could not be parsed as a DNS query.
    pub malformed: u64,
    /// Queries per (lower-cased absolute name, type).
    pub per_query: BTreeMap<(String, RrType), u64>,
    /// Queries in arrival order (the first 100,000).
    pub log: Vec<QueryRecord>,
}

impl DnsCounters {
    /// Queries of (`name`, `rr_type`); `name` is case-insensitive, trailing dot optional.
    pub fn queries_for(&self, name: &str, rr_type: RrType) -> u64 {
        self.per_query
            .get(&(normalize_name(name), rr_type))
            .copied()
            .unwrap_or(0)
    }

    /// Queries of `name`, all types.
    pub fn queries_for_name(&self, name: &str) -> u64 {
        let name = normalize_name(name);
        self.per_query
            .iter()
            .filter(|((n, _), _)| *n == name)
            .map(|(_, count)| count)
            .sum()
    }

    /// Every name queried, lower-cased and absolute.
    pub fn names(&self) -> BTreeSet<String> {
        self.per_query.keys().map(|(n, _)| n.clone()).collect()
    }
}

struct Shared {
    zone: Mutex<Zone>,
    counters: Mutex<DnsCounters>,
}

/// Locks `mutex`, taking the data even if a panicking thread poisoned it.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A DNS server on 127.0.0.1 (UDP and TCP on one port). Stops when dropped.
pub struct FakeDns {
    addr: SocketAddr,
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for FakeDns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeDns").field("addr", &self.addr).finish()
    }
}

impl FakeDns {
    /// Binds UDP on 127.0.0.1 (a free port) and TCP on the same port, and starts serving `zone`.
    pub async fn start(zone: Zone) -> io::Result<FakeDns> {
        let mut last_err = io::Error::new(io::ErrorKind::AddrInUse, "no port found");
        for _ in 0..20 {
            let udp = bind_udp()?;
            let addr = udp.local_addr()?;
            match TcpListener::bind(addr).await {
                Ok(tcp) => return Ok(Self::serve(zone, addr, udp, tcp)),
                Err(err) => last_err = err,
            }
        }
        Err(last_err)
    }

    fn serve(zone: Zone, addr: SocketAddr, udp: UdpSocket, tcp: TcpListener) -> FakeDns {
        let shared = Arc::new(Shared {
            zone: Mutex::new(zone),
            counters: Mutex::new(DnsCounters::default()),
        });
        let tasks = vec![
            tokio::spawn(udp_loop(Arc::clone(&shared), Arc::new(udp))),
            tokio::spawn(tcp_loop(Arc::clone(&shared), tcp)),
        ];
        FakeDns {
            addr,
            shared,
            tasks,
        }
    }

    /// The address (127.0.0.1:port) of both the UDP and the TCP listener.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port of both listeners.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Changes the zone while the server runs; returns what `change` returns.
    pub fn update<R>(&self, change: impl FnOnce(&mut Zone) -> R) -> R {
        change(&mut lock(&self.shared.zone))
    }

    /// Replaces the whole zone.
    pub fn set_zone(&self, zone: Zone) {
        *lock(&self.shared.zone) = zone;
    }

    /// A copy of the current zone.
    pub fn zone(&self) -> Zone {
        lock(&self.shared.zone).clone()
    }

    /// Injects `fault` for `name` (see [`Zone::set_fault`]).
    pub fn set_fault(&self, name: &str, fault: Fault) {
        self.update(|z| {
            z.set_fault(name, fault);
        });
    }

    /// Removes the fault of `name`.
    pub fn clear_fault(&self, name: &str) {
        self.update(|z| {
            z.clear_fault(name);
        });
    }

    /// Sets the fault for names without their own (see [`Zone::set_default_fault`]).
    pub fn set_default_fault(&self, fault: Option<Fault>) {
        self.update(|z| {
            z.set_default_fault(fault);
        });
    }

    /// Sets the delay added before every answer.
    pub fn set_latency(&self, latency: Duration) {
        self.update(|z| {
            z.set_latency(latency);
        });
    }

    /// A snapshot of the counters.
    pub fn counters(&self) -> DnsCounters {
        lock(&self.shared.counters).clone()
    }

    /// Every message received so far.
    pub fn total_queries(&self) -> u64 {
        lock(&self.shared.counters).total
    }

    /// Queries of (`name`, `rr_type`) so far.
    pub fn queries_for(&self, name: &str, rr_type: RrType) -> u64 {
        lock(&self.shared.counters).queries_for(name, rr_type)
    }

    /// Messages received over `transport` so far.
    pub fn queries_by(&self, transport: Transport) -> u64 {
        let counters = lock(&self.shared.counters);
        match transport {
            Transport::Udp => counters.udp,
            Transport::Tcp => counters.tcp,
        }
    }

    /// Sets every counter (and the query log) back to zero.
    pub fn reset_counters(&self) {
        *lock(&self.shared.counters) = DnsCounters::default();
    }
}

impl Drop for FakeDns {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

// ----- transport loops ----------------------------------------------------------------------------

/// A UDP socket on a free 127.0.0.1 port with a receive buffer of [`UDP_RECEIVE_BUFFER`].
fn bind_udp() -> io::Result<UdpSocket> {
    let socket = socket2::Socket::new(
        socket2::Domain::IPV4,
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    // Best effort: a smaller buffer still works, it only drops sooner.
    let _ = socket.set_recv_buffer_size(UDP_RECEIVE_BUFFER);
    socket.set_nonblocking(true)?;
    socket.bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())?;
    UdpSocket::from_std(socket.into())
}

async fn udp_loop(shared: Arc<Shared>, socket: Arc<UdpSocket>) {
    // Dropping the JoinSet (when this task is aborted) aborts every pending answer.
    let mut pending = JoinSet::new();
    let mut buf = vec![0u8; 65_535];
    loop {
        while pending.try_join_next().is_some() {}
        let (len, peer) = match socket.recv_from(&mut buf).await {
            Ok(received) => received,
            // ICMP "port unreachable" from an earlier answer surfaces as an error on some
            // systems; keep serving, without spinning if the error persists.
            Err(_) => {
                tokio::time::sleep(ERROR_BACKOFF).await;
                continue;
            }
        };
        let packet = buf[..len].to_vec();
        let shared = Arc::clone(&shared);
        let socket = Arc::clone(&socket);
        pending.spawn(async move {
            if let Some((bytes, delay)) = answer(&shared, &packet, Transport::Udp) {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                // A client that went away is not our problem.
                let _ = socket.send_to(&bytes, peer).await;
            }
        });
    }
}

async fn tcp_loop(shared: Arc<Shared>, listener: TcpListener) {
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let Ok((stream, _peer)) = listener.accept().await else {
            // E.g. out of file descriptors: wait instead of spinning.
            tokio::time::sleep(ERROR_BACKOFF).await;
            continue;
        };
        connections.spawn(tcp_connection(Arc::clone(&shared), stream));
    }
}

async fn tcp_connection(shared: Arc<Shared>, stream: TcpStream) {
    let (mut reader, mut writer) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(64);
    let mut tasks = JoinSet::new();
    tasks.spawn(async move {
        while let Some(message) = rx.recv().await {
            let Ok(len) = u16::try_from(message.len()) else {
                continue;
            };
            let mut frame = Vec::with_capacity(message.len() + 2);
            frame.extend_from_slice(&len.to_be_bytes());
            frame.extend_from_slice(&message);
            if writer.write_all(&frame).await.is_err() {
                break;
            }
        }
    });
    loop {
        while tasks.try_join_next().is_some() {}
        let len = match reader.read_u16().await {
            Ok(len) => usize::from(len),
            Err(_) => break,
        };
        let mut packet = vec![0u8; len];
        if reader.read_exact(&mut packet).await.is_err() {
            break;
        }
        let shared = Arc::clone(&shared);
        let tx = tx.clone();
        tasks.spawn(async move {
            if let Some((bytes, delay)) = answer(&shared, &packet, Transport::Tcp) {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                let _ = tx.send(bytes).await;
            }
        });
    }
    // The client stopped sending: let pending answers go out, then close.
    drop(tx);
    while tasks.join_next().await.is_some() {}
}

// ----- answering ---------------------------------------------------------------------------------------

/// The answer to one received message and the delay before sending it; `None`: stay silent.
fn answer(shared: &Shared, packet: &[u8], transport: Transport) -> Option<(Vec<u8>, Duration)> {
    let request = Message::from_vec(packet);
    let parsed = request
        .as_ref()
        .ok()
        .filter(|m| m.metadata.message_type == MessageType::Query)
        .and_then(|m| m.queries.first().map(|q| (m, q)));

    {
        let mut counters = lock(&shared.counters);
        counters.total += 1;
        match transport {
            Transport::Udp => counters.udp += 1,
            Transport::Tcp => counters.tcp += 1,
        }
        match parsed {
            Some((_, query)) => {
                let name = normalize_name(&query.name().to_ascii());
                let rr_type = RrType::from(u16::from(query.query_type()));
                *counters
                    .per_query
                    .entry((name.clone(), rr_type))
                    .or_insert(0) += 1;
                if counters.log.len() < QUERY_LOG_LIMIT {
                    counters.log.push(QueryRecord {
                        name,
                        rr_type,
                        transport,
                    });
                }
            }
            None => counters.malformed += 1,
        }
    }

    let Some((request, query)) = parsed else {
        // Answer FORMERR when at least the id can be read.
        let id = u16::from_be_bytes([*packet.first()?, *packet.get(1)?]);
        let reply = Message::error_msg(id, OpCode::Query, ResponseCode::FormErr);
        return reply.to_vec().ok().map(|bytes| (bytes, Duration::ZERO));
    };

    let name = normalize_name(&query.name().to_ascii());
    let rr_type = RrType::from(u16::from(query.query_type()));
    let (fault, resolution, latency) = {
        let zone = lock(&shared.zone);
        (
            zone.fault_for(&name),
            zone.resolve(&name, rr_type),
            zone.latency(),
        )
    };

    let mut delay = latency;
    let mut response = base_response(request, query);
    match fault {
        Some(Fault::Timeout) => return None,
        Some(Fault::Garbage) => return Some((garbage(request.metadata.id), delay)),
        Some(Fault::ServFail) => {
            response.metadata.response_code = ResponseCode::ServFail;
            return Some((encode_or_servfail(&response, request), delay));
        }
        Some(Fault::Refused) => {
            response.metadata.response_code = ResponseCode::Refused;
            return Some((encode_or_servfail(&response, request), delay));
        }
        Some(Fault::Truncated) if transport == Transport::Udp => {
            response.metadata.truncation = true;
            return Some((encode_or_servfail(&response, request), delay));
        }
        Some(Fault::Delay(extra)) => delay += extra,
        Some(Fault::Truncated) | None => {}
    }

    match resolution {
        Resolution::Answer(set) => match records(query.name(), &set) {
            Some(records) => {
                response.add_answers(records);
            }
            None => response.metadata.response_code = ResponseCode::ServFail,
        },
        Resolution::NoData => {}
        Resolution::NxDomain => response.metadata.response_code = ResponseCode::NXDomain,
    }

    let mut bytes = encode_or_servfail(&response, request);
    if transport == Transport::Udp && bytes.len() > udp_limit(request) {
        response.answers.clear();
        response.metadata.truncation = true;
        bytes = encode_or_servfail(&response, request);
    }
    Some((bytes, delay))
}

/// A response header for `request`: same id, opcode, RD and CD, the question echoed as asked
/// (case kept, so 0x20 case randomisation checks pass), AA and RA set, EDNS when asked with EDNS.
fn base_response(request: &Message, query: &Query) -> Message {
    let mut response = Message::response(request.metadata.id, request.metadata.op_code);
    response.metadata.recursion_desired = request.metadata.recursion_desired;
    response.metadata.checking_disabled = request.metadata.checking_disabled;
    response.metadata.recursion_available = true;
    response.metadata.authoritative = true;
    response.add_query(query.clone());
    if request.edns.is_some() {
        let mut edns = Edns::new();
        edns.set_max_payload(SERVER_UDP_PAYLOAD);
        response.set_edns(edns);
    }
    response
}

/// The largest UDP answer the client accepts.
fn udp_limit(request: &Message) -> usize {
    request
        .edns
        .as_ref()
        .map(|e| usize::from(e.max_payload()).max(CLASSIC_UDP_LIMIT))
        .unwrap_or(CLASSIC_UDP_LIMIT)
}

/// Serialises `response`; if that fails, a bare SERVFAIL for `request`.
fn encode_or_servfail(response: &Message, request: &Message) -> Vec<u8> {
    response.to_vec().unwrap_or_else(|_| {
        Message::error_msg(
            request.metadata.id,
            request.metadata.op_code,
            ResponseCode::ServFail,
        )
        .to_vec()
        .unwrap_or_default()
    })
}

/// Bytes that begin like an answer to `id` but do not parse as a DNS message.
fn garbage(id: u16) -> Vec<u8> {
    let mut bytes = id.to_be_bytes().to_vec();
    // QR=1, RD=1, RA=1; claims 65535 questions that never come.
    bytes.extend_from_slice(&[0x81, 0x80, 0xff, 0xff, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00]);
    bytes.extend_from_slice(b"<html>this is not a DNS message</html>");
    bytes
}

/// The wire records of `set`, owned by `owner`; `None` if a PTR target is not a valid name.
fn records(owner: &Name, set: &RecordSet) -> Option<Vec<Record>> {
    let rdatas: Vec<RData> = match &set.data {
        RecordData::Txt(records) => records
            .iter()
            .map(|strings| RData::TXT(TXT::from_bytes(strings.iter().map(Vec::as_slice).collect())))
            .collect(),
        RecordData::Ptr(hosts) => hosts
            .iter()
            .map(|host| Name::from_ascii(host).ok().map(|n| RData::PTR(PTR(n))))
            .collect::<Option<Vec<_>>>()?,
        RecordData::A(ips) => ips.iter().map(|ip| RData::A(A(*ip))).collect(),
        RecordData::Aaaa(ips) => ips.iter().map(|ip| RData::AAAA(AAAA(*ip))).collect(),
    };
    Some(
        rdatas
            .into_iter()
            .map(|rdata| Record::from_rdata(owner.clone(), set.ttl, rdata))
            .collect(),
    )
}
