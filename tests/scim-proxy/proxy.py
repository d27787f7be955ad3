#!/usr/bin/env python3
"""A gateway in front of a real SCIM 2.0 server, for ferrosync's tests and benchmarks (Python 3 stdlib only).

It forwards every request below /scim/ to the upstream SCIM service (adding the upstream's bearer token) and
adds what the test servers don't do by themselves:

  * throttling: answers 429 with Retry-After for the next N requests, or for a time window;
  * outages: answers 503 (or another status) for a time window, and then the next phase (e.g. 429s);
  * authorization modes in front of a bearer-only server, as an API gateway would:
      - `Authorization: Bearer <upstream token>`         passed through (static bearer token);
      - `Authorization: Basic <user:password>`            the configured basic credentials;
      - `Authorization: Bearer <token from /oauth/token>` an OAuth 2.0 client-credentials token it issued
        (POST /oauth/token, client id and secret in a Basic header or in the form; tokens expire);
    anything else gets 401;
  * counting: requests by method, 429s answered, tokens issued.

Usage: proxy.py --upstream URL --upstream-token TOKEN [--port 0] [--basic USER:PASSWORD]
                [--client ID:SECRET] [--token-ttl SECONDS] [--tls-cert PEM --tls-key PEM]
Prints `PORT=<port>` on stdout once it listens (port 0 picks a free one), then serves until killed.
The SCIM base URL is http://127.0.0.1:PORT/scim ; the token endpoint http://127.0.0.1:PORT/oauth/token (https://
with --tls-cert: the tests serve it with the throwaway CA of tests/servers/make-https-ca.sh).

Admin (no auth):
  POST /admin/throttle {"requests": N, "seconds": S, "retry_after": "1"}   429 for the next N SCIM requests
                                                                          and/or for S seconds
  POST /admin/outage {"phases": [{"seconds": 30, "status": 503},            each phase answers its status
                                 {"seconds": 10, "status": 429, "retry_after": "1"}]}   to every SCIM request
                                                                          for its seconds, one after the other
  POST /admin/expire-tokens                                               issued tokens stop working (401)
  GET  /admin/stats   {"requests": N, "by_method": {"GET": N, ...}, "searches_get": N (GET with a filter),
                       "searches_post": N (POST .../.search), "throttled": N (429s),
                       "unavailable": N (other statuses of an outage), "outage_status": the status answered now or 0, "tokens_issued": N, "unauthorized": N,
                       "bulk_requests": N (POST .../Bulk), "bulk_operations": N (operations in them),
                       "in_flight_max": N (the most SCIM requests being answered at once),
                       "connections": N (TCP connections accepted)}
  POST /admin/reset-stats
"""
import argparse
import base64
import http.client
import json
import secrets
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

LOCK = threading.Lock()
STATE = {
    "throttle_requests": 0,
    "throttle_until": 0.0,
    "retry_after": "1",
    "tokens": {},  # token -> expiry time
    "phases": [],  # (until, status, retry_after) of an outage, in order
}
ZERO = {"requests": 0, "by_method": {}, "searches_get": 0, "searches_post": 0, "throttled": 0, "tokens_issued": 0,
        "unauthorized": 0, "unavailable": 0, "bulk_requests": 0, "bulk_operations": 0, "in_flight_max": 0,
        "connections": 0}
