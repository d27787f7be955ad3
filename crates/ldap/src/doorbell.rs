//! [`Doorbell`]: a polled change log that the server rings when it grows.
//!
//! A change log read by polling is only read once per polling interval, so a change waits half an interval on
//! average. When the server can push the log's new entries, the doorbell keeps a search open on the log,
//! asking for no attributes, and rings for each entry the server pushes. The detector then reads the log at
//! once, in its usual way: the doorbell never says *what* changed, so the detector's ordering and start-point
//! guarantees stay exactly those of polling. Two kinds of search:
//!
//! * [`Push::ContentSync`]: RFC 4533 refreshAndPersist, for OpenLDAP's `cn=accesslog` with the `syncprov`
//!   overlay (which delta-syncrepl needs too). It starts from a cookie made of the log's `contextCSN`, so the
//!   server sends no old entries, and the server's first message (the end of the refresh) rings too: what was
//!   logged before the search started is read again.
//! * [`Push::PersistentSearch`]: the persistent search control (draft-ietf-ldapext-psearch,
//!   `2.16.840.1.113730.3.4.3`) for added entries only, changes only, for `cn=changelog` on 389 DS and the other
//!   servers that support it. The server sends nothing when the search starts, so the doorbell rings once when
//!   it has sent the request: a change logged while the server registers the search waits at most one interval.
//!
//! The search runs on a dedicated connection in a background task that reconnects with a growing backoff (1 s,
//! doubled up to 30 s) and checks an idle connection every 30 s. When the server refuses the search (no
//! `syncprov` on the log, no persistent search, or the sync user may not use it) the doorbell stops for good,
//! and the detector polls as before. A
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

/// How the server is asked to push.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Push {
    /// RFC 4533 refreshAndPersist from the subtree's `contextCSN`.
    ContentSync,
    /// The persistent search control, for added entries.
    PersistentSearch,
}

/// The persistent search control's OID.
const PSEARCH_OID: &str = "2.16.840.1.113730.3.4.3";
/// Its value: SEQUENCE { changeTypes INTEGER 1 (add), changesOnly TRUE, returnECs FALSE }.
const PSEARCH_ADDS: [u8; 11] = [0x30, 0x09, 0x02, 0x01, 0x01, 0x01, 0x01, 0xff, 0x01, 0x01, 0x00];

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
    /// Starts following the entries under `base` (one level) that match `filter`, in a background task (call
    /// within a Tokio runtime).
    pub fn start(client: LdapClient, push: Push, base: &str, filter: &str) -> Doorbell {
        let shared = Arc::new(Shared { bell: Notify::new(), gone: AtomicBool::new(false) });
        let (stop_tx, stop_rx) = watch::channel(false);
        let search = Search { push, base: base.to_string(), filter: filter.to_string() };
        tokio::spawn(run(client, search, shared.clone(), stop_rx));
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

/// What the doorbell searches.
struct Search {
    push: Push,
    base: String,
    filter: String,
}

async fn run(client: LdapClient, search: Search, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        let ended = follow(&client, &search, &shared, &mut stop).await;
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

/// The control that asks the server to push.
async fn push_control(client: &LdapClient, search: &Search) -> Result<RawControl, Ended> {
    match search.push {
        Push::ContentSync => {
            let cookie = match cookie_at_end(client, &search.base).await {
                Ok(c) => c,
                Err(e) if matches!(e.rc(), Some(rc::NO_SUCH_OBJECT | rc::INSUFFICIENT_ACCESS_RIGHTS)) => {
                    return Err(Ended::Refused)
                }
                Err(_) => return Err(Ended::Lost { progressed: false }),
            };
            Ok(SyncRequest { mode: RefreshMode::RefreshAndPersist, cookie, reload_hint: false }.critical().into())
        }
        Push::PersistentSearch => {
            Ok(RawControl { ctype: PSEARCH_OID.to_string(), crit: true, val: Some(PSEARCH_ADDS.to_vec()) })
        }
    }
}

/// One search, until it ends.
async fn follow(client: &LdapClient, search: &Search, shared: &Shared, stop: &mut watch::Receiver<bool>) -> Ended {
    let ctrl = match push_control(client, search).await {
        Ok(c) => c,
        Err(ended) => return ended,
    };
    let conn = tokio::select! {
        c = client.dedicated_connection() => c,
        _ = stop.changed() => return Ended::Stopped,
    };
    let Ok(conn) = conn else { return Ended::Lost { progressed: false } };
    let timeout =
        client.pools().nth(conn.server_index).map_or(Duration::from_secs(30), |p| p.config().response_timeout);
    let mut ldap = conn.ldap;
    let started = ldap
        .with_controls(vec![ctrl])
        .streaming_search(&search.base, Scope::OneLevel, &search.filter, vec!["1.1".to_string()])
        .await;
    let Ok(mut stream) = started else { return Ended::Lost { progressed: false } };
    if search.push == Push::PersistentSearch {
        // The server says nothing until a change: what was logged before it registered the search is read now.
        shared.bell.notify_one();
    }
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
