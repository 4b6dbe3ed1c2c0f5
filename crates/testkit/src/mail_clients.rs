//! Minimal mail clients on std TCP sockets: IMAP and POP3 logins with a forged client address,
//! an SMTP session (EHLO, XCLIENT, AUTH PLAIN, MAIL, RCPT), and `doveadm auth test` (on the
//! host or in the Debian 13 root).
//!
//! Every function returns what the client sees (the server's reply lines), so tests assert on
//! exactly that. Every socket has a 15 s read timeout.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use crate::release::Release;

const TIMEOUT: Duration = Duration::from_secs(15);

/// How the client address reaches the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forge<'a> {
    /// Not forged: 127.0.0.1.
    None,
    /// A HAProxy PROXY v1 header (the server's PROXY listener, from a trusted loopback peer).
    Proxy(&'a str),
    /// IMAP `ID ("x-originating-ip" …)` / POP3 `XCLIENT ADDR=…` (from a trusted peer).
    Id(&'a str),
}

struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    transcript: Vec<String>,
}

impl Conn {
    fn open(port: u16) -> Conn {
        let s = TcpStream::connect(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("connect 127.0.0.1:{port}: {e}"));
        s.set_read_timeout(Some(TIMEOUT)).expect("read timeout");
        s.set_write_timeout(Some(TIMEOUT)).expect("write timeout");
        let reader = BufReader::new(s.try_clone().expect("clone socket"));
        Conn {
            reader,
            writer: s,
            transcript: Vec::new(),
        }
    }

    fn send_raw(&mut self, bytes: &str) {
        self.writer
            .write_all(bytes.as_bytes())
            .unwrap_or_else(|e| panic!("send {bytes:?}: {e}; so far: {:?}", self.transcript));
    }

    fn send(&mut self, line: &str, shown: &str) {
        self.transcript.push(format!("C: {shown}"));
        self.send_raw(&format!("{line}\r\n"));
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => panic!("connection closed; so far: {:?}", self.transcript),
            Ok(_) => {}
            Err(e) => panic!("read: {e}; so far: {:?}", self.transcript),
        }
        let line = line.trim_end_matches(['\r', '\n']).to_string();
        self.transcript.push(format!("S: {line}"));
        line
    }

    /// Reads lines until one starts with `tag `; returns it.
    fn tagged(&mut self, tag: &str) -> String {
        let prefix = format!("{tag} ");
        loop {
            let line = self.line();
            if line.starts_with(&prefix) {
                return line;
            }
        }
    }
}

fn proxy_v1(ip: &str, dest_port: u16) -> String {
    format!("PROXY TCP4 {ip} 127.0.0.1 40000 {dest_port}\r\n")
}

/// IMAP `LOGIN user pass`; returns the tagged reply, e.g. `a1 OK [...] Logged in` or
/// `a1 NO [ALERT] badclients: …`. `port` must be the PROXY listener for [`Forge::Proxy`].
pub fn imap_login(port: u16, forge: Forge<'_>, user: &str, pass: &str) -> String {
    let mut c = Conn::open(port);
    if let Forge::Proxy(ip) = forge {
        c.send_raw(&proxy_v1(ip, port));
    }
    let greeting = c.line();
    assert!(greeting.starts_with("* OK"), "IMAP greeting: {greeting}");
    if let Forge::Id(ip) = forge {
        let id = format!("a0 ID (\"name\" \"badclients-e2e\" \"x-originating-ip\" \"{ip}\" \"x-originating-port\" \"40001\")");
        c.send(&id, &id);
        let r = c.tagged("a0");
        assert!(r.starts_with("a0 OK"), "IMAP ID: {r}");
    }
    c.send(
        &format!("a1 LOGIN \"{user}\" \"{pass}\""),
        &format!("a1 LOGIN \"{user}\" <password>"),
    );
    let reply = c.tagged("a1");
    c.send("a2 LOGOUT", "a2 LOGOUT");
    reply
}

/// POP3 `USER`/`PASS`; returns the reply to `PASS`, e.g. `+OK Logged in.` or
/// `-ERR [AUTH] badclients: …`. [`Forge::Id`] uses `XCLIENT ADDR=`.
pub fn pop3_login(port: u16, forge: Forge<'_>, user: &str, pass: &str) -> String {
    let mut c = Conn::open(port);
    if let Forge::Proxy(ip) = forge {
        c.send_raw(&proxy_v1(ip, port));
    }
    let greeting = c.line();
    assert!(greeting.starts_with("+OK"), "POP3 greeting: {greeting}");
    if let Forge::Id(ip) = forge {
        let x = format!("XCLIENT ADDR={ip} PORT=40001");
        c.send(&x, &x);
        let r = c.line();
        assert!(r.starts_with("+OK"), "POP3 XCLIENT: {r}");
    }
    c.send(&format!("USER {user}"), &format!("USER {user}"));
    let r = c.line();
    assert!(r.starts_with("+OK"), "POP3 USER: {r}");
    c.send(&format!("PASS {pass}"), "PASS <password>");
    let reply = c.line();
    c.send("QUIT", "QUIT");
    reply
}

