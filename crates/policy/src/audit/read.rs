//! Audit lines read back: the body of a `mail-audit:` line (the text after the marker)
//! into [`AuditFields`] — the `key=value` fields, `<…>` brackets, `None`, and the escaping
//! of control characters the older tool left in. The inverse of [`super::AuditLine`],
//! beside it so the format has one home. The line's prefix (syslog or ISO times) and the
//! walk over log files belong to the reader in the `badclients` crate.

use std::net::IpAddr;

use super::escape;
use crate::decision::Verdict;
use crate::facts::Asn;

/// What an audit line's body says about one login, every string in its escaped form (as
/// the daemon writes it; control characters of the older tool's lines escaped the same
/// way).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditFields {
    /// The user name.
    pub user: String,
    /// The service.
    pub service: String,
    /// The client IP.
    pub ip: IpAddr,
    /// `None` for `host=<>` (no PTR record), `None` or no `host=` at all.
    pub host: Option<String>,
    /// `asn=` (`AS` and the number; `None` when unknown).
    pub asn: Option<u32>,
    /// `as_cc=`.
    pub as_cc: Option<String>,
    /// `as_desc=<…>`.
    pub as_desc: Option<String>,
    /// `net_name=<…>`.
    pub net_name: Option<String>,
    /// `net_cc=`.
    pub net_cc: Option<String>,
    /// `entity=` values in order (`entity=None` adds nothing).
    pub entities: Vec<String>,
    /// `cloud=` values in order.
    pub cloud: Vec<String>,
    /// `Block` for `blocked=True`, `TempFail` for `tempfail=True`, else `Allow`.
    pub verdict: Verdict,
    /// `enforced=` (default `True`).
    pub enforced: bool,
    /// `password_checked=` (default `True`).
    pub password_checked: bool,
    /// The `matched=` label of a block (`None` for any other verdict).
    pub matched: Option<String>,
    /// `lookup_error=` values in order.
    pub lookup_errors: Vec<String>,
}

const MARKER: &str = "mail-audit";

/// The prefix before the marker and the text after `mail-audit: ` (the body), or `None`
/// when the line is not an audit line: no marker, or a `mail-audit-maxmind:` /
/// `mail-audit-report:` line.
pub fn split_line(line: &str) -> Option<(&str, &str)> {
    let mut from = 0;
    while let Some(pos) = line[from..].find(MARKER) {
        let at = from + pos;
        let after = &line[at + MARKER.len()..];
        if let Some(fields) = after.strip_prefix(": ") {
            return Some((&line[..at], fields));
        }
        if is_sibling_marker(after) {
            // `mail-audit-maxmind:`, `mail-audit-report:`: another kind of line.
            return None;
        }
        // `mail-audit[1234]:` (the journal's identifier), a host name, …
        from = at + MARKER.len();
    }
    None
}

/// Whether `after` (the text after `mail-audit`) is `-word:`.
fn is_sibling_marker(after: &str) -> bool {
    let Some(rest) = after.strip_prefix('-') else {
        return false;
    };
    let n = rest
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
        .count();
    n > 0 && rest.as_bytes().get(n) == Some(&b':')
}

fn is_key_byte(b: &u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'[' | b']' | b'-')
}

/// The length of the key when `s` starts with `key=`.
fn key_len(s: &str) -> Option<usize> {
    let n = s.bytes().take_while(is_key_byte).count();
    (n > 0 && s.as_bytes().get(n) == Some(&b'=')).then_some(n)
}

/// Splits before every `, key=`.
fn split_fields(text: &str) -> Vec<&str> {
    let mut fields = Vec::new();
    let mut start = 0;
    let mut from = 0;
    while let Some(pos) = text[from..].find(", ") {
        let at = from + pos;
        if key_len(&text[at + 2..]).is_some() {
            fields.push(&text[start..at]);
            start = at + 2;
        }
        from = at + 1;
    }
    fields.push(&text[start..]);
    fields
}

/// The fields the record is made of, as written.
#[derive(Default)]
struct RawFields<'a> {
    user: Option<&'a str>,
    service: Option<&'a str>,
    ip: Option<&'a str>,
    host: Option<&'a str>,
    asn: Option<&'a str>,
    as_cc: Option<&'a str>,
    as_desc: Option<&'a str>,
    net_name: Option<&'a str>,
    net_cc: Option<&'a str>,
    blocked: Option<&'a str>,
    matched: Option<&'a str>,
    enforced: Option<&'a str>,
    password_checked: Option<&'a str>,
    tempfail: Option<&'a str>,
    entities: Vec<&'a str>,
    cloud: Vec<&'a str>,
    lookup_errors: Vec<&'a str>,
}

