//! FakeRdap answered to a real reqwest 0.13 client (rustls built in, plain HTTP used).

use std::time::{Duration, Instant};

use reqwest::header::{ACCEPT, CONTENT_TYPE, LOCATION, RETRY_AFTER};
use serde_json::Value;
use testworld::{fixtures, FakeRdap, RdapFault, Reply, Routes, RDAP_CONTENT_TYPE};

fn client_with(policy: reqwest::redirect::Policy, timeout: Duration) -> reqwest::Client {
    // reqwest's rustls-no-provider feature panics unless a provider is installed first; a
    // second install (another test) returns Err, which is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(policy)
        .timeout(timeout)
        .build()
        .expect("client builds")
}

fn client() -> reqwest::Client {
    client_with(reqwest::redirect::Policy::default(), Duration::from_secs(5))
}

async fn get(client: &reqwest::Client, url: &str) -> reqwest::Result<reqwest::Response> {
    client
        .get(url)
        .header(ACCEPT, RDAP_CONTENT_TYPE)
        .send()
        .await
}

#[tokio::test]
async fn serves_a_recorded_fixture_with_the_rdap_content_type() {
    let rdap = FakeRdap::start().await.unwrap();
    rdap.route(
        "/arin/ip/74.125.225.229",
        Reply::json(fixtures::rdap("arin-74.125.225.229")),
    );
    let c = client();

    let resp = get(&c, &format!("{}arin/ip/74.125.225.229", rdap.base_url()))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()[CONTENT_TYPE], RDAP_CONTENT_TYPE);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["name"], "GOOGLE");
    assert_eq!(body["entities"][0]["handle"], "GOGL");
    assert_eq!(rdap.last_accept().as_deref(), Some(RDAP_CONTENT_TYPE));
    assert_eq!(rdap.requests_for("/arin/ip/74.125.225.229"), 1);
}