/// An SMTP reply: the code and every line's text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmtpReply {
    pub code: u16,
    pub lines: Vec<String>,
}

impl SmtpReply {
    /// All lines as the client saw them (`250-…`, `250 …`), joined by newlines.
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }
}

/// An SMTP client session.
pub struct Smtp {
    conn: Conn,
    pub banner: SmtpReply,
}

impl Smtp {
    /// Connects and reads the banner.
    pub fn connect(port: u16) -> Smtp {
        let mut conn = Conn::open(port);
        let banner = read_reply(&mut conn);
        assert_eq!(banner.code, 220, "SMTP banner: {}", banner.text());
        Smtp { conn, banner }
    }

    /// Sends one command line and reads the reply.
    pub fn cmd(&mut self, line: &str) -> SmtpReply {
        self.conn.send(line, line);
        read_reply(&mut self.conn)
    }

    /// EHLO; asserts 250.
    pub fn ehlo(&mut self) -> SmtpReply {
        let r = self.cmd("EHLO client.e2e.test");
        assert_eq!(r.code, 250, "EHLO: {}", r.text());
        r
    }

    /// `XCLIENT ADDR=ip NAME=[UNAVAILABLE]` (Postfix answers with a new 220 greeting), then EHLO
    /// again.
    pub fn xclient_addr(&mut self, ip: &str) {
        let r = self.cmd(&format!("XCLIENT ADDR={ip} NAME=[UNAVAILABLE]"));
        assert_eq!(r.code, 220, "XCLIENT: {}", r.text());
        self.ehlo();
    }

    /// `AUTH PLAIN <base64(\0user\0pass)>`; the reply (235 on success).
    pub fn auth_plain(&mut self, user: &str, pass: &str) -> SmtpReply {
        let token = base64(format!("\0{user}\0{pass}").as_bytes());
        self.conn
            .send(&format!("AUTH PLAIN {token}"), "AUTH PLAIN <credentials>");
        read_reply(&mut self.conn)
    }

    /// MAIL FROM, then RCPT TO; returns the reply to RCPT (MAIL must be accepted).
    pub fn mail_rcpt(&mut self, from: &str, to: &str) -> SmtpReply {
        let r = self.cmd(&format!("MAIL FROM:<{from}>"));
        assert_eq!(r.code, 250, "MAIL FROM: {}", r.text());
        self.cmd(&format!("RCPT TO:<{to}>"))
    }

    /// QUIT.
    pub fn quit(mut self) {
        self.conn.send("QUIT", "QUIT");
        let _ = self.conn.reader.read_line(&mut String::new());
    }

    /// The session so far (passwords masked).
    pub fn transcript(&self) -> String {
        self.conn.transcript.join("\n")
    }
}

fn read_reply(conn: &mut Conn) -> SmtpReply {
    let mut lines = Vec::new();
    loop {
        let line = conn.line();
        let code = line
            .get(..3)
            .and_then(|c| c.parse::<u16>().ok())
            .unwrap_or_else(|| panic!("not an SMTP reply: {line:?}"));
        let last = line.as_bytes().get(3) != Some(&b'-');
        lines.push(line);
        if last {
            return SmtpReply { code, lines };
        }
    }
}

/// Standard base64 with padding.
pub fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `doveadm -c CONF auth test -x rip=IP -x service=SERVICE user pass` in `release` (`conf` as
/// seen there): exit 0 when the authentication succeeded, 77 when it failed.
pub fn doveadm_auth_test(
    release: Release,
    conf: &Path,
    rip: &str,
    service: &str,
    user: &str,
    pass: &str,
) -> Output {
    release
        .command("/usr/bin/doveadm")
        .arg("-c")
        .arg(conf)
        .args(["auth", "test", "-x"])
        .arg(format!("rip={rip}"))
        .arg("-x")
        .arg(format!("service={service}"))
        .arg(user)
        .arg(pass)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "run doveadm ({}): {e} (apt-get install dovecot-core; scripts/test.sh does this)",
                release.name()
            )
        })
}
