//! A resync's requests: at most the pipe's worker count in flight, and the creates sent in SCIM Bulk requests
//! (RFC 7644 section 3.7) when the service's `/ServiceProviderConfig` says `bulk.supported`.
//!
//! Each create still looks first (correlation, from the resync's index), then its POST operation is queued.
//! One sender takes what is queued whenever a request slot is free, up to the service's `maxOperations` (at
//! most [`MAX_BATCH`]) and within its `maxPayloadSize`, and sends it as one Bulk request: while the slots are
//! busy the queue fills, so batches grow with the load and nothing waits for a batch to fill. Every operation
//! has its own `bulkId` and its own outcome: a failed operation fails that entry alone, with the service's
//! SCIM error (a 409 is handled as a single POST's is: correlate and update, else the error). A service that
//! refuses the Bulk request itself (404, 405, 413, 501) gets that batch and every later create as single POSTs.
//! Creates of resources with members (groups) are not bulked: they wait until the queued creates are done
//! (so their members are found), then are sent on their own.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use ferrosync::endpoint::{EndpointError, EndpointResult};
use ferrosync::entry::Entry;
use serde_json::{json, Value as Json};
use tokio::sync::{mpsc, oneshot, Notify, Semaphore};

use crate::destination::Inner;
use crate::http::{status_error, Resp};

/// The most operations in one Bulk request, whatever the service allows.
pub(crate) const MAX_BATCH: usize = 200;
/// `maxPayloadSize` when the service does not say (RFC 7644 requires it; 1 MiB is what services give).
pub(crate) const DEFAULT_PAYLOAD: usize = 1024 * 1024;
const BULK_REQ: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
/// The bytes of a Bulk request around its operations: `{"schemas":["..."],"Operations":[` and `]}`.
fn envelope_len() -> usize {
    json!({"schemas": [BULK_REQ], "Operations": []}).to_string().len()
}

/// What the service's `/ServiceProviderConfig` says of Bulk.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct BulkLimits {
    pub(crate) supported: bool,
    pub(crate) max_operations: usize,
    pub(crate) max_payload: usize,
}

impl BulkLimits {
    pub(crate) fn from_config(spc: &Json) -> BulkLimits {
        let b = spc.get("bulk");
        let supported = b.and_then(|b| b.get("supported")).and_then(Json::as_bool).unwrap_or(false);
        let num = |k: &str| b.and_then(|b| b.get(k)).and_then(Json::as_u64).map(|n| n as usize);
        BulkLimits {
            supported,
            max_operations: num("maxOperations").unwrap_or(MAX_BATCH).clamp(1, MAX_BATCH),
            max_payload: num("maxPayloadSize").filter(|&n| n > 0).unwrap_or(DEFAULT_PAYLOAD),
        }
    }
}

/// One queued create.
pub(crate) struct Op {
    pub(crate) ep: usize,
    pub(crate) entry: Entry,
    pub(crate) body: Json,
    /// The operation as sent (`method`, `path`, `bulkId`, `data`), and its length.
    pub(crate) json: Json,
    pub(crate) len: usize,
    pub(crate) done: oneshot::Sender<EndpointResult<()>>,
}

/// The state of a resync: the request slots, and the Bulk queue when the service takes Bulk requests.
pub(crate) struct Resync {
    pub(crate) slots: Arc<Semaphore>,
    pub(crate) bulk: Option<Queue>,
}

/// The queue of creates and what tracks them.
#[derive(Clone)]
pub(crate) struct Queue {
    pub(crate) tx: mpsc::UnboundedSender<Op>,
    pub(crate) limits: BulkLimits,
    pub(crate) outstanding: Arc<Outstanding>,
    /// Set when the service refused a Bulk request: single POSTs from then on.
    pub(crate) off: Arc<AtomicBool>,
    next_id: Arc<AtomicU64>,
}

/// How many queued creates are not done yet, and a wake-up when there are none.
#[derive(Default)]
pub(crate) struct Outstanding {
    n: AtomicUsize,
    zero: Notify,
}

