//! Wrong credentials, refused connections, hung servers, failover and retries.
// Helpers of integration tests are not `#[test]` functions, which clippy.toml's allow-*-in-tests covers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{hung_server, quick_options, TestServer};
use ferrosync::secret::Secret;
use ferrosync_ldap::{ClientOptions, ErrorClass, LdapClient, LdapError, RetryPolicy, Scope, ServerConfig, TimeoutKind};

const WRONG: &str = "Wr0ng-Passw0rd-4711";

async fn wrong_password(server: TestServer) {
    let config = server.config().with_bind(server.bind_dn.clone(), Secret::new(WRONG));
    let client = LdapClient::new(vec![config], quick_options()).unwrap();
    let started = Instant::now();
    let err = client.search(&server.base_dn, Scope::Base, "(objectClass=*)", &[]).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2), "not retried: {:?}", started.elapsed());
    assert!(matches!(err, LdapError::Bind { rc: 49, .. }), "{err:?}");
    assert_eq!(err.class(), ErrorClass::Fatal);
    let text = err.to_string();
    assert!(text.contains("the bind DN or password for LDAP server"), "{text}");
    assert!(text.contains(&format!("{}:{}", server.host, server.port)), "{text}");
    assert!(text.contains("rc=49 (invalidCredentials)"), "{text}");
    assert!(!text.contains(WRONG) && !format!("{err:?}").contains(WRONG), "{text}");
    let err = client.check_bind().await.unwrap_err();
    assert_eq!(err.rc(), Some(49));
}

#[tokio::test]
async fn wrong_password_openldap() {
    wrong_password(common::openldap()).await;
}

#[tokio::test]
async fn wrong_password_389() {
    wrong_password(common::ds389()).await;
}

#[tokio::test]
async fn empty_password_is_refused_before_connecting() {
    let s = common::openldap();
    let config = s.config().with_bind(s.bind_dn.clone(), Secret::new(""));
    let err = LdapClient::single(config).err().unwrap();
    assert!(matches!(err, LdapError::Config { .. }), "{err}");
}

fn closed_port(name: &str) -> ServerConfig {
    ServerConfig::new(name, "127.0.0.1", 1).with_bind("cn=x", Secret::new("y"))
}

