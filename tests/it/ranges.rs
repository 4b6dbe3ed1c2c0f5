//! `badclients ranges update/status` end to end: feeds downloaded from a local HTTP server,
//! stored, looked up as `cloud=` facts, matched by cloud.deny.lst; a broken feed keeps the
//! previous one.

use testkit::{badclients_async, fixture, stderr, stdout, ListDir};
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

/// Every provider with a feed URL on the local server, Azure left without one (as with the
/// defaults: Microsoft publishes no stable URL).
const SERVED: [(&str, &str); 6] = [
    ("aws", "aws-ip-ranges.json"),
    ("gcp", "gcp-cloud.json"),
    ("m365", "m365-endpoints.json"),
    ("linode", "linode-geofeed.csv"),
    ("oracle", "oracle-cloud-ip-ranges.json"),
    ("digitalocean", "digitalocean.csv"),
];

/// A configuration with `[cloud.urls]` for every provider of [`SERVED`] (the URL of
/// `broken`, if any, answers 404), and none for Azure.
fn all_but_azure(server: &FakeRdap, dir: &ListDir, broken: Option<&str>) -> String {
    let mut urls = String::new();
    for (provider, file) in SERVED {
        let path = format!("/{file}");
        server.route(
            &path,
            Reply::json(std::fs::read(fixture(&format!("cloud/{file}"))).unwrap()),
        );
        let path = if broken == Some(provider) {
            "/gone".to_string()
        } else {
            path
        };
        urls.push_str(&format!("{provider} = \"{}\"\n", server.url(&path)));
    }
    server.route("/gone", Reply::json(b"{}".to_vec()).with_status(404));
    let cfg = dir.path().join("badclients.toml");
    std::fs::write(
        &cfg,
        format!("[cache]\nmemory_only = true\n[cloud]\ndir = \"ranges\"\n[cloud.urls]\n{urls}"),
    )
    .unwrap();
    cfg.to_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_with_every_url_but_azure_succeeds_and_names_cloud_urls_azure() {
    let server = FakeRdap::start().await.unwrap();
    let dir = ListDir::new();
    let c = all_but_azure(&server, &dir, None);
    let out = badclients_async(&["ranges", "update", "--config", &c], dir.path()).await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = stdout(&out);
    for (provider, file) in SERVED {
        let line = format!("{provider}: ");
        assert!(
            text.lines()
                .any(|l| l.starts_with(&line) && l.ends_with(&format!("/{file}"))),
            "no {provider} line in\n{text}"
        );
    }
    assert_eq!(text.lines().count(), SERVED.len(), "{text}");
    let err = stderr(&out);
    assert!(
        err.starts_with("azure: note: skipped: azure has no stable feed URL")
            && err.contains("set `[cloud.urls] azure = \"URL\"`")
            && err.contains("ServiceTags_Public_YYYYMMDD.json")
            && err.contains("--from-file azure=FILE"),
        "{err}"
    );
    assert!(!err.contains("error"), "{err}");
    let out = badclients_async(&["ranges", "status", "--config", &c], dir.path()).await;
    let status = stdout(&out);
    assert_eq!(status.lines().count(), 1 + SERVED.len(), "{status}");
    assert!(!status.contains("azure"), "{status}");

    // With an Azure feed imported once, the note says it is kept.
    let azure = fixture("cloud/azure-ServiceTags_Public.json");
    let spec = format!("azure={}", azure.display());
    let out = badclients_async(
        &["ranges", "update", "--from-file", &spec, "--config", &c],
        dir.path(),
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let out = badclients_async(&["ranges", "update", "--config", &c], dir.path()).await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        stderr(&out).contains("azure: note: the stored feed (90493 prefixes from file:"),
        "{}",
        stderr(&out)
    );

    // Asked for by name, Azure without a URL is an error: nothing was done.
    let out = badclients_async(
        &["ranges", "update", "--provider", "azure", "--config", &c],
        dir.path(),
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        stderr(&out).contains("azure: error: azure has no stable feed URL")
            && stderr(&out).contains("[cloud.urls] azure"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_with_a_failing_configured_provider_exits_1_and_stores_the_others() {
    let server = FakeRdap::start().await.unwrap();
    let dir = ListDir::new();
    let c = all_but_azure(&server, &dir, Some("gcp"));
    let out = badclients_async(&["ranges", "update", "--config", &c], dir.path()).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "gcp: error: download of {}: HTTP 404",
            server.url("/gone")
        )),
        "{err}"
    );
    assert!(
        err.ends_with("badclients: 1 feed(s) failed: gcp; each keeps its previous stored feed\n"),
        "{err}"
    );
    assert!(err.contains("[cloud.urls] azure"), "{err}");
    // The other five were stored.
    let out = badclients_async(&["ranges", "status", "--config", &c], dir.path()).await;
    let status = stdout(&out);
    assert_eq!(status.lines().count(), 1 + SERVED.len() - 1, "{status}");
    assert!(!status.contains("gcp"), "{status}");
}