impl<'a> RawFields<'a> {
    fn collect(text: &'a str) -> Result<RawFields<'a>, String> {
        let mut raw = RawFields::default();
        for field in split_fields(text) {
            let Some(n) = key_len(field) else {
                return Err(format!(
                    "expected key=value after \"mail-audit: \", found {}",
                    snippet(field)
                ));
            };
            let (key, value) = (&field[..n], &field[n + 1..]);
            let slot = match key {
                "user" => &mut raw.user,
                "service" => &mut raw.service,
                "ip" => &mut raw.ip,
                "host" => &mut raw.host,
                "asn" => &mut raw.asn,
                "as_cc" => &mut raw.as_cc,
                "as_desc" => &mut raw.as_desc,
                "net_name" => &mut raw.net_name,
                "net_cc" => &mut raw.net_cc,
                "blocked" => &mut raw.blocked,
                "matched" => &mut raw.matched,
                "enforced" => &mut raw.enforced,
                "password_checked" => &mut raw.password_checked,
                "tempfail" => &mut raw.tempfail,
                "entity" => {
                    raw.entities.push(value);
                    continue;
                }
                "cloud" => {
                    raw.cloud.push(value);
                    continue;
                }
                "lookup_error" => {
                    raw.lookup_errors.push(value);
                    continue;
                }
                // Forward compatible: fields of newer versions (`dnsbl=`, …).
                _ => continue,
            };
            if slot.is_some() {
                return Err(format!("repeated field {key}="));
            }
            *slot = Some(value);
        }
        Ok(raw)
    }
}

/// Reads the body of an audit line (the text after `mail-audit: `); the error says why it
/// cannot be read, free of control characters. See the module documentation.
pub fn parse_body(body: &str) -> Result<AuditFields, String> {
    let raw = RawFields::collect(body)?;

    let user = sanitise(unbracket("user", raw.user.ok_or("missing user=")?)?);
    let service = sanitise(unbracket(
        "service",
        raw.service.ok_or("missing service=")?,
    )?);
    if service.is_empty() {
        return Err("empty service=".to_string());
    }
    let ip_text = unbracket("ip", raw.ip.ok_or("missing ip=")?)?;
    let ip: IpAddr = ip_text
        .parse()
        .map_err(|_| format!("invalid ip={}", snippet(ip_text)))?;
    let host = match raw.host {
        Some("<>") => None,
        Some(v) => optional("host", v)?,
        None => None,
    };
    let asn = match raw.asn.map(|v| unbracket("asn", v)).transpose()? {
        None | Some("None") => None,
        Some(v) => Some(
            v.parse::<Asn>()
                .map_err(|_| format!("invalid asn={}", snippet(v)))?
                .0,
        ),
    };
    let opt = |key: &str, v: Option<&str>| v.map(|v| optional(key, v)).transpose();
    let list = |key: &str, values: &[&str]| -> Result<Vec<String>, String> {
        let mut out = Vec::with_capacity(values.len());
        for v in values {
            out.extend(optional(key, v)?);
        }
        Ok(out)
    };

    let blocked = flag("blocked", raw.blocked, false)?;
    let tempfail = flag("tempfail", raw.tempfail, false)?;
    let enforced = flag("enforced", raw.enforced, true)?;
    let password_checked = flag("password_checked", raw.password_checked, true)?;
    let (verdict, matched) = match (blocked, tempfail) {
        (true, true) => return Err("both blocked=True and tempfail=True".to_string()),
        (true, false) => (Verdict::Block, opt("matched", raw.matched)?.flatten()),
        (false, true) => (Verdict::TempFail, None),
        (false, false) => (Verdict::Allow, None),
    };

    Ok(AuditFields {
        user,
        service,
        ip,
        host,
        asn,
        as_cc: opt("as_cc", raw.as_cc)?.flatten(),
        as_desc: opt("as_desc", raw.as_desc)?.flatten(),
        net_name: opt("net_name", raw.net_name)?.flatten(),
        net_cc: opt("net_cc", raw.net_cc)?.flatten(),
        entities: list("entity", &raw.entities)?,
        cloud: list("cloud", &raw.cloud)?,
        verdict,
        enforced,
        password_checked,
        matched,
        lookup_errors: list("lookup_error", &raw.lookup_errors)?,
    })
}

/// `True`/`False` (any case); `default` when the field is absent.
fn flag(key: &str, value: Option<&str>, default: bool) -> Result<bool, String> {
    match value {
        None => Ok(default),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(v) => Err(format!("{key}={}: expected True or False", snippet(v))),
    }
}

/// The value without its `<…>`; a value with only one of the brackets is an error.
fn unbracket<'a>(key: &str, value: &'a str) -> Result<&'a str, String> {
    match (value.strip_prefix('<'), value.ends_with('>')) {
        (Some(inner), true) if !inner.is_empty() => Ok(&inner[..inner.len() - 1]),
        (None, false) => Ok(value),
        _ => Err(format!("unbalanced <…> in {key}={}", snippet(value))),
    }
}

/// An optional value: unbracketed, `None` for `None`, sanitised.
fn optional(key: &str, value: &str) -> Result<Option<String>, String> {
    let v = unbracket(key, value)?;
    Ok((v != "None").then(|| sanitise(v)))
}

/// Whether `c` is a character [`escape`] writes as `\xNN` / `\u{NNNN}`: C0 controls, DEL,
/// C1 controls, U+2028, U+2029. No value of [`AuditFields`] holds one.
pub fn is_control(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

/// `value` with only its control characters escaped, exactly as [`escape`] writes them.
pub fn sanitise(value: &str) -> String {
    if !value.chars().any(is_control) {
        return value.to_string();
    }
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        if is_control(c) {
            let mut buf = [0u8; 4];
            out.push_str(&escape(c.encode_utf8(&mut buf)));
        } else {
            out.push(c);
        }
    }
    out
}

/// The start of `value` for an error message: at most 40 characters, control characters
/// escaped.
pub fn snippet(value: &str) -> String {
    const MAX: usize = 40;
    match value.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", sanitise(&value[..i])),
        None => sanitise(value),
    }
}