IN_FLIGHT = [0]
STATS = json.loads(json.dumps(ZERO))
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host",
               "authorization", "content-length", "proxy-authorization", "proxy-connection"}


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    opts = None

    def log_message(self, fmt, *args):
        pass

    def setup(self):
        with LOCK:
            STATS["connections"] += 1
        super().setup()

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def answer(self, status, obj=None, headers=None, raw=None, ctype="application/json"):
        data = raw if raw is not None else (json.dumps(obj).encode() if obj is not None else b"")
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if data:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def scim_error(self, status, detail, headers=None):
        self.answer(status, {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": str(status),
                             "detail": detail}, headers, ctype="application/scim+json")

    # --- admin -----------------------------------------------------------------------------------------------
    def admin(self, method, path, body):
        if path == "/admin/stats" and method == "GET":
            with LOCK:
                phase = outage_phase()
                return self.answer(200, dict(STATS, outage_status=phase[1] if phase else 0))
        if path == "/admin/reset-stats" and method == "POST":
            with LOCK:
                STATS.update(json.loads(json.dumps(ZERO)))
            return self.answer(204)
        if path == "/admin/throttle" and method == "POST":
            j = json.loads(body or b"{}")
            with LOCK:
                STATE["throttle_requests"] = int(j.get("requests") or 0)
                STATE["throttle_until"] = time.time() + float(j.get("seconds") or 0)
                STATE["retry_after"] = j.get("retry_after", "1")
            return self.answer(204)
        if path == "/admin/outage" and method == "POST":
            j = json.loads(body or b"{}")
            with LOCK:
                until = time.time()
                STATE["phases"] = []
                for ph in j.get("phases") or []:
                    until += float(ph.get("seconds") or 0)
                    STATE["phases"].append((until, int(ph.get("status") or 503), ph.get("retry_after")))
            return self.answer(204)
        if path == "/admin/expire-tokens" and method == "POST":
            with LOCK:
                STATE["tokens"].clear()
            return self.answer(204)
        return self.answer(404, {"error": "no such admin endpoint"})

    # --- OAuth -----------------------------------------------------------------------------------------------
    def token(self, body):
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        cid, secret = form.get("client_id"), form.get("client_secret")
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            try:
                cid, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                cid = None
        if form.get("grant_type") != "client_credentials":
            return self.answer(400, {"error": "unsupported_grant_type"})
        if not self.opts.client or (cid, secret) != self.opts.client:
            return self.answer(401, {"error": "invalid_client"})
        t = secrets.token_urlsafe(24)
        with LOCK:
            STATE["tokens"][t] = time.time() + self.opts.token_ttl
            STATS["tokens_issued"] += 1
        return self.answer(200, {"access_token": t, "token_type": "Bearer", "expires_in": self.opts.token_ttl})

    def authorized(self):
        auth = self.headers.get("Authorization", "")
        if auth == "Bearer " + self.opts.upstream_token:
            return True
        if auth.startswith("Basic ") and self.opts.basic:
            try:
                user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                return False
            return (user, pw) == self.opts.basic
        if auth.startswith("Bearer "):
            with LOCK:
                exp = STATE["tokens"].get(auth[7:])
            return exp is not None and exp > time.time()
        return False

    # --- SCIM ------------------------------------------------------------------------------------------------
    def handle_any(self):
        url = urlsplit(self.path)
        body = self.body()
        if url.path.startswith("/admin/"):
            return self.admin(self.command, url.path, body)
        if url.path == "/oauth/token" and self.command == "POST":
            return self.token(body)
        if not url.path.startswith("/scim/"):
            return self.answer(404, {"error": "not below /scim/"})
        with LOCK:
            STATS["requests"] += 1
            STATS["by_method"][self.command] = STATS["by_method"].get(self.command, 0) + 1
            if self.command == "GET" and "filter=" in url.query:
                STATS["searches_get"] += 1
            if self.command == "POST" and url.path.endswith("/.search"):
                STATS["searches_post"] += 1
            if self.command == "POST" and url.path.rstrip("/").endswith("/Bulk"):
                STATS["bulk_requests"] += 1
                try:
                    STATS["bulk_operations"] += len(json.loads(body or b"{}").get("Operations") or [])
                except ValueError:
                    pass
            throttled = STATE["throttle_requests"] > 0 or time.time() < STATE["throttle_until"]
            if STATE["throttle_requests"] > 0:
                STATE["throttle_requests"] -= 1
            if throttled:
                STATS["throttled"] += 1
            retry_after = STATE["retry_after"]
            phase = None if throttled else outage_phase()
            if phase:
                STATS["throttled" if phase[1] == 429 else "unavailable"] += 1
        if phase:
            _, status, after = phase
            return self.scim_error(status, "Service unavailable" if status != 429 else "Too many requests",
                                   {"Retry-After": after} if after else None)
        if throttled:
            return self.scim_error(429, "Too many requests", {"Retry-After": retry_after} if retry_after else None)
        if not self.authorized():
            with LOCK:
                STATS["unauthorized"] += 1
            return self.scim_error(401, "Authorization failed", {"WWW-Authenticate": 'Bearer realm="scim"'})
        up = urlsplit(self.opts.upstream)
        target = up.path.rstrip("/") + url.path[len("/scim"):] + ("?" + url.query if url.query else "")
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
        headers["Authorization"] = "Bearer " + self.opts.upstream_token
        headers["Content-Length"] = str(len(body))
        with LOCK:
            IN_FLIGHT[0] += 1
            STATS["in_flight_max"] = max(STATS["in_flight_max"], IN_FLIGHT[0])
        try:
            return self.forward(up, target, headers, body)
        finally:
            with LOCK:
                IN_FLIGHT[0] -= 1

    def forward(self, up, target, headers, body):
        try:
            conn = http.client.HTTPConnection(up.hostname, up.port or 80, timeout=30)
            conn.request(self.command, target, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            # Locations and meta.location point at the upstream: rewrite them to the proxy.
            mine = "%s://%s:%d/scim" % ((self.server.scheme,) + tuple(self.server.server_address[:2]))
            data = data.replace(self.opts.upstream.rstrip("/").encode(), mine.encode())
            out = {k: v for k, v in resp.getheaders() if k.lower() not in HOP_HEADERS}
            out.pop("Content-Type", None)
            if "Location" in out:
                out["Location"] = out["Location"].replace(self.opts.upstream.rstrip("/"), mine)
            conn.close()
        except OSError as e:
            return self.scim_error(502, "upstream unreachable: %s" % e)
        self.answer(resp.status, headers=out, raw=data, ctype=resp.getheader("Content-Type") or "application/json")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any


def outage_phase():
    """The outage phase now, (until, status, retry_after), or None (call with LOCK held)."""
    now = time.time()
    return next((ph for ph in STATE["phases"] if now < ph[0]), None)


def pair(s):
    a, sep, b = s.partition(":")
    if not sep:
        raise argparse.ArgumentTypeError("expected NAME:SECRET")
    return a, b


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--upstream", required=True, help="the SCIM service's base URL")
    ap.add_argument("--upstream-token", required=True, help="the upstream's bearer token")
    ap.add_argument("--basic", type=pair, help="USER:PASSWORD accepted as Basic credentials")
    ap.add_argument("--client", type=pair, help="CLIENT_ID:SECRET accepted at /oauth/token")
    ap.add_argument("--token-ttl", type=int, default=3600)
    ap.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM)")
    ap.add_argument("--tls-key", help="the certificate's private key (PEM)")
    Proxy.opts = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", Proxy.opts.port), Proxy)
    srv.scheme = "http"
    if Proxy.opts.tls_cert:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(Proxy.opts.tls_cert, Proxy.opts.tls_key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
        srv.scheme = "https"
    srv.daemon_threads = True
    print("PORT=%d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
