//! The sync server's HTTP side end to end: the connection handlers configured with dsconfig as in Ping's
//! documentation, a real Prometheus (tests/servers/start-prometheus.sh) scraping a pipe's metrics and read back
//! through its query API, the health answers while the destination is down, HTTPS with a PEM key manager
//! provider, a busy port, and `status`'s live figures and their fallback.
// Helpers of integration tests are not `#[test]` functions, which clippy.toml's allow-*-in-tests covers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use std::path::Path;
use std::time::Duration;

use ferrosync::entry::Value;
use ferrosync_ldap::Modification;
use util::own_openldap::OwnOpenLdap;
use util::scenario::{go, Scenario, PEOPLE_ALL};
use util::{enable_http, eventually, free_port, http_get as get, Root, ServerGuard};

const WAIT: Duration = Duration::from_secs(30);

/// A Prometheus of the test's own, stopped when dropped.
struct Prometheus {
    dir: tempfile::TempDir,
    port: u16,
}

impl Prometheus {
    fn start(target_port: u16) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let out = std::process::Command::new(util::repo().join("tests/servers/start-prometheus.sh"))
            .args([dir.path().join("prom").to_str().unwrap(), &port.to_string(), &format!("127.0.0.1:{target_port}")])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let summary = String::from_utf8_lossy(&out.stdout);
        assert!(summary.contains(&format!("URL='http://127.0.0.1:{port}'")), "{summary}");
        Prometheus { dir, port }
    }

    /// The value of the instant query `query`'s single series, `None` while it has none.
    fn value(&self, query: &str) -> Option<f64> {
        let encoded: String = query
            .bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'-' | b'.' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect();
        let (status, body) = get(self.port, &format!("/api/v1/query?query={encoded}"))?;
        assert_eq!(status, 200, "{body}");
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        let result = json["data"]["result"].as_array()?;
        assert!(result.len() <= 1, "one series expected for {query}: {body}");
        result.first()?["value"][1].as_str()?.parse().ok()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = std::process::Command::new(util::repo().join("tests/servers/stop-prometheus.sh"))
            .arg(self.dir.path().join("prom"))
            .status();
    }
}

#[tokio::test]
async fn prometheus_scrapes_the_counters_of_a_pipe_with_live_changes() {
    let s = Scenario::new("http-metrics").await;
    s.dsconfig(PEOPLE_ALL);
    let port = free_port();
    enable_http(&s.root, port, "Prometheus Monitoring");
    let _server = go(&s);
    eventually("the server serves /metrics", WAIT, || async {
        get(port, "/metrics")
            .is_some_and(|(st, body)| st == 200 && body.contains("ferrosync_sync_pipe_running{pipe=\"p\"} 1"))
    })
    .await;
    let prometheus = Prometheus::start(port);
    // Live changes: 10 adds, 5 modifies, 2 deletes, each step applied before the next (a change applied after a
    // later one was made would find the entry as it is by then, and count otherwise).
    let mut dns = Vec::new();
    for i in 0..10 {
        dns.push(s.add_person(&format!("prom{i}"), &[]).await);
    }
    eventually("the adds reach the destination", WAIT, || async { s.dst_count("ou=people").await == 10 }).await;
    for dn in &dns[..5] {
        s.src.modify(dn, &[Modification::Replace("description".into(), vec![Value::from("changed")])]).await.unwrap();
    }
    eventually("the modifies reach the destination", WAIT, || async {
        s.dst_get(&dns[4]).await.is_some_and(|e| e.texts("description") == ["changed"])
    })
    .await;
    for dn in &dns[8..] {
        s.src.delete(dn).await.unwrap();
    }
    eventually("the deletes reach the destination", WAIT, || async { s.dst_count("ou=people").await == 8 }).await;
    // Prometheus has them, as the pipe counted them.
    let completed =
        |outcome: &str| format!("ferrosync_sync_pipe_changes_completed_total{{pipe=\"p\",outcome=\"{outcome}\"}}");
    for (outcome, n) in [("created", 10.0), ("modified", 5.0), ("deleted", 2.0), ("failed-at-resource", 0.0)] {
        let q = completed(outcome);
        eventually(&format!("Prometheus has {q} = {n}"), WAIT, || async { prometheus.value(&q) == Some(n) }).await;
    }
    let detected = prometheus.value("ferrosync_sync_pipe_changes_detected_total{pipe=\"p\"}").unwrap();
    assert!(detected >= 17.0, "{detected}");
    let lag = "ferrosync_sync_pipe_change_lag_seconds_count{pipe=\"p\"}";
    eventually("the lag histogram counts the applied changes", WAIT, || async {
        prometheus.value(lag).is_some_and(|n| n >= 17.0)
    })
    .await;
    let inf = "ferrosync_sync_pipe_change_lag_seconds_bucket{pipe=\"p\",le=\"+Inf\"}";
    assert_eq!(prometheus.value(inf), prometheus.value(lag), "every observation is in the +Inf bucket");
    assert_eq!(prometheus.value("ferrosync_sync_pipe_ops_in_flight{pipe=\"p\"}"), Some(0.0));
    assert_eq!(prometheus.value("ferrosync_sync_pipe_waiting_for_endpoint{pipe=\"p\"}"), Some(0.0));
    assert!(prometheus.value("ferrosync_sync_pipe_polls_total{pipe=\"p\"}").unwrap() > 0.0);
    assert!(prometheus.value("process_resident_memory_bytes").unwrap() > 0.0);
    assert_eq!(prometheus.value("up{job=\"ferrosync\"}"), Some(1.0));
}

