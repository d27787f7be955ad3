//! ferrosync's HTTP side: what the sync server serves, as PingDataSync's connection handlers do.
//!
//! | concern | module |
//! |---|---|
//! | the enabled HTTP and HTTPS Connection Handlers, following the configuration: bind, serve, report | [`serve`] |
//! | the Prometheus Monitoring extension: OpenMetrics text from the live figures | [`metrics`] |
//! | the Available State and Available or Degraded State extensions | [`health`] |
//! | the Status Console extension: ferrosync's status page | [`console`] |
//! | HTTPS: the key manager provider's PEM certificate and key | [`tls`] |
//! | the control socket (`logs/control.sock`, 0600) that `status` asks for live figures | [`control`] |

pub mod console;
pub mod control;
pub mod health;
pub mod metrics;
pub mod serve;
pub mod tls;

use std::sync::Arc;

use ferrosync::config::Config;
use ferrosync::engine::monitor::{Monitor, SAMPLE_EVERY};
use ferrosync::store::ServerRoot;
use tokio::sync::watch;

/// Why a handler or the control socket does not serve; the text names the object and the property at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    #[error("the {handler} cannot listen on {address}: {source}")]
    Bind { handler: String, address: String, source: std::io::Error },
    #[error("the {handler}: {reason}")]
    Config { handler: String, reason: String },
    #[error("the {handler}: HTTPS: {reason}")]
    Tls { handler: String, reason: String },
    #[error("the control socket {path}: {source}")]
    Control { path: String, source: std::io::Error },
    #[error("the control socket answered {status}: {body}")]
    ControlAnswer { status: u16, body: String },
    #[error("the control socket's answer: {0}")]
    ControlProtocol(String),
}

/// Runs the server's HTTP side until `shutdown` turns true: the connection handlers (following each
/// configuration the supervisor loads), the control socket and the history sampler.
pub async fn run(
    root: ServerRoot,
    monitor: Monitor,
    configs: watch::Receiver<Arc<Config>>,
    shutdown: watch::Receiver<bool>,
) {
    let handlers = serve::Handlers::new(root.clone(), monitor.clone());
    let control = control::serve(root, monitor.clone(), shutdown.clone());
    let mut stop = shutdown.clone();
    let sampler = async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(SAMPLE_EVERY) => monitor.sample(),
                r = stop.changed() => if r.is_err() || *stop.borrow() { break },
            }
        }
    };
    tokio::join!(handlers.run(configs, shutdown), control, sampler);
}