#[tokio::test]
async fn prefix_routes_play_five_registries() {
    let mut routes = Routes::new();
    for rir in ["arin", "ripe", "apnic", "lacnic", "afrinic"] {
        routes.route_prefix(
            &format!("/{rir}/ip/"),
            Reply::json(format!(
                r#"{{"objectClassName":"ip network","name":"{rir}"}}"#
            )),
        );
    }
    routes.route("/ripe/ip/192.0.2.1", Reply::json(r#"{"name":"exact"}"#));
    let rdap = FakeRdap::start_with(routes).await.unwrap();
    let c = client();

    for rir in ["arin", "ripe", "apnic", "lacnic", "afrinic"] {
        let base = format!("{}{rir}/", rdap.base_url());
        let body: Value = get(&c, &format!("{base}ip/198.51.100.7"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(body["name"], rir);
    }
    let exact: Value = get(&c, &rdap.url("/ripe/ip/192.0.2.1"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(exact["name"], "exact");

    // Unrouted: 404 with an RDAP error object.
    let resp = get(&c, &rdap.url("/iana/ip/1.1.1.1")).await.unwrap();
    assert_eq!(resp.status(), 404);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["errorCode"], 404);

    let counters = rdap.counters();
    assert_eq!(counters.total, 7);
    assert_eq!(counters.requests_for("/arin/ip/198.51.100.7"), 1);
    assert_eq!(counters.requests_for("/iana/ip/1.1.1.1"), 1);
    assert_eq!(counters.log.len(), 7);
    assert!(counters
        .log
        .iter()
        .all(|r| r.method == "GET" && r.accept.as_deref() == Some(RDAP_CONTENT_TYPE)));
}

#[tokio::test]
async fn accept_header_and_query_string_are_recorded() {
    let rdap = FakeRdap::start().await.unwrap();
    rdap.route("/ripe/ip/1.2.3.4", Reply::json("{}"));
    let c = client();

    c.get(rdap.url("/ripe/ip/1.2.3.4?x=1"))
        .header(ACCEPT, "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(rdap.last_accept().as_deref(), Some("application/json"));
    // reqwest sends "Accept: */*" unless told otherwise.
    c.get(rdap.url("/ripe/ip/1.2.3.4")).send().await.unwrap();
    assert_eq!(rdap.last_accept().as_deref(), Some("*/*"));

    let log = rdap.counters().log;
    assert_eq!(log[0].path, "/ripe/ip/1.2.3.4");
    assert_eq!(log[0].path_and_query, "/ripe/ip/1.2.3.4?x=1");
    assert_eq!(rdap.requests_for("/ripe/ip/1.2.3.4"), 2);

    rdap.reset_counters();
    assert_eq!(rdap.total_requests(), 0);
    assert_eq!(rdap.requests_for("/ripe/ip/1.2.3.4"), 0);
    assert!(rdap.counters().log.is_empty());
}

#[tokio::test]
async fn status_faults() {
    let rdap = FakeRdap::start().await.unwrap();
    rdap.route("/s500", Reply::fault(RdapFault::Status(500)));
    rdap.route(
        "/s404-body",
        Reply::json(fixtures::rdap("error_ripe_net")).with_fault(RdapFault::Status(404)),
    );
    let c = client();

    let resp = get(&c, &rdap.url("/s500")).await.unwrap();
    assert_eq!(resp.status(), 500);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["errorCode"], 500);

    let resp = get(&c, &rdap.url("/s404-body")).await.unwrap();
    assert_eq!(resp.status(), 404);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["errorCode"], 501,
        "the recorded RIPE error body is kept"
    );
}

#[tokio::test]
async fn rate_limited_then_answer() {
    let rdap = FakeRdap::start().await.unwrap();
    rdap.route(
        "/lacnic/ip/200.57.141.161",
        vec![
            Reply::fault(RdapFault::RateLimited {
                retry_after_secs: 7,
            }),
            Reply::json(fixtures::rdap("lacnic-200.57.141.161")),
        ],
    );
    let c = client();
    let url = rdap.url("/lacnic/ip/200.57.141.161");

    let first = get(&c, &url).await.unwrap();
    assert_eq!(first.status(), 429);
    assert_eq!(first.headers()[RETRY_AFTER], "7");
    let second = get(&c, &url).await.unwrap();
    assert_eq!(second.status(), 200);
    let body: Value = second.json().await.unwrap();
    assert_eq!(body["port43"], "whois.lacnic.net");
    // The last reply repeats.
    assert_eq!(get(&c, &url).await.unwrap().status(), 200);
    assert_eq!(rdap.requests_for("/lacnic/ip/200.57.141.161"), 3);
}

#[tokio::test]
async fn rate_limit_notice_body_is_200_json() {
    let rdap = FakeRdap::start().await.unwrap();
    rdap.route(
        "/lacnic/ip/1.1.1.1",
        Reply::fault(RdapFault::RateLimitNotice),
    );
    let resp = get(&client(), &rdap.url("/lacnic/ip/1.1.1.1"))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()[CONTENT_TYPE], RDAP_CONTENT_TYPE);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["notices"][0]["title"], "Rate Limit Notice");
    assert!(body.get("objectClassName").is_none());
}

#[tokio::test]
async fn delay_then_answer_and_client_timeout() {
    let rdap = FakeRdap::start().await.unwrap();
    rdap.route(
        "/slow",
        Reply::json(r#"{"name":"SLOW"}"#).with_fault(RdapFault::Delay(Duration::from_millis(300))),
    );

    let started = Instant::now();
    let body: Value = get(&client(), &rdap.url("/slow"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(body["name"], "SLOW");

    let impatient = client_with(
        reqwest::redirect::Policy::default(),
        Duration::from_millis(100),
    );
    let err = get(&impatient, &rdap.url("/slow")).await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
}

#[tokio::test]
async fn hang_never_answers() {
    let rdap = FakeRdap::start().await.unwrap();
    rdap.route("/hang", Reply::fault(RdapFault::Hang));
    let c = client_with(
        reqwest::redirect::Policy::default(),
        Duration::from_millis(400),
    );

    let started = Instant::now();
    let err = get(&c, &rdap.url("/hang")).await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert_eq!(rdap.requests_for("/hang"), 1, "the request was received");
}

#[tokio::test]
async fn truncated_body_is_a_body_error() {
    let rdap = FakeRdap::start().await.unwrap();
    let full = fixtures::rdap("ripe-62.239.237.1");
    rdap.route(
        "/cut",
        Reply::json(full.clone()).with_fault(RdapFault::Truncated),
    );
    let c = client();

    let resp = get(&c, &rdap.url("/cut")).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.content_length(), Some(full.len() as u64));
    let err = resp.bytes().await.unwrap_err();
    assert!(err.is_body() || err.is_decode(), "{err:?}");

    // Reading by chunks shows exactly half of the body arrived.
    let mut resp = get(&c, &rdap.url("/cut")).await.unwrap();
    let mut got = 0;
    let failed = loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => got += chunk.len(),
            Ok(None) => break false,
            Err(_) => break true,
        }
    };
    assert!(failed);
    assert_eq!(got, full.len() / 2);
}

#[tokio::test]
async fn oversized_answers_are_streamed() {
    const SIZE: usize = 5 * 1024 * 1024;
    let rdap = FakeRdap::start().await.unwrap();
    rdap.route("/big", Reply::fault(RdapFault::Oversized(SIZE)));
    rdap.route(
        "/big-declared",
        Reply::fault(RdapFault::OversizedDeclared(SIZE)),
    );
    let c = client();

    let resp = get(&c, &rdap.url("/big")).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.content_length(), None, "chunked, no length announced");
    let body = resp.bytes().await.unwrap();
    assert_eq!(body.len(), SIZE);
    let value: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(value["objectClassName"], "ip network");

    // A client that stops at a limit sees the first chunks only.
    let mut resp = get(&c, &rdap.url("/big-declared")).await.unwrap();
    assert_eq!(resp.content_length(), Some(SIZE as u64));
    let mut read = 0;
    while let Some(chunk) = resp.chunk().await.unwrap() {
        read += chunk.len();
        if read > 256 * 1024 {
            break;
        }
    }
    assert!(read > 256 * 1024 && read < SIZE);
}

#[tokio::test]
async fn redirects_relative_absolute_and_loop() {
    let rdap = FakeRdap::start().await.unwrap();
    rdap.route(
        "/arin/ip/1.2.3.4",
        Reply::fault(RdapFault::Redirect {
            to: "/ripe/ip/1.2.3.4".to_owned(),
            status: 301,
        }),
    );
    rdap.route(
        "/ripe/ip/1.2.3.4",
        Reply::fault(RdapFault::Redirect {
            to: rdap.url("/apnic/ip/1.2.3.4"),
            status: 302,
        }),
    );
    rdap.route("/apnic/ip/1.2.3.4", Reply::json(r#"{"name":"FINAL"}"#));
    rdap.route("/loop", Reply::fault(RdapFault::RedirectLoop));

    let c = client();
    let resp = get(&c, &rdap.url("/arin/ip/1.2.3.4")).await.unwrap();
    assert_eq!(resp.url().path(), "/apnic/ip/1.2.3.4");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["name"], "FINAL");
    assert_eq!(rdap.total_requests(), 3);

    // Not followed: the Location header is as configured.
    let manual = client_with(reqwest::redirect::Policy::none(), Duration::from_secs(5));
    let resp = get(&manual, &rdap.url("/arin/ip/1.2.3.4")).await.unwrap();
    assert_eq!(resp.status(), 301);
    assert_eq!(resp.headers()[LOCATION], "/ripe/ip/1.2.3.4");

    // reqwest's default policy stops after 10 redirects.
    rdap.reset_counters();
    let err = get(&c, &rdap.url("/loop")).await.unwrap_err();
    assert!(err.is_redirect(), "{err:?}");
    assert_eq!(rdap.requests_for("/loop"), 11);
    let resp = get(&manual, &rdap.url("/loop?x=1")).await.unwrap();
    assert_eq!(resp.headers()[LOCATION], "/loop?x=1");
}

#[tokio::test]
async fn not_json_is_html() {
    let rdap = FakeRdap::start().await.unwrap();
    rdap.route("/ripe/ip/1.2.3.4", Reply::fault(RdapFault::NotJson));
    let resp = get(&client(), &rdap.url("/ripe/ip/1.2.3.4")).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let text = resp.text().await.unwrap();
    assert!(text.starts_with("<html>"));
    assert!(serde_json::from_str::<Value>(&text).is_err());
}

#[tokio::test]
async fn routes_change_while_running_and_keep_alive_works() {
    let rdap = FakeRdap::start().await.unwrap();
    let c = client();
    let url = rdap.url("/ripe/ip/10.0.0.1");

    assert_eq!(get(&c, &url).await.unwrap().status(), 404);
    rdap.route("/ripe/ip/10.0.0.1", Reply::json(r#"{"name":"NOW"}"#));
    let body: Value = get(&c, &url).await.unwrap().json().await.unwrap();
    assert_eq!(body["name"], "NOW");
    rdap.update(|routes| {
        routes.route_prefix(
            "/ripe/",
            Reply::json(r#"{"name":"PREFIX"}"#).with_status(200),
        );
    });
    assert!(rdap.remove_route("/ripe/ip/10.0.0.1"));
    let body: Value = get(&c, &url).await.unwrap().json().await.unwrap();
    assert_eq!(body["name"], "PREFIX");
    rdap.set_routes(Routes::new());
    assert_eq!(get(&c, &url).await.unwrap().status(), 404);
    assert_eq!(rdap.requests_for("/ripe/ip/10.0.0.1"), 4);
}

#[tokio::test]
async fn extra_headers_and_content_type_override() {
    let rdap = FakeRdap::start().await.unwrap();
    rdap.route(
        "/x",
        Reply::json("{}")
            .with_content_type("application/json")
            .with_header("X-Test", "yes"),
    );
    let resp = get(&client(), &rdap.url("/x")).await.unwrap();
    assert_eq!(resp.headers()[CONTENT_TYPE], "application/json");
    assert_eq!(resp.headers()["x-test"], "yes");
}

#[tokio::test]
async fn dropping_the_server_stops_hung_connections() {
    let rdap = FakeRdap::start().await.unwrap();
    rdap.route("/hang", Reply::fault(RdapFault::Hang));
    let url = rdap.url("/hang");
    let c = client_with(
        reqwest::redirect::Policy::default(),
        Duration::from_secs(10),
    );
    let pending = tokio::spawn(async move { get(&c, &url).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(rdap.total_requests(), 1);
    let started = Instant::now();
    drop(rdap);
    let result = pending.await.unwrap();
    assert!(result.is_err(), "{result:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
}
