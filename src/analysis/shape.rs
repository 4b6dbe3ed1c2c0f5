//! The shape of a reverse-DNS name as a Lua pattern (`ec2-3-80-1-2.compute-1.amazonaws.com`
//! → `%w+%-%d+%-%d+%-%d+%-%d+%.compute%-%d+%.amazonaws%.com`): what the aggregation groups
//! host names by and `suggest` proposes for `rev_host.deny.lst`.

/// Second-level labels under which a registrable domain has three labels (`co.uk`).
const SECOND_LEVEL: &[&str] = &[
    "co", "com", "net", "org", "ac", "gov", "edu", "ne", "or", "go",
];

/// `literal` into `out` with Lua's magic characters escaped.
pub fn escape_lua(out: &mut String, literal: &str) {
    for c in literal.chars() {
        if "^$()%.[]*+-?".contains(c) {
            out.push('%');
        }
        out.push(c);
    }
}

/// The shape of a host name as a Lua pattern: the registrable domain stays literal; in the
/// labels before it, digit runs become `%d+` and tokens mixing letters and digits `%w+`.
/// `None` for names with nothing to generalise from (a single label, an address).
pub fn host_shape(host: &str) -> Option<String> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = host.split('.').collect();
    if labels.len() < 2 || labels.iter().any(|l| l.is_empty()) || host.contains(['%', '\\', ' ']) {
        return None;
    }
    let n = labels.len();
    let domain_labels =
        if n >= 3 && labels[n - 1].len() == 2 && SECOND_LEVEL.contains(&labels[n - 2]) {
            3
        } else {
            2
        };
    let domain_labels = domain_labels.min(n);
    let mut out = String::new();
    for label in &labels[..n - domain_labels] {
        let mut token = String::new();
        let flush = |token: &mut String, out: &mut String| {
            if token.is_empty() {
                return;
            }
            if token.bytes().all(|b| b.is_ascii_digit()) {
                out.push_str("%d+");
            } else if token.bytes().any(|b| b.is_ascii_digit()) {
                out.push_str("%w+");
            } else {
                escape_lua(out, token);
            }
            token.clear();
        };
        for c in label.chars() {
            if c.is_ascii_alphanumeric() {
                token.push(c);
            } else {
                flush(&mut token, &mut out);
                escape_lua(&mut out, &c.to_string());
            }
        }
        flush(&mut token, &mut out);
        out.push_str("%.");
    }
    escape_lua(&mut out, &labels[n - domain_labels..].join("."));
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_generalise_the_host_part_only() {
        let cases = [
            (
                "ec2-3-80-1-2.compute-1.amazonaws.com",
                "%w+%-%d+%-%d+%-%d+%-%d+%.compute%-%d+%.amazonaws%.com",
            ),
            ("mail-ej1-f15.google.com", "mail%-%w+%-%w+%.google%.com"),
            (
                "185-70-42-41.protonmail.ch",
                "%d+%-%d+%-%d+%-%d+%.protonmail%.ch",
            ),
            (
                "node-eu-0001.email2-cloud.com",
                "node%-eu%-%d+%.email2%-cloud%.com",
            ),
            ("rimap26.i.mail.ru", "%w+%.i%.mail%.ru"),
            ("host1.example.co.uk", "%w+%.example%.co%.uk"),
            ("example.org", "example%.org"),
        ];
        for (host, shape) in cases {
            assert_eq!(host_shape(host).as_deref(), Some(shape), "{host}");
            let p = luapat::Pattern::compile(shape.as_bytes()).unwrap();
            assert!(
                p.matches_whole(host.as_bytes()).unwrap(),
                "{shape} vs {host}"
            );
        }
        assert_eq!(host_shape("localhost"), None);
        assert_eq!(host_shape("a..b"), None);
    }
}
