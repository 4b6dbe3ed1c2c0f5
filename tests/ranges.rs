//! `badclients ranges update/status` end to end: feeds downloaded from a local HTTP server,
//! stored, looked up as `cloud=` facts, matched by cloud.deny.lst; a broken feed keeps the
//! previous one.

mod common;

use common::{badclients_async, fixture, stderr, stdout, ListDir};
use testworld::{FakeRdap, Reply};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_from_a_local_server_then_lookup_and_decide() {
    let server = FakeRdap::start().await.unwrap();
    let aws = std::fs::read(fixture("cloud/aws-ip-ranges.json")).unwrap();
    server.route("/aws.json", Reply::json(aws));
    server.route(
        "/broken.json",
        Reply::json(b"<html>captive portal</html>".to_vec()).with_content_type("text/html"),
    );
    let dir = ListDir::new().with("lists/cloud.deny.lst", "aws:EC2:.*\n");
    let cfg = dir.path().join("badclients.toml");
    let write_config = |aws_url: &str| {
        std::fs::write(
            &cfg,
            format!(
                "list_path = \"lists\"\n[lookup]\ndns_servers = [\"127.0.0.1:9\"]\ndeadline_ms = 300\n\
                 [rdap.base_urls]\narin = \"http://127.0.0.1:9/\"\n[cache]\nmemory_only = true\n\
                 [cloud]\ndir = \"ranges\"\n[cloud.urls]\naws = \"{aws_url}\"\n"
            ),
        )
        .unwrap();
    };
    let c = cfg.to_str().unwrap().to_string();

    write_config(&server.url("/aws.json"));
    let out = badclients_async(
        &["ranges", "update", "--provider", "aws", "--config", &c],
        dir.path(),
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        stdout(&out).starts_with("aws: 13344 prefixes from http://127.0.0.1:"),
        "{}",
        stdout(&out)
    );
    let out = badclients_async(&["ranges", "status", "--config", &c], dir.path()).await;
    assert!(stdout(&out).contains("aws"), "{}", stdout(&out));
    assert!(stdout(&out).contains("13344 prefixes"), "{}", stdout(&out));

    // 15.181.232.10 is in an EC2 us-east-1 prefix of the feed (and in AMAZON's).
    let out = badclients_async(
        &["lookup", "15.181.232.10", "--json", "--config", &c],
        dir.path(),
    )
    .await;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v[0]["facts"]["cloud"],
        serde_json::json!(["aws:AMAZON:us-east-1", "aws:EC2:us-east-1"])
    );
    let out = badclients_async(
        &[
            "check",
            "15.181.232.10",
            "-u",
            "u",
            "-s",
            "imap",
            "--config",
            &c,
        ],
        dir.path(),
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let line = stdout(&out);
    assert!(
        line.contains(", cloud=aws:AMAZON:us-east-1, cloud=aws:EC2:us-east-1,"),
        "{line}"
    );
    assert!(line.ends_with(", blocked=True, matched=cloud\n"), "{line}");

    // A broken download is refused and the stored feed stays.
    write_config(&server.url("/broken.json"));
    let out = badclients_async(
        &["ranges", "update", "--provider", "aws", "--config", &c],
        dir.path(),
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        stderr(&out).contains("the previous feed is kept"),
        "{}",
        stderr(&out)
    );
    let out = badclients_async(&["ranges", "status", "--config", &c], dir.path()).await;
    assert!(stdout(&out).contains("13344 prefixes"), "{}", stdout(&out));

    // Importing a file works the same way.
    let m365 = fixture("cloud/m365-endpoints.json");
    let spec = format!("m365={}", m365.display());
    let out = badclients_async(
        &["ranges", "update", "--from-file", &spec, "--config", &c],
        dir.path(),
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(stdout(&out).starts_with("m365: "), "{}", stdout(&out));
}
