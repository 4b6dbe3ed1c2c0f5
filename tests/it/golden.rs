//! The contract's five audit lines come out byte for byte from `badclients check --facts`.

use testkit::{badclients, fixture, stdout, ListDir};

const LOGINS: [(&str, &str, &str, &str); 5] = [
    ("vk.json", "176.112.169.218", "honey-craig", "imap"),
    ("reserved.json", "172.17.1.204", "honey", "imap"),
    ("linode.json", "139.162.133.252", "honey-sugar", "imap"),
    ("gmail-pop.json", "209.85.218.15", "honey-gmail-pop", "pop3"),
    (
        "gmail-smtp.json",
        "209.85.218.53",
        "honey-gmail-smtp",
        "smtp",
    ),
];

fn expected_lines() -> Vec<String> {
    std::fs::read_to_string(fixture("contract/audit-lines.txt"))
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

fn check(lists: &ListDir, login: (&str, &str, &str, &str)) -> std::process::Output {
    let (facts, ip, user, service) = login;
    let facts = fixture(&format!("contract/{facts}"));
    badclients(
        &[
            "check",
            ip,
            "--user",
            user,
            "--service",
            service,
            "--facts",
            facts.to_str().unwrap(),
            "--lists",
            lists.path().to_str().unwrap(),
        ],
        lists.path(),
    )
}

#[test]
fn five_allowed_lines_byte_for_byte() {
    let lists = ListDir::new();
    for (login, want) in LOGINS.into_iter().zip(expected_lines()) {
        let out = check(&lists, login);
        assert_eq!(out.status.code(), Some(0), "{login:?}: {out:?}");
        assert_eq!(stdout(&out), format!("{want}\n"));
    }
}

#[test]
fn five_blocked_lines_append_blocked_and_matched() {
    let lists = ListDir::new()
        .with("entity.deny.lst", "mail-ru\n")
        .with("rev_host.deny.lst", "node%-eu%-%d+%.email2%-cloud%.com\n")
        .with("ip_net.deny.lst", "209.85.218.0/28 Gmail fetchers\n");
    let matched = [
        Some("entity:MAIL-RU"),
        None,
        Some("rev_host"),
        Some("ip_net"),
        None,
    ];
    for ((login, want), matched) in LOGINS.into_iter().zip(expected_lines()).zip(matched) {
        let out = check(&lists, login);
        match matched {
            Some(m) => {
                assert_eq!(out.status.code(), Some(1), "{login:?}: {out:?}");
                assert_eq!(stdout(&out), format!("{want}, blocked=True, matched={m}\n"));
            }
            None => {
                assert_eq!(out.status.code(), Some(0), "{login:?}: {out:?}");
                assert_eq!(stdout(&out), format!("{want}\n"));
            }
        }
    }
}

#[test]
fn disabled_service_blocks_even_reserved() {
    let dir = ListDir::new().with("lists/README", "").with(
        "badclients.toml",
        "list_path = \"lists\"\ndisabled_services = [\"IMAP\"]\n",
    );
    let facts = fixture("contract/reserved.json");
    let out = badclients(
        &[
            "check",
            "172.17.1.204",
            "-u",
            "honey",
            "-s",
            "imap",
            "--facts",
            facts.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let want = &expected_lines()[1];
    assert_eq!(
        stdout(&out),
        format!("{want}, blocked=True, matched=service\n")
    );
}