#[tokio::test]
async fn connection_refused() {
    let options = ClientOptions { retry: RetryPolicy::no_retries(), ..ClientOptions::default() };
    let client = LdapClient::new(vec![closed_port("nowhere")], options).unwrap();
    let err = client.get("dc=example,dc=com", &[]).await.unwrap_err();
    assert!(matches!(err, LdapError::Connect { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.starts_with("cannot connect to LDAP server nowhere (127.0.0.1:1): "), "{text}");
    assert!(text.contains("Connection refused"), "{text}");
    assert!(text.contains("Hint: nothing is listening there"), "{text}");
    assert!(!client.status()[0].available);
}

#[tokio::test]
async fn unknown_host() {
    let options = ClientOptions { retry: RetryPolicy::no_retries(), ..ClientOptions::default() };
    let config = ServerConfig::new("bad", "no-such-host.invalid", 389);
    let err = LdapClient::new(vec![config], options).unwrap().check_bind().await.unwrap_err();
    assert!(matches!(err, LdapError::Connect { .. }), "{err:?}");
    assert!(err.to_string().contains("no-such-host.invalid:389"), "{err}");
}

/// First server a closed port, second the real one: operations succeed on the second, and the first then
/// cools down.
#[tokio::test]
async fn failover_to_second_server() {
    for s in [common::openldap(), common::ds389()] {
        let client = LdapClient::new(vec![closed_port("dead"), s.config()], quick_options()).unwrap();
        assert!(client.check_bind().await.unwrap().contains(s.kind));
        let entry = client.get(&s.base_dn, &[]).await.unwrap().unwrap();
        assert!(entry.dn.eq_ignore_ascii_case(&s.base_dn));
        let status = client.status();
        assert!(!status[0].available && status[1].available, "{status:?}");
        let root = common::make_subtree(&client, &s, "failover").await;
        let mut stream = client.search_stream(&root, Scope::Subtree, "(objectClass=*)", &[], 10).await.unwrap();
        assert!(stream.server().contains(s.kind));
        assert_eq!(stream.next().await.unwrap().unwrap().dn.to_ascii_lowercase(), root.to_ascii_lowercase());
        common::delete_subtree(&client, &root).await;
    }
}

#[tokio::test]
async fn all_servers_failed() {
    let client = LdapClient::new(
        vec![closed_port("a"), closed_port("b")],
        ClientOptions { retry: RetryPolicy::no_retries(), ..ClientOptions::default() },
    )
    .unwrap();
    let err = client.delete("uid=x,dc=example,dc=com").await.unwrap_err();
    let LdapError::AllServersFailed { failures, .. } = &err else { panic!("{err:?}") };
    assert_eq!(failures.len(), 2);
    let text = err.to_string();
    assert!(text.starts_with("delete of \"uid=x,dc=example,dc=com\" failed on all 2 LDAP servers: [1] cannot connect to LDAP server a (127.0.0.1:1)"), "{text}");
    assert!(text.contains("[2] cannot connect to LDAP server b (127.0.0.1:1)"), "{text}");
}

/// A server that accepts the connection and never answers: an anonymous operation times out after the
/// response timeout, and is retried up to max_attempts with the backoff.
#[tokio::test]
async fn hung_server_response_timeout() {
    let (port, task) = hung_server().await;
    let config =
        ServerConfig::new("hung", "127.0.0.1", port).with_timeouts(Duration::from_secs(2), Duration::from_millis(300));
    let options = ClientOptions { retry: RetryPolicy::no_retries(), ..ClientOptions::default() };
    let client = LdapClient::new(vec![config.clone()], options).unwrap();
    let started = Instant::now();
    let err = client.search("dc=example,dc=com", Scope::Base, "(objectClass=*)", &[]).await.unwrap_err();
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(290) && took < Duration::from_millis(1500), "{took:?}");
    assert!(matches!(err, LdapError::Timeout { kind: TimeoutKind::Response, .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "search of \"dc=example,dc=com\" on LDAP server hung (127.0.0.1:{port}) timed out: no answer within the \
             response timeout of 300 ms"
        )
    );

    // 3 attempts, waits of 50 and 100 ms: about 3 x 300 + 150 ms
    let client = LdapClient::new(vec![config.clone()], quick_options()).unwrap();
    let started = Instant::now();
    let err = client.get("dc=example,dc=com", &[]).await.unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err, LdapError::Timeout { kind: TimeoutKind::Response, .. }), "{err:?}");
    assert!(took >= Duration::from_millis(1000) && took < Duration::from_millis(3000), "{took:?}");

    // the paged stream times out too
    let client =
        LdapClient::new(vec![config], ClientOptions { retry: RetryPolicy::no_retries(), ..ClientOptions::default() })
            .unwrap();
    let started = Instant::now();
    let err =
        client.search_stream("dc=example,dc=com", Scope::Subtree, "(objectClass=*)", &[], 100).await.err().unwrap();
    assert!(matches!(err, LdapError::Timeout { kind: TimeoutKind::Response, .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_millis(1500));
    task.abort();
}

/// With a bind DN, the hang happens in the bind: the connect timeout applies, and the client fails over.
#[tokio::test]
async fn hung_server_connect_timeout_and_failover() {
    let s = common::openldap();
    let (port, task) = hung_server().await;
    let hung = ServerConfig::new("hung", "127.0.0.1", port)
        .with_bind("cn=admin", Secret::new("x"))
        .with_timeouts(Duration::from_millis(400), Duration::from_secs(5));

    let options = ClientOptions { retry: RetryPolicy::no_retries(), ..ClientOptions::default() };
    let alone = LdapClient::new(vec![hung.clone()], options.clone()).unwrap();
    let started = Instant::now();
    let err = alone.check_bind().await.unwrap_err();
    assert!(started.elapsed() < Duration::from_millis(1500));
    assert!(matches!(err, LdapError::Timeout { kind: TimeoutKind::Connect, .. }), "{err:?}");
    assert!(err.to_string().contains("connect timeout of 400 ms"), "{err}");

    let client = LdapClient::new(vec![hung.clone(), s.config()], options.clone()).unwrap();
    let started = Instant::now();
    assert!(client.get(&s.base_dn, &[]).await.unwrap().is_some());
    let first = started.elapsed();
    assert!(first >= Duration::from_millis(390), "{first:?}");
    // the hung server is cooling down: the next operation goes straight to the second server
    let started = Instant::now();
    assert!(client.get(&s.base_dn, &[]).await.unwrap().is_some());
    assert!(started.elapsed() < Duration::from_millis(300), "{:?}", started.elapsed());

    // without a cool-down, the first server is tried again each time
    let no_cooldown = ClientOptions { failover_cooldown: Duration::ZERO, ..options };
    let client = LdapClient::new(vec![hung, s.config()], no_cooldown).unwrap();
    for _ in 0..2 {
        let started = Instant::now();
        assert!(client.get(&s.base_dn, &[]).await.unwrap().is_some());
        assert!(started.elapsed() >= Duration::from_millis(390));
    }
    task.abort();
}
