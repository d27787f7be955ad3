//! The control socket: `logs/control.sock` (mode 0600 in `logs/`, 0700), readable only by the server's user.
//! `status` asks it for the live figures (`GET /live`, a JSON [`MonitorView`]) over HTTP/1.1.

use std::path::PathBuf;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::watch;

use ferrosync::engine::monitor::{Monitor, MonitorView};
use ferrosync::errorlog::{Category, ErrorLog, Severity};
use ferrosync::store::ServerRoot;

use crate::HttpError;

/// Where the control socket of `root` is.
pub fn path(root: &ServerRoot) -> PathBuf {
    root.logs_dir().join("control.sock")
}

/// Serves the control socket until `shutdown` turns true (the caller holds the server root's lock, so a socket
/// file left there is a dead server's and is replaced).
pub async fn serve(root: ServerRoot, monitor: Monitor, mut shutdown: watch::Receiver<bool>) {
    let errors = ErrorLog::of_root(&root);
    let listener = match bind(&root) {
        Ok(l) => l,
        Err(e) => {
            let _ = errors.write(
                Category::Protocol,
                Severity::SevereError,
                None,
                &format!("{e}; status shows the saved figures"),
            );
            return;
        }
    };
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            r = shutdown.changed() => if r.is_err() || *shutdown.borrow() { break },
            c = listener.accept() => {
                let Ok((stream, _)) = c else { continue };
                while connections.try_join_next().is_some() {}
                let monitor = monitor.clone();
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let answer = if req.uri().path() == "/live" {
                            match serde_json::to_string(&monitor.view()) {
                                Ok(json) => crate::serve::reply(200, "application/json", json),
                                Err(e) => crate::serve::reply(500, "text/plain; charset=utf-8", e.to_string()),
                            }
                        } else {
                            crate::serve::reply(404, "text/plain; charset=utf-8", "only /live is served\n".into())
                        };
                        async move { Ok::<_, std::convert::Infallible>(answer) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        }
    }
    drop(listener);
    let _ = std::fs::remove_file(path(&root));
}

fn bind(root: &ServerRoot) -> Result<UnixListener, HttpError> {
    use std::os::unix::fs::PermissionsExt;
    let p = path(root);
    let fail = |source| HttpError::Control { path: p.display().to_string(), source };
    match std::fs::remove_file(&p) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(fail(e)),
    }
    let listener = UnixListener::bind(&p).map_err(fail)?;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).map_err(fail)?;
    Ok(listener)
}

/// The live figures of the server running in `root`, through its control socket.
pub async fn live(root: &ServerRoot) -> Result<MonitorView, HttpError> {
    let p = path(root);
    let fail = |source| HttpError::Control { path: p.display().to_string(), source };
    let stream = UnixStream::connect(&p).await.map_err(fail)?;
    let protocol = |e: hyper::Error| HttpError::ControlProtocol(e.to_string());
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(protocol)?;
    let driver = tokio::spawn(conn);
    let req = hyper::Request::get("/live")
        .header(hyper::header::HOST, "localhost")
        .body(Full::new(Bytes::new()))
        .map_err(|e| HttpError::ControlProtocol(e.to_string()))?;
    let res = sender.send_request(req).await.map_err(protocol)?;
    let status = res.status().as_u16();
    let body = res.into_body().collect().await.map_err(protocol)?.to_bytes();
    driver.abort();
    let text = String::from_utf8_lossy(&body).to_string();
    if status != 200 {
        return Err(HttpError::ControlAnswer { status, body: text });
    }
    serde_json::from_str(&text).map_err(|e| HttpError::ControlProtocol(e.to_string()))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[tokio::test]
    async fn the_socket_is_private_and_answers_the_live_figures() {
        let dir = tempfile::tempdir().unwrap();
        let root = ServerRoot::new(dir.path());
        root.ensure_dirs().unwrap();
        let monitor = Monitor::new();
        monitor.expect(&["p".to_string()]);
        monitor.failed("p", "cannot start: no server");
        let (stop, stopped) = watch::channel(false);
        let server = tokio::spawn(serve(root.clone(), monitor, stopped));
        let mut tries = 0;
        let view = loop {
            match live(&root).await {
                Ok(v) => break v,
                Err(e) if tries < 100 => {
                    tries += 1;
                    let _ = e;
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(view.pipe("p").unwrap().failure.as_deref(), Some("cannot start: no server"));
        let mode = std::fs::metadata(path(&root)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        stop.send(true).unwrap();
        server.await.unwrap();
        assert!(!path(&root).exists(), "the socket is removed when the server stops");
        assert!(live(&root).await.is_err());
    }
}