impl Outstanding {
    pub(crate) fn add(&self) {
        self.n.fetch_add(1, Ordering::SeqCst);
    }
    pub(crate) fn done(&self) {
        if self.n.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.zero.notify_waiters();
        }
    }
    /// Waits until no queued create is outstanding.
    pub(crate) async fn drained(&self) {
        loop {
            let woken = self.zero.notified();
            if self.n.load(Ordering::SeqCst) == 0 {
                return;
            }
            woken.await;
        }
    }
}

impl Queue {
    /// The queue and its sender task, which holds a request slot of `slots` for each Bulk request in flight.
    pub(crate) fn start(inner: Arc<Inner>, limits: BulkLimits, slots: Arc<Semaphore>) -> Queue {
        let (tx, rx) = mpsc::unbounded_channel();
        let q = Queue {
            tx,
            limits,
            outstanding: Arc::default(),
            off: Arc::new(AtomicBool::new(false)),
            next_id: Arc::new(AtomicU64::new(1)),
        };
        tokio::spawn(sender(inner, rx, limits, slots, q.off.clone()));
        q
    }

    /// The operation that creates `body` at `path`, and its length; `None` when it alone would not fit in a
    /// Bulk request (it is then sent on its own).
    pub(crate) fn operation(&self, path: &str, body: &Json) -> Option<(Json, usize)> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let op = json!({
            "method": "POST",
            "bulkId": format!("c{id}"),
            "path": format!("/{}", path.trim_start_matches('/')),
            "data": body,
        });
        let len = op.to_string().len();
        (envelope_len() + len <= self.limits.max_payload).then_some((op, len))
    }
}

/// Takes what is queued whenever a request slot is free, and sends it as one Bulk request (on the blocking
/// pool, as every request of this destination is).
async fn sender(
    inner: Arc<Inner>,
    mut rx: mpsc::UnboundedReceiver<Op>,
    limits: BulkLimits,
    slots: Arc<Semaphore>,
    off: Arc<AtomicBool>,
) {
    let envelope = envelope_len();
    let mut carry: Option<Op> = None;
    loop {
        let first = match carry.take() {
            Some(op) => op,
            None => match rx.recv().await {
                Some(op) => op,
                None => return,
            },
        };
        let Ok(slot) = slots.clone().acquire_owned().await else {
            let _ = first.done.send(Err(EndpointError::Retryable("the resync is over".into())));
            return;
        };
        let mut bytes = envelope + first.len;
        let mut batch = vec![first];
        while batch.len() < limits.max_operations {
            match rx.try_recv() {
                Ok(op) => {
                    if bytes + 1 + op.len > limits.max_payload {
                        carry = Some(op);
                        break;
                    }
                    bytes += 1 + op.len;
                    batch.push(op);
                }
                Err(_) => break,
            }
        }
        let (inner, off) = (inner.clone(), off.clone());
        tokio::spawn(async move {
            // A panic drops the batch's senders: each create then fails with "the Bulk sender stopped".
            let _ = tokio::task::spawn_blocking(move || inner.send_bulk(batch, &off)).await;
            drop(slot);
        });
    }
}

/// The status of a Bulk response operation: a string by RFC 7644, a number from some services.
fn status_of(a: &Json) -> Option<u16> {
    match a.get("status")? {
        Json::String(s) => s.trim().get(..3).and_then(|c| c.parse().ok()),
        Json::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
        _ => None,
    }
}

/// The id of a created resource: the last segment of its `location`, or its `response.id`.
fn created_id(a: &Json) -> Option<String> {
    if let Some(id) = a.pointer("/response/id").and_then(Json::as_str) {
        return Some(id.to_string());
    }
    let loc = a.get("location").and_then(Json::as_str)?;
    let seg = loc.trim_end_matches('/').rsplit('/').next()?;
    (!seg.is_empty()).then(|| seg.to_string())
}