#[tokio::test]
async fn the_health_answers_follow_the_destination_and_status_shows_live_figures() {
    // A destination of its own, so that stopping it disturbs no other test.
    let mut own = OwnOpenLdap::start();
    let s = Scenario::new("http-health").await;
    own.adopt(&s).await;
    s.dsconfig(PEOPLE_ALL);
    let port = free_port();
    // The builtin handler serves both health extensions already.
    enable_http(&s.root, port, "Prometheus Monitoring");
    let _server = go(&s);
    eventually("the server is available", WAIT, || async {
        get(port, "/available-state") == Some((200, r#"{"state":"AVAILABLE"}"#.to_string()))
    })
    .await;
    assert_eq!(get(port, "/available-or-degraded-state").map(|r| r.0), Some(200));
    assert_eq!(get(port, "/no-such-path").map(|r| r.0), Some(404));
    let status = s.root.run("status", &[]).ok();
    assert!(status.contains("Figures     : live, from the running server\n"), "{status}");
    assert!(status.contains(&format!("HTTP Connection Handler : listening on http://127.0.0.1:{port}\n")), "{status}");
    assert!(status.contains("Percent Busy"), "{status}");
    // The destination goes down while a change waits for it: degraded.
    own.down();
    s.add_person("health1", &[]).await;
    let degraded = r#"{"degraded-alert-types":["sync-pipe-waiting-for-endpoint"],"state":"DEGRADED"}"#;
    eventually("the server is degraded", WAIT, || async {
        get(port, "/available-state") == Some((503, degraded.to_string()))
    })
    .await;
    assert_eq!(get(port, "/available-or-degraded-state"), Some((200, degraded.to_string())));
    let status = s.root.run("status", &["--script-friendly"]).ok();
    assert!(status.contains("figures\tlive, from the running server\n"), "{status}");
    assert!(status.contains("p\tWaiting For Endpoint\t"), "{status}");
    // It comes back: available again, and the change arrived.
    own.up();
    eventually("the server is available again", Duration::from_secs(60), || async {
        get(port, "/available-state").is_some_and(|r| r.0 == 200)
    })
    .await;
}

#[tokio::test]
async fn https_a_busy_port_and_status_without_a_server() {
    let root = Root::new();
    let (ca, _) = util::https_ca();
    let cert =
        std::env::var("FERROSYNC_TEST_HTTPS_CERT_FILE").expect("FERROSYNC_TEST_HTTPS_CERT_FILE: run tests/run.sh");
    let key = std::env::var("FERROSYNC_TEST_HTTPS_KEY_FILE").expect("FERROSYNC_TEST_HTTPS_KEY_FILE: run tests/run.sh");
    let pem = format!("{}{}", std::fs::read_to_string(&cert).unwrap(), std::fs::read_to_string(&key).unwrap());
    let (http_port, https_port) = (free_port(), free_port());
    let busy = std::net::TcpListener::bind(("127.0.0.1", http_port)).unwrap();
    enable_http(&root, http_port, "Prometheus Monitoring");
    root.write("config/server.pem", &pem);
    root.dsconfig(&[
        "create-key-manager-provider",
        "--provider-name",
        "PEM",
        "--type",
        "file-based",
        "--set",
        "key-store-file:config/server.pem",
    ])
    .ok();
    root.dsconfig(&[
        "set-connection-handler-prop",
        "--handler-name",
        "HTTPS Connection Handler",
        "--set",
        &format!("listen-port:{https_port}"),
        "--set",
        "key-manager-provider:PEM",
        "--set",
        "enabled:true",
    ])
    .ok();
    let server = ServerGuard::start(&root);
    // HTTPS, with the PEM file's certificate.
    let curl = |url: &str| {
        let out = std::process::Command::new("curl")
            .args(["-sS", "--cacert", &ca, "-w", "\n%{http_code}", url])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
    };
    let url = format!("https://localhost:{https_port}/available-state");
    eventually("the HTTPS handler answers", WAIT, || async { curl(&url) == "{\"state\":\"AVAILABLE\"}\n200" }).await;
    // The busy port: in logs/errors and status, the server goes on...
    let errors = || std::fs::read_to_string(root.path().join("logs/errors")).unwrap_or_default();
    let refused = format!("the Connection Handler 'HTTP Connection Handler' cannot listen on 127.0.0.1:{http_port}");
    eventually("the busy port is reported", WAIT, || async { errors().contains(&refused) }).await;
    let status = root.run("status", &[]).ok();
    assert!(status.contains(&format!("HTTP Connection Handler : not listening: {refused}")), "{status}");
    assert!(
        status.contains(&format!("HTTPS Connection Handler : listening on https://127.0.0.1:{https_port}")),
        "{status}"
    );
    // ... and listens once the port is free.
    drop(busy);
    eventually("the handler listens once the port is free", WAIT, || async {
        get(http_port, "/metrics").is_some_and(|(st, body)| st == 200 && body.ends_with("# EOF\n"))
    })
    .await;
    // Disabled with dsconfig on the running server: it stops listening.
    root.dsconfig(&[
        "set-connection-handler-prop",
        "--handler-name",
        "HTTP Connection Handler",
        "--set",
        "enabled:false",
    ])
    .ok();
    eventually("the disabled handler stops listening", WAIT, || async { get(http_port, "/metrics").is_none() }).await;
    // The control socket is the server user's only.
    assert_private(&root.path().join("logs/control.sock"));
    drop(server);
    // Without a server, status says that its figures are the saved ones.
    let status = root.run("status", &[]).ok();
    assert!(status.contains("Figures     : none (the server is not running)\n"), "{status}");
    assert!(!root.path().join("logs/control.sock").exists());
}

fn assert_private(path: &Path) {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let meta = std::fs::metadata(path).unwrap();
    assert!(meta.file_type().is_socket(), "{}", path.display());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{}", path.display());
    let dir = std::fs::metadata(path.parent().unwrap()).unwrap();
    assert_eq!(dir.permissions().mode() & 0o777, 0o700);
}

/// Headless Chromium (Debian's package): `--dump-dom` of `url` after its scripts ran, and a screenshot.
fn chromium(args: &[&str], url: &str) -> String {
    let home = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"])
        .args(args)
        .arg(url)
        .env("HOME", home.path())
        .output()
        .expect("chromium (tests/servers/install-deps.sh browser)");
    assert!(out.status.success(), "chromium {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[tokio::test]
async fn the_status_page_in_a_real_browser() {
    let artefacts = std::path::PathBuf::from(
        std::env::var("FERROSYNC_TEST_ARTEFACTS").expect("FERROSYNC_TEST_ARTEFACTS is not set: run tests/run.sh"),
    );
    let s = Scenario::new("http-console").await;
    s.dsconfig(PEOPLE_ALL);
    let port = free_port();
    enable_http(&s.root, port, "Status Console");
    let _server = go(&s);
    for i in 0..3 {
        s.add_person(&format!("page{i}"), &[]).await;
    }
    eventually("the adds reach the destination", WAIT, || async { s.dst_count("ou=people").await == 3 }).await;
    let url = format!("http://127.0.0.1:{port}/status");
    eventually("the page counts the adds", WAIT, || async {
        get(port, "/status").is_some_and(|(st, body)| st == 200 && body.contains("<td>3 / 0 / 0</td>"))
    })
    .await;
    let dom = chromium(&["--dump-dom"], &url);
    assert!(dom.contains("<h1>ferrosync sync server</h1>"), "{dom}");
    assert!(dom.contains("<b class=\"AVAILABLE\" id=\"server-state\">AVAILABLE</b>"), "{dom}");
    assert!(dom.contains("<h2>Sync pipe p</h2>"), "{dom}");
    assert!(dom.contains("State: <b class=\"AVAILABLE\">running</b>"), "{dom}");
    assert!(dom.contains("<th>Created / modified / deleted</th><td>3 / 0 / 0</td>"), "{dom}");
    assert!(dom.contains("<th>Start point</th><td>changenumber:"), "{dom}");
    assert!(dom.contains("<polyline"), "{dom}");
    std::fs::create_dir_all(&artefacts).unwrap();
    let shot = artefacts.join("status-page.png");
    let _ = std::fs::remove_file(&shot);
    chromium(&[&format!("--screenshot={}", shot.display()), "--window-size=1000,1400"], &url);
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "{} is a screenshot", shot.display());
}
