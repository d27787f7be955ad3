//! [`EntryStream`]: the entries of a paged search, delivered through a bounded channel.

use std::pin::Pin;
use std::task::{Context, Poll};

use ferrosync::entry::Entry;
use ldap3::{ResultEntry, SearchStream};
use tokio::sync::mpsc;

use crate::convert::entry_from_result_entry;
use crate::error::LdapError;
use crate::pool::LdapPool;

/// The entries of [`LdapClient::search_stream`](crate::LdapClient::search_stream), in the order the server sent
/// them. A background task reads the pages; the channel is bounded, so at most about one page is held in memory
/// when the consumer is slower than the server. An error ends the stream. Dropping it stops the task, which
/// abandons the search on the server.
///
/// Use [`next`](Self::next), or the [`futures_core::Stream`] implementation.
pub struct EntryStream {
    rx: mpsc::Receiver<Result<Entry, LdapError>>,
    server: String,
}

impl EntryStream {
    pub(crate) fn spawn(
        pool: LdapPool,
        base: String,
        stream: SearchStream<'static, String, Vec<String>>,
        first: Option<ResultEntry>,
        page_size: usize,
    ) -> EntryStream {
        let (tx, rx) = mpsc::channel(page_size.clamp(1, 1000));
        let server = pool.label().to_string();
        tokio::spawn(pump(pool, base, stream, first, tx));
        EntryStream { rx, server }
    }

    #[cfg(test)]
    pub(crate) fn closed() -> EntryStream {
        let (_, rx) = mpsc::channel(1);
        EntryStream { rx, server: String::new() }
    }

    /// The next entry; `None` at the end.
    pub async fn next(&mut self) -> Option<Result<Entry, LdapError>> {
        self.rx.recv().await
    }

    /// The server that answers this search (`name (host:port)`).
    pub fn server(&self) -> &str {
        &self.server
    }
}

impl futures_core::Stream for EntryStream {
    type Item = Result<Entry, LdapError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

async fn pump(
    pool: LdapPool,
    base: String,
    mut stream: SearchStream<'static, String, Vec<String>>,
    first: Option<ResultEntry>,
    tx: mpsc::Sender<Result<Entry, LdapError>>,
) {
    let timeout = pool.config().response_timeout;
    // When the first item was already the end, the caller has checked the final result.
    let mut item = first;
    while let Some(re) = item {
        if let Some(entry) = entry_from_result_entry(re) {
            if tx.send(Ok(entry)).await.is_err() {
                // The consumer is gone: stop the search on the server.
                stream.finish().await;
                let id = stream.ldap_handle().last_id();
                let mut ldap = stream.ldap_handle().clone();
                let _ = tokio::time::timeout(timeout, ldap.abandon(id)).await;
                return;
            }
        }
        // ldap3's own per-item timeout is set on the stream; this is the backstop.
        item = match tokio::time::timeout(timeout + timeout / 2, stream.next()).await {
            Ok(Ok(Some(next))) => Some(next),
            Ok(Ok(None)) => {
                // The end: a failed final result (e.g. a size limit) is the last item.
                if let Err(e) = stream.finish().await.success() {
                    let _ = tx.send(Err(pool.op_error(e, "search", &base))).await;
                }
                None
            }
            Ok(Err(e)) => {
                let _ = tx.send(Err(pool.op_error(e, "search", &base))).await;
                None
            }
            Err(_) => {
                let _ = tx.send(Err(pool.response_timeout_error("search", &base))).await;
                None
            }
        };
    }
}