impl Inner {
    /// Sends `ops` as one Bulk request and hands each create its own outcome.
    pub(crate) fn send_bulk(&self, ops: Vec<Op>, off: &AtomicBool) {
        if off.load(Ordering::Relaxed) {
            return self.singly(ops);
        }
        let operations: Vec<Json> = ops.iter().map(|o| o.json.clone()).collect();
        let n = operations.len();
        let req = json!({"schemas": [BULK_REQ], "Operations": operations});
        let r = match self.http.send("POST", "Bulk", Some(&req), None) {
            Ok(r) => r,
            Err(e) => {
                let msg = e.to_string();
                for op in ops {
                    let _ = op.done.send(Err(same_kind(&e, msg.clone())));
                }
                return;
            }
        };
        if r.status != 200 {
            if matches!(r.status, 404 | 405 | 413 | 501) {
                off.store(true, Ordering::Relaxed);
                self.warn_bulk_refused(r.status, n);
                return self.singly(ops);
            }
            let e = status_error("POST", &format!("Bulk ({n} operations)"), None, &r);
            let msg = e.to_string();
            for op in ops {
                let _ = op.done.send(Err(same_kind(&e, msg.clone())));
            }
            return;
        }
        let j = r.json();
        let answers: HashMap<String, Json> = j
            .get("Operations")
            .and_then(Json::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.get("bulkId").and_then(Json::as_str).map(|id| (id.to_string(), x.clone())))
                    .collect()
            })
            .unwrap_or_default();
        for op in ops {
            let id = op.json.get("bulkId").and_then(Json::as_str).unwrap_or_default().to_string();
            let path = op.json.get("path").and_then(Json::as_str).unwrap_or_default().to_string();
            let what = format!("Bulk POST {path} (bulkId {id})");
            let result = match answers.get(&id) {
                None => Err(EndpointError::Retryable(format!(
                    "{what}: the Bulk response says nothing of this operation: {}",
                    crate::http::redact(&r.body)
                ))),
                Some(a) => {
                    let resp = || Resp {
                        status: status_of(a).unwrap_or(0),
                        etag: None,
                        body: a.get("response").map(Json::to_string).unwrap_or_default(),
                    };
                    match status_of(a) {
                        Some(200 | 201) => match created_id(a) {
                            Some(rid) => {
                                self.created_unread(op.ep, &op.entry, rid, &op.body);
                                Ok(())
                            }
                            None => Err(EndpointError::Retryable(format!(
                                "{what}: created, but the answer gives no location: {a}"
                            ))),
                        },
                        Some(409) => self.conflict(&op.entry, || status_error("POST", &what, Some(&op.body), &resp())),
                        _ => Err(status_error("POST", &what, Some(&op.body), &resp())),
                    }
                }
            };
            let _ = op.done.send(result);
        }
    }

    /// Sends each create of `ops` as a POST of its own.
    fn singly(&self, ops: Vec<Op>) {
        for op in ops {
            let result = self.post_one(op.ep, &op.entry, op.body);
            let _ = op.done.send(result);
        }
    }
}

/// An error like `e` (for each create of a failed Bulk request).
fn same_kind(e: &EndpointError, msg: String) -> EndpointError {
    match e {
        EndpointError::Unavailable(_) => EndpointError::Unavailable(msg),
        EndpointError::Config(_) => EndpointError::Config(msg),
        EndpointError::Rejected(_) => EndpointError::Rejected(msg),
        EndpointError::AlreadyExists(_) => EndpointError::AlreadyExists(msg),
        EndpointError::MissingParent(_) => EndpointError::MissingParent(msg),
        _ => EndpointError::Retryable(msg),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_come_from_the_service_provider_config() {
        let l = BulkLimits::from_config(
            &json!({"bulk": {"supported": true, "maxOperations": 1000, "maxPayloadSize": 1048576}}),
        );
        assert!(l.supported);
        assert_eq!((l.max_operations, l.max_payload), (MAX_BATCH, 1048576));
        let l = BulkLimits::from_config(&json!({"bulk": {"supported": true, "maxOperations": 10}}));
        assert_eq!((l.max_operations, l.max_payload), (10, DEFAULT_PAYLOAD));
        assert!(!BulkLimits::from_config(&json!({"patch": {"supported": true}})).supported);
    }

    #[test]
    fn operation_status_and_id() {
        let a = json!({"status": "201", "location": "https://x/v2/Users/abc", "bulkId": "c1"});
        assert_eq!((status_of(&a), created_id(&a).as_deref()), (Some(201), Some("abc")));
        let a = json!({"status": 409, "response": {"status": "409"}});
        assert_eq!((status_of(&a), created_id(&a)), (Some(409), None));
        let a = json!({"status": "201 Created", "response": {"id": "x1"}});
        assert_eq!((status_of(&a), created_id(&a).as_deref()), (Some(201), Some("x1")));
    }
}
