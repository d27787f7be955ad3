//! [`Doorbell`]: a polled change log that the server rings when it grows.
//!
//! A change log read by polling (OpenLDAP's `cn=accesslog`) is only read once per polling interval, so a change
//! waits half an interval on average. When the log's own database can be followed with RFC 4533 (OpenLDAP's
//! `syncprov` overlay on the accesslog database, which delta-syncrepl needs too), the doorbell keeps a
//! refreshAndPersist search open on it, asking for no attributes, and rings for each log entry the server
//! pushes. The detector then reads the log at once, in its usual way: the doorbell never says *what* changed,
//! so the detector's ordering and start-point guarantees stay exactly those of polling.
//!
//! The search starts from a cookie made of the log's `contextCSN`, so the server sends no old entries. It runs
//! on a dedicated connection in a background task that reconnects with a growing backoff (1 s, doubled up to
//! 30 s) and checks an idle connection every 30 s. When the server refuses the search (no `syncprov` on the
//! log, or the sync user may not use it) the doorbell stops for good, and the detector polls as before. A
//! doorbell that is silent when it should ring (a dead connection not noticed yet) costs at most one polling
//! interval: the detector never waits longer than that. Dropping the doorbell stops the task.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ldap3::asn1::TagClass;
use ldap3::controls::{MakeCritical, RawControl, RefreshMode, SyncRequest};
use ldap3::SearchStream;
use tokio::sync::{watch, Notify};

use crate::error::rc;
use crate::{LdapClient, Scope};

const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
const IDLE_CHECK: Duration = Duration::from_secs(30);

/// Rings when the followed subtree gets a new entry. See the [module documentation](self).
pub struct Doorbell {
    shared: Arc<Shared>,
    _stop: watch::Sender<bool>,
}

struct Shared {
    bell: Notify,
    /// The server refused the search, or the doorbell was dropped: it will not ring again.
    gone: AtomicBool,
}

/// How one search ended.
enum Ended {
    Stopped,
    /// The server refuses the search: no point in asking again.
    Refused,
    Lost {
        progressed: bool,
    },
}

impl Doorbell {
    /// Starts following the entries under `base` that match `filter`, in a background task (call within a Tokio
    /// runtime).
    pub fn start(client: LdapClient, base: &str, filter: &str) -> Doorbell {
        let shared = Arc::new(Shared { bell: Notify::new(), gone: AtomicBool::new(false) });
        let (stop_tx, stop_rx) = watch::channel(false);
        tokio::spawn(run(client, base.to_string(), filter.to_string(), shared.clone(), stop_rx));
        Doorbell { shared, _stop: stop_tx }
    }

    /// Whether the doorbell may ring: false once the server has refused its search. While it is starting or
    /// reconnecting it may not ring for a change, but it rings when its search starts (or stops), so a detector
    /// that waits for it reads the log again then.
    pub fn may_ring(&self) -> bool {
        !self.shared.gone.load(Ordering::Relaxed)
    }

    /// Waits until the doorbell rings, or `at_most`. A ring since the last wait counts: a change logged while the
    /// detector was reading the log is not slept through.
    pub async fn wait(&self, at_most: Duration) {
        let _ = tokio::time::timeout(at_most, self.shared.bell.notified()).await;
    }
}

