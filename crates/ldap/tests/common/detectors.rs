//! Helpers of the change detector tests: reading changes of one subtree out of the (global) change logs.
// Helpers of integration tests are not `#[test]` functions, which clippy.toml's allow-*-in-tests covers.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use ferrosync::endpoint::{Change, ChangeDetector, ChangeKind, EndpointError, StartPoint};
use ferrosync::syntax::{dn_equal, Dn};

/// Whether `dn` is `suffix` or below it.
pub fn under(dn: &str, suffix: &str) -> bool {
    match (Dn::parse(dn), Dn::parse(suffix)) {
        (Ok(d), Ok(s)) => d.is_within(&s),
        _ => false,
    }
}

/// Whether a change concerns the subtree `suffix` (by its DN or its new DN).
pub fn ours(c: &Change, suffix: &str) -> bool {
    under(&c.dn, suffix) || c.new_dn.as_deref().is_some_and(|d| under(d, suffix))
}

/// Polls from `token` in batches of `batch` until `done` says the changes of the subtree are complete, or
/// `timeout` passes. Returns the changes of the subtree and the token after the last change read (of any
/// subtree).
pub async fn poll_until(
    det: &dyn ChangeDetector,
    token: StartPoint,
    batch: usize,
    suffix: &str,
    timeout: Duration,
    done: impl Fn(&[Change]) -> bool,
) -> (Vec<Change>, StartPoint) {
    let deadline = Instant::now() + timeout;
    let mut token = token;
    let mut out = Vec::new();
    while !done(&out) {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for the changes of {suffix}; got {}: {:#?}",
            out.len(),
            out.iter().map(|c| (c.kind.name(), c.dn.clone(), c.new_dn.clone(), c.id.clone())).collect::<Vec<_>>()
        );
        let changes = det.poll(&token, batch, Duration::from_millis(300)).await.expect("poll");
        assert!(changes.len() <= batch, "poll returned {} changes for max {batch}", changes.len());
        if let Some(last) = changes.last() {
            token = last.after.clone();
        } else {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        out.extend(changes.into_iter().filter(|c| ours(c, suffix)));
    }
    (out, token)
}

/// Polls until a poll returns nothing; returns every change read and the final token.
pub async fn drain(
    det: &dyn ChangeDetector,
    token: StartPoint,
    batch: usize,
    wait: Duration,
) -> (Vec<Change>, StartPoint) {
    let mut token = token;
    let mut out = Vec::new();
    loop {
        let changes = det.poll(&token, batch, wait).await.expect("poll");
        match changes.last() {
            Some(last) => token = last.after.clone(),
            None => return (out, token),
        }
        out.extend(changes);
    }
}

/// The position of the first change after index `from` matching `pred`; panics with the list when none does.
pub fn find_from(changes: &[Change], from: usize, what: &str, pred: impl Fn(&Change) -> bool) -> usize {
    match changes.iter().skip(from).position(pred) {
        Some(i) => from + i,
        None => panic!(
            "no {what} after position {from} in {:#?}",
            changes
                .iter()
                .map(|c| (c.kind.name(), c.dn.clone(), c.new_dn.clone(), c.changed_attributes.clone()))
                .collect::<Vec<_>>()
        ),
    }
}

pub fn is(c: &Change, kind: ChangeKind, dn: &str) -> bool {
    c.kind == kind && dn_equal(&c.dn, dn)
}

pub fn has_attr(c: &Change, attr: &str) -> bool {
    c.changed_attributes.iter().any(|a| a.eq_ignore_ascii_case(attr))
}

/// Asserts that an error is a configuration error whose message contains every one of `words`.
pub fn assert_config_error<T: std::fmt::Debug>(r: Result<T, EndpointError>, words: &[&str]) {
    match r {
        Err(EndpointError::Config(m)) => {
            for w in words {
                assert!(m.to_lowercase().contains(&w.to_lowercase()), "{w:?} is not in {m:?}");
            }
        }
        other => panic!("expected a configuration error with {words:?}, got {other:?}"),
    }
}

/// A TCP proxy to a server whose connections can be cut, to test reconnection.
pub struct Proxy {
    pub port: u16,
    conns: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(host: &str, port: u16) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let local = listener.local_addr().unwrap().port();
        let conns: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>> = Default::default();
        let target = format!("{host}:{port}");
        let list = conns.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let target = target.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                list.lock().unwrap().push(task);
            }
        });
        Proxy { port: local, conns, accept }
    }

    /// Closes every connection made so far (both sides).
    pub fn cut(&self) {
        for t in self.conns.lock().unwrap().iter() {
            t.abort();
        }
    }

    /// How many connections were accepted so far.
    pub fn accepted(&self) -> usize {
        self.conns.lock().unwrap().len()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}