async fn run(client: LdapClient, base: String, filter: String, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        let ended = follow(&client, &base, &filter, &shared, &mut stop).await;
        if matches!(ended, Ended::Stopped | Ended::Refused) {
            shared.gone.store(true, Ordering::Relaxed);
        }
        // Whatever happened meanwhile, the detector reads the log once more.
        shared.bell.notify_one();
        match ended {
            Ended::Stopped | Ended::Refused => return,
            Ended::Lost { progressed } => {
                if progressed {
                    backoff = FIRST_BACKOFF;
                }
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.changed() => return,
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// The RFC 4533 cookie that stands at the end of the subtree: its `contextCSN` values. `None` when the subtree
/// has none yet (an empty log: following it from the start sends nothing old).
async fn cookie_at_end(client: &LdapClient, base: &str) -> Result<Option<Vec<u8>>, crate::LdapError> {
    let csns = client.get(base, &["contextCSN"]).await?.map(|e| e.texts("contextCSN")).unwrap_or_default();
    Ok(if csns.is_empty() { None } else { Some(format!("rid=000,csn={}", csns.join(";")).into_bytes()) })
}

/// Whether the server lets `client` follow `base` with RFC 4533 (a refreshOnly search from the subtree's end,
/// which sends nothing old): false when it refuses (no `syncprov` there, or no right to use it).
pub async fn available(client: &LdapClient, base: &str, filter: &str) -> Result<bool, crate::LdapError> {
    let cookie = cookie_at_end(client, base).await?;
    client
        .with_connection("search", base, |mut ldap| {
            let (base, filter, cookie) = (base.to_string(), filter.to_string(), cookie.clone());
            async move {
                let ctrl: RawControl =
                    SyncRequest { mode: RefreshMode::RefreshOnly, cookie, reload_hint: false }.critical().into();
                let res = ldap.with_controls(vec![ctrl]).search(&base, Scope::OneLevel, &filter, vec!["1.1"]).await?;
                Ok(res.1.rc == rc::SUCCESS)
            }
        })
        .await
}

/// One search, until it ends.
async fn follow(
    client: &LdapClient,
    base: &str,
    filter: &str,
    shared: &Shared,
    stop: &mut watch::Receiver<bool>,
) -> Ended {
    let cookie = match cookie_at_end(client, base).await {
        Ok(c) => c,
        Err(e) if matches!(e.rc(), Some(rc::NO_SUCH_OBJECT | rc::INSUFFICIENT_ACCESS_RIGHTS)) => return Ended::Refused,
        Err(_) => return Ended::Lost { progressed: false },
    };
    let conn = tokio::select! {
        c = client.dedicated_connection() => c,
        _ = stop.changed() => return Ended::Stopped,
    };
    let Ok(conn) = conn else { return Ended::Lost { progressed: false } };
    let timeout =
        client.pools().nth(conn.server_index).map_or(Duration::from_secs(30), |p| p.config().response_timeout);
    let mut ldap = conn.ldap;
    let ctrl: RawControl =
        SyncRequest { mode: RefreshMode::RefreshAndPersist, cookie, reload_hint: false }.critical().into();
    let started =
        ldap.with_controls(vec![ctrl]).streaming_search(base, Scope::OneLevel, filter, vec!["1.1".to_string()]).await;
    let Ok(mut stream) = started else { return Ended::Lost { progressed: false } };
    let mut progressed = false;
    let ended = loop {
        let item = tokio::select! {
            _ = stop.changed() => {
                crate::contentsync::shutdown(&mut stream, timeout).await;
                return Ended::Stopped;
            }
            r = tokio::time::timeout(IDLE_CHECK, stream.next()) => r,
        };
        match item {
            Err(_) => {
                if !crate::contentsync::answers(&mut stream, timeout).await {
                    break Ended::Lost { progressed };
                }
            }
            Ok(Err(_)) => break Ended::Lost { progressed },
            Ok(Ok(None)) => {
                let res = stream.finish().await;
                // A persistent search that ends with success was not kept open: asking again would not help.
                let refused = matches!(
                    res.rc,
                    rc::SUCCESS
                        | rc::UNAVAILABLE_CRITICAL_EXTENSION
                        | rc::UNWILLING_TO_PERFORM
                        | rc::INSUFFICIENT_ACCESS_RIGHTS
                        | rc::NO_SUCH_OBJECT
                        | rc::PROTOCOL_ERROR
                );
                break if refused { Ended::Refused } else { Ended::Lost { progressed } };
            }
            Ok(Ok(Some(re))) => {
                // Any message means the server took the search (OpenLDAP answers a refused one with its result
                // alone). The first is a ring too: what was logged before the search started is read again.
                if !progressed || (re.0.class == TagClass::Application && re.0.id == 4) {
                    shared.bell.notify_one();
                }
                progressed = true;
            }
        }
    };
    close(&mut stream, timeout).await;
    ended
}

async fn close(stream: &mut SearchStream<'static, String, Vec<String>>, timeout: Duration) {
    let mut handle = stream.ldap_handle().clone();
    let _ = tokio::time::timeout(timeout, handle.unbind()).await;
}
