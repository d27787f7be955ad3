#!/usr/bin/env python3
"""A PingOne Platform API emulator for ferrosync's tests, written from /work/shared/reference/pingone-api.md.

Usage: emulator.py [PORT]   (default 19443; 0 picks a free port, and the first line on stdout,
"listening on 127.0.0.1:PORT", says which)

Stdlib only. One environment, one population by default ("Default"), two worker apps (the main client and a
second "other" client, for actor-id-to-ignore tests).

API surface (PingOne's shapes):
  POST /{env}/as/token                                  client_credentials, Basic or form auth, expiring tokens
  GET/POST /v1/environments/{env}/users                 filter (eq/sw/gt/ge/lt/le, and/or, parentheses), limit,
                                                        cursor paging through _links.next (pages capped at
                                                        page_cap: trust `size`, not `limit`)
  GET/PUT/PATCH/DELETE /v1/environments/{env}/users/{id}
  POST /v1/environments/{env}/users/{id}                Content-Type ...account.lock+json / ...account.unlock+json
  PUT  /v1/environments/{env}/users/{id}/enabled        {"enabled": false}
  PUT  /v1/environments/{env}/users/{id}/population     {"id": "..."}
  GET/POST /v1/environments/{env}/populations
  GET/POST /v1/environments/{env}/activities            recordedat window required, one more eq filter, paging,
                                                        retention window (400 when the window starts before it)
Admin (test hooks, no auth):
  POST /admin/reset                                     forget everything but the clients and the default population
  POST /admin/config {"page_cap":N,"token_ttl":S,"retention_seconds":S,"lag_seconds":S}
  POST /admin/throttle {"requests":N,"retry_after":"1"|null}   answer the next N API requests with 429
  GET  /admin/stats                                     {"requests":N,"throttled":N,"tokens":N,
                                                        "in_flight_max":N (most requests being answered at
                                                        once), "by_method":{"GET":N,...} (admin ones too)}
  POST /admin/expire-tokens                             every issued token is expired (the next call gets 401)
"""
import base64
import datetime
import json
import os
import re
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, parse_qs, urlencode

ENV_ID = "8a4f2d1e-7c3b-4e5a-9f6d-0b1c2d3e4f50"
CLIENTS = {
    "5c1e0b7a-2d4f-4a6b-8c9d-0e1f2a3b4c5d": "emulator-secret-1",
    "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a": "emulator-secret-2",
}
DEFAULT_POP = "3f6e5d4c-3b2a-4190-8f7e-6d5c4b3a2910"
LOCK = threading.RLock()
# Requests being answered now (the emulator answers one at a time under LOCK; reading and writing overlap).
FLIGHT_LOCK = threading.Lock()
FLIGHT = [0]


def now_iso(t=None):
    t = time.time() if t is None else t
    d = datetime.datetime.fromtimestamp(t, datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (d.microsecond // 1000)


def parse_iso(s):
    s = s.strip()
    m = re.match(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|[+-]\d\d:?\d\d)$", s)
    if not m:
        raise ValueError("bad timestamp " + s)
    y, mo, d, h, mi, sec, frac, tz = m.groups()
    dt = datetime.datetime(int(y), int(mo), int(d), int(h), int(mi), int(sec), tzinfo=datetime.timezone.utc)
    t = dt.timestamp() + (float("0." + frac) if frac else 0.0)
    if tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        tz = tz[1:].replace(":", "")
        t -= sign * (int(tz[:2]) * 3600 + int(tz[2:]) * 60)
    return round(t, 3)


class State:
    def __init__(self):
        self.config = {"page_cap": 5, "token_ttl": 3600, "retention_seconds": 14 * 86400, "lag_seconds": 0}
        self.tokens = {}
        self.stats = {"requests": 0, "throttled": 0, "tokens": 0}
        self.throttle = {"requests": 0, "retry_after": "1"}
        self.reset()

    def reset(self):
        self.users = {}
        self.populations = {DEFAULT_POP: {"id": DEFAULT_POP, "name": "Default", "default": True}}
        self.activities = []


STATE = State()


# ---------------------------------------------------------------------------------------------------------------
# Filters: SCIM-like, `attr op "value"`, and/or, parentheses. Attribute paths are dotted and case-insensitive.

TOKEN_RE = re.compile(r'\s*(?:(\()|(\))|"((?:[^"\\]|\\.)*)"|([A-Za-z_][A-Za-z0-9_.\[\]]*))')


def tokenize(s):
    out, i = [], 0
    while i < len(s):
        if s[i].isspace():
            i += 1
            continue
        m = TOKEN_RE.match(s, i)
        if not m or m.end() == i:
            raise ValueError("unexpected character at %d" % i)
        if m.group(1):
            out.append(("(", None))
        elif m.group(2):
            out.append((")", None))
        elif m.group(3) is not None:
            out.append(("str", m.group(3).replace('\\"', '"')))
        else:
            out.append(("word", m.group(4)))
        i = m.end()
    return out


def parse_filter(s):
    toks = tokenize(s)
    pos = [0]

    def peek():
        return toks[pos[0]] if pos[0] < len(toks) else (None, None)

    def take():
        t = peek()
        pos[0] += 1
        return t

    def expr():
        left = term()
        while peek()[0] == "word" and peek()[1].lower() == "or":
            take()
            left = ("or", left, term())
        return left

    def term():
        left = factor()
        while peek()[0] == "word" and peek()[1].lower() == "and":
            take()
            left = ("and", left, factor())
        return left

    def factor():
        k, v = take()
        if k == "(":
            e = expr()
            if take()[0] != ")":
                raise ValueError("missing )")
            return e
        if k != "word":
            raise ValueError("expected an attribute")
        ok, op = take()
        if ok != "word" or op.lower() not in ("eq", "sw", "gt", "ge", "lt", "le", "ne"):
            raise ValueError("expected an operator after " + v)
        vk, val = take()
        if vk != "str":
            raise ValueError("expected a quoted value")
        return ("cmp", v, op.lower(), val)

    e = expr()
    if pos[0] != len(toks):
        raise ValueError("unexpected token")
    return e


def get_path(obj, path):
    cur = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return None
        found = None
        for k in cur:
            if k.lower() == part.lower():
                found = k
                break
        if found is None:
            return None
        cur = cur[found]
    return cur


def compare(actual, op, val, is_time):
    if actual is None:
        return op == "ne"
    if isinstance(actual, list):
        return any(compare(a, op, val, is_time) for a in actual)
    if isinstance(actual, bool):
        actual = "true" if actual else "false"
    if is_time:
        a, b = parse_iso(str(actual)), parse_iso(val)
    else:
        a, b = str(actual).lower(), val.lower()
    return {
        "eq": lambda: a == b, "ne": lambda: a != b, "sw": lambda: str(a).startswith(str(b)),
        "gt": lambda: a > b, "ge": lambda: a >= b, "lt": lambda: a < b, "le": lambda: a <= b,
    }[op]()


def matches(f, obj, resolve=get_path):
    if f[0] == "and":
        return matches(f[1], obj, resolve) and matches(f[2], obj, resolve)
    if f[0] == "or":
        return matches(f[1], obj, resolve) or matches(f[2], obj, resolve)
    _, attr, op, val = f
    is_time = attr.lower() in ("recordedat", "createdat", "updatedat")
    return compare(resolve(obj, attr), op, val, is_time)


def activity_path(act, attr):
    a = attr.lower()
    if a.startswith("resources."):
        rest = attr[len("resources."):]
        return [get_path(r, rest) for r in act.get("resources", [])]
    return get_path(act, attr)


def time_window(f):
    """The recordedat comparisons of an and-chain: (lower, upper) or None when missing."""
    cmps = []

    def walk(x):
        if x[0] == "and":
            walk(x[1])
            walk(x[2])
        elif x[0] == "cmp":
            cmps.append(x)

    walk(f)
    lower = [c for c in cmps if c[1].lower() in ("recordedat", "createdat") and c[2] in ("gt", "ge")]
    upper = [c for c in cmps if c[1].lower() in ("recordedat", "createdat") and c[2] in ("lt", "le")]
    return (lower[0] if lower else None, upper[0] if upper else None)


# ---------------------------------------------------------------------------------------------------------------

def p1error(status, code, message, details=None):
    body = {"id": str(uuid.uuid4()), "code": code, "message": message}
    if details:
        body["details"] = details
    return status, body


def record(action, user, client_id, status="SUCCESS"):
    t = time.time()
    STATE.activities.append({
        "_links": {"self": {"href": "/activities/x"}},
        "id": str(uuid.uuid4()),
        "recordedAt": now_iso(t),
        "createdAt": now_iso(t),
        "_t": round(t, 3),
        "_visible": t + STATE.config["lag_seconds"],
        "correlationId": str(uuid.uuid4()),
        "action": {"type": action, "description": action.title()},
        "actors": {"client": {"id": client_id, "name": "worker " + client_id[:8], "type": "CLIENT",
                              "environment": {"id": ENV_ID}}},
        "resources": [{"type": "USER", "id": user["id"], "name": user.get("username"),
                       "environment": {"id": ENV_ID}, "population": {"id": user["population"]["id"]}}],
        "result": {"status": status, "description": "Passed role access control"},
    })


def public_user(u):
    out = {k: v for k, v in u.items() if not k.startswith("_")}
    out["_links"] = {"self": {"href": "%s/users/%s" % (BASE.url, u["id"])},
                     "population": {"href": "%s/populations/%s" % (BASE.url, u["population"]["id"])}}
    return out


class _Base(threading.local):
    """The base URL of the request being answered, per request thread (the HTTPS and plain servers answer at
    once, each with its own scheme and port)."""
    def __init__(self):
        self.url = ""


BASE = _Base()
READONLY = {"id", "environment", "createdAt", "updatedAt", "account", "enabled", "lifecycle", "_links",
            "population", "identityProvider", "lastSignOn", "mfaEnabled", "verifyStatus"}


def validate_unique(user, exclude_id=None):
    for other in STATE.users.values():
        if other["id"] == exclude_id:
            continue
        if other.get("username", "").lower() == str(user.get("username", "")).lower():
            return [{"code": "UNIQUENESS_VIOLATION", "target": "username", "message": "must be unique"}]
    return None


def page(items, key, query, path):
    limit = int(query.get("limit", ["100"])[0])
    if limit < 1 or limit > 1000:
        return p1error(400, "INVALID_REQUEST", "limit must be between 1 and 1000")
    cursor = query.get("cursor", [None])[0]
    start = 0
    if cursor:
        try:
            start = json.loads(base64.urlsafe_b64decode(cursor.encode()).decode())["offset"]
        except Exception:
            return p1error(400, "INVALID_REQUEST", "bad cursor")
    size = min(limit, STATE.config["page_cap"])
    chunk = items[start:start + size]
    links = {"self": {"href": BASE.url + path + "?" + urlencode({k: v[0] for k, v in query.items()})}}
    if start + size < len(items):
        q = {k: v[0] for k, v in query.items() if k != "cursor"}
        q["cursor"] = base64.urlsafe_b64encode(json.dumps({"offset": start + size}).encode()).decode()
        links["next"] = {"href": BASE.url + path + "?" + urlencode(q)}
    return 200, {"_links": links, "_embedded": {key: chunk}, "count": len(items), "size": len(chunk)}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        if "-v" in sys.argv or os.environ.get("PINGONE_EMULATOR_VERBOSE") == "1":
            sys.stderr.write("%s\n" % (fmt % args))

    def send(self, status, body=None, headers=None):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        # Read once, at the start of every request, so that an answer that ignores the body (a 401, a 429)
        # never leaves it in the connection to be taken for the next request.
        if not hasattr(self, "_body") or self._body_for is not self.requestline:
            n = int(self.headers.get("Content-Length") or 0)
            self._body = self.rfile.read(n) if n else b""
            self._body_for = self.requestline
        return self._body

    def json_body(self):
        raw = self.body()
        if not raw:
            return {}
        return json.loads(raw.decode())

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def dispatch(self, method):
        with FLIGHT_LOCK:
            FLIGHT[0] += 1
            STATE.stats["in_flight_max"] = max(STATE.stats.get("in_flight_max", 0), FLIGHT[0])
            by = STATE.stats.setdefault("by_method", {})
            by[method] = by.get(method, 0) + 1
        try:
            self.dispatch_counted(method)
        finally:
            with FLIGHT_LOCK:
                FLIGHT[0] -= 1

    def dispatch_counted(self, method):
        self._body_for = None
        self.body()
        try:
            with LOCK:
                status, body, headers = self.route(method)
        except json.JSONDecodeError:
            status, body = p1error(400, "INVALID_DATA", "The request body is not JSON")
            headers = None
        except Exception as e:  # an emulator bug: say it
            status, body = p1error(500, "UNEXPECTED_ERROR", "emulator error: %r" % e)
            headers = None
        self.send(status, body, headers)

    def route(self, method):
        url = urlsplit(self.path)
        path, query = url.path.rstrip("/"), parse_qs(url.query)
        parts = [p for p in path.split("/") if p]
        if parts and parts[0] == "admin":
            return self.admin(method, parts[1:])
        STATE.stats["requests"] += 1
        if STATE.throttle["requests"] > 0:
            STATE.throttle["requests"] -= 1
            STATE.stats["throttled"] += 1
            h = {"Retry-After": STATE.throttle["retry_after"]} if STATE.throttle["retry_after"] else {}
            s, b = p1error(429, "REQUEST_LIMITED", "The request was rate limited")
            return s, b, h
        if len(parts) == 3 and parts[0] == ENV_ID and parts[1:] == ["as", "token"] and method == "POST":
            s, b = self.token()
            return s, b, None
        if len(parts) < 3 or parts[0] != "v1" or parts[1] != "environments":
            s, b = p1error(404, "NOT_FOUND", "The requested resource was not found")
            return s, b, None
        if parts[2] != ENV_ID:
            s, b = p1error(404, "NOT_FOUND", "Unknown environment")
            return s, b, None
        client = self.authorized()
        if client is None:
            s, b = p1error(401, "ACCESS_FAILED", "The request could not be completed. You do not have access to this resource.")
            return s, b, {"WWW-Authenticate": 'Bearer error="invalid_token"'}
        rest = parts[3:]
        prefix = "/" + "/".join(parts[:3])
        s, b = self.api(method, rest, query, client, prefix)
        return s, b, None

    def admin(self, method, rest):
        if rest == ["reset"]:
            STATE.reset()
            STATE.throttle = {"requests": 0, "retry_after": "1"}
            return 204, None, None
        if rest == ["config"] and method == "POST":
            STATE.config.update(self.json_body())
            return 200, STATE.config, None
        if rest == ["throttle"]:
            b = self.json_body()
            STATE.throttle = {"requests": int(b.get("requests", 0)), "retry_after": b.get("retry_after")}
            return 200, STATE.throttle, None
        if rest == ["stats"]:
            return 200, STATE.stats, None
        if rest == ["expire-tokens"]:
            for t in STATE.tokens:
                STATE.tokens[t] = (STATE.tokens[t][0], 0)
            return 204, None, None
        return 404, {"code": "NOT_FOUND", "message": "no such admin endpoint"}, None

    def token(self):
        raw = self.body().decode()
        form = {k: v[0] for k, v in parse_qs(raw).items()}
        cid = csecret = None
        auth = self.headers.get("Authorization", "")
        if auth.lower().startswith("basic "):
            try:
                cid, csecret = base64.b64decode(auth[6:]).decode().split(":", 1)
            except Exception:
                pass
        else:
            cid, csecret = form.get("client_id"), form.get("client_secret")
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type", "error_description": "grant_type must be client_credentials"}
        if cid is None or CLIENTS.get(cid) != csecret:
            return 401, {"error": "invalid_client",
                         "error_description": "Request denied: invalid client credentials (Correlation ID: %s)" % uuid.uuid4()}
        tok = "eyJhbGciOiJSUzI1NiJ9." + base64.urlsafe_b64encode(
            json.dumps({"client_id": cid, "jti": str(uuid.uuid4())}).encode()).decode().rstrip("=") + ".sig"
        ttl = int(STATE.config["token_ttl"])
        STATE.tokens[tok] = (cid, time.time() + ttl)
        STATE.stats["tokens"] += 1
        return 200, {"access_token": tok, "token_type": "Bearer", "expires_in": ttl, "scope": "p1:read:user p1:update:user"}

    def authorized(self):
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return None
        entry = STATE.tokens.get(auth[7:])
        if not entry or entry[1] < time.time():
            return None
        return entry[0]

    def find_population(self, pid):
        return STATE.populations.get(pid)

    def api(self, method, rest, query, client, prefix):
        BASE.url = "%s://%s:%d%s" % (getattr(self.server, "scheme", "http"), self.server.server_address[0],
                                            self.server.server_address[1], prefix)
        if rest == ["populations"]:
            if method == "GET":
                items = list(STATE.populations.values())
                if "filter" in query:
                    try:
                        f = parse_filter(query["filter"][0])
                    except ValueError as e:
                        return p1error(400, "INVALID_REQUEST", "bad filter: %s" % e)
                    items = [p for p in items if matches(f, p)]
                return page(items, "populations", query, "/populations")
            if method == "POST":
                b = self.json_body()
                if not b.get("name"):
                    return p1error(400, "INVALID_DATA", "name is required", [{"code": "REQUIRED_VALUE", "target": "name"}])
                if any(p["name"].lower() == b["name"].lower() for p in STATE.populations.values()):
                    return p1error(400, "INVALID_DATA", "population name must be unique",
                                   [{"code": "UNIQUENESS_VIOLATION", "target": "name", "message": "must be unique"}])
                pid = str(uuid.uuid4())
                STATE.populations[pid] = {"id": pid, "name": b["name"], "description": b.get("description", "")}
                return 201, STATE.populations[pid]
        if len(rest) == 2 and rest[0] == "populations" and method == "GET":
            p = self.find_population(rest[1])
            return (200, p) if p else p1error(404, "NOT_FOUND", "Unable to find population")
        if rest == ["users"]:
            if method == "GET":
                items = list(STATE.users.values())
                if "filter" in query:
                    try:
                        f = parse_filter(query["filter"][0])
                    except ValueError as e:
                        return p1error(400, "INVALID_REQUEST", "bad filter: %s" % e)
                    items = [u for u in items if matches(f, u)]
                return page([public_user(u) for u in items], "users", query, "/users")
            if method == "POST":
                return self.create_user(client)
        if len(rest) >= 2 and rest[0] == "users":
            u = STATE.users.get(rest[1])
            if u is None:
                return p1error(404, "NOT_FOUND", "Unable to find user %s" % rest[1])
            if len(rest) == 2:
                return self.user_op(method, u, client)
            if len(rest) == 3 and rest[2] == "enabled" and method == "PUT":
                b = self.json_body()
                u["enabled"] = bool(b.get("enabled"))
                u["updatedAt"] = now_iso()
                record("USER.UPDATED", u, client)
                return 200, {"enabled": u["enabled"]}
            if len(rest) == 3 and rest[2] == "population" and method == "PUT":
                b = self.json_body()
                if b.get("id") not in STATE.populations:
                    return p1error(400, "INVALID_DATA", "Unknown population")
                u["population"] = {"id": b["id"]}
                u["updatedAt"] = now_iso()
                record("USER.UPDATED", u, client)
                return 200, {"id": b["id"]}
        if rest == ["activities"] and method in ("GET", "POST"):
            if method == "POST":
                b = self.json_body()
                query = {k: [str(v)] for k, v in b.items()}
            return self.activities(query)
        if len(rest) == 2 and rest[0] == "activities" and method == "GET":
            for a in STATE.activities:
                if a["id"] == rest[1]:
                    return 200, {k: v for k, v in a.items() if not k.startswith("_")}
            return p1error(404, "NOT_FOUND", "Unable to find activity")
        return p1error(404, "NOT_FOUND", "The requested resource was not found")

    def create_user(self, client):
        b = self.json_body()
        missing = [k for k in ("username", "email") if not b.get(k)]
        if missing:
            return p1error(400, "INVALID_DATA", "One or more validation errors were in the request.",
                           [{"code": "REQUIRED_VALUE", "target": k, "message": "is required"} for k in missing])
        dup = validate_unique(b)
        if dup:
            return p1error(400, "INVALID_DATA", "One or more validation errors were in the request.", dup)
        pop = (b.get("population") or {}).get("id") or DEFAULT_POP
        if pop not in STATE.populations:
            return p1error(400, "INVALID_DATA", "Unknown population %s" % pop)
        uid = str(uuid.uuid4())
        t = now_iso()
        u = {k: v for k, v in b.items() if k not in READONLY and k != "password"}
        u.update({"id": uid, "environment": {"id": ENV_ID}, "population": {"id": pop},
                  "account": {"canAuthenticate": True, "status": "OK"}, "enabled": True,
                  "lifecycle": {"status": "ACCOUNT_OK"}, "mfaEnabled": False,
                  "identityProvider": {"type": "PINGONE"}, "createdAt": t, "updatedAt": t})
        STATE.users[uid] = u
        record("USER.CREATED", u, client)
        return 201, public_user(u)

    def user_op(self, method, u, client):
        if method == "GET":
            return 200, public_user(u)
        if method == "DELETE":
            del STATE.users[u["id"]]
            record("USER.DELETED", u, client)
            return 204, None
        if method == "POST":
            ctype = (self.headers.get("Content-Type") or "").lower()
            self.body()
            if "account.lock" in ctype:
                u["account"] = {"canAuthenticate": False, "status": "LOCKED", "lockedAt": now_iso(),
                                "secondsUntilUnlock": 900}
                record("USER.LOCKED", u, client)
            elif "account.unlock" in ctype:
                u["account"] = {"canAuthenticate": True, "status": "OK"}
                record("USER.UNLOCKED", u, client)
            else:
                return p1error(415, "INVALID_REQUEST", "Unsupported content type %s" % ctype)
            u["updatedAt"] = now_iso()
            return 200, public_user(u)
        if method in ("PUT", "PATCH"):
            b = self.json_body()
            if method == "PUT" and (not b.get("username") or not b.get("email")):
                return p1error(400, "INVALID_DATA", "username and email are required",
                               [{"code": "REQUIRED_VALUE", "target": "username"}])
            merged = dict(b)
            if "username" in b:
                dup = validate_unique(merged, exclude_id=u["id"])
                if dup:
                    return p1error(400, "INVALID_DATA", "One or more validation errors were in the request.", dup)
            keep = {k: v for k, v in u.items() if k in READONLY}
            if method == "PUT":
                new = {k: v for k, v in b.items() if k not in READONLY and k != "password"}
            else:
                new = {k: v for k, v in u.items() if k not in READONLY}
                for k, v in b.items():
                    if k in READONLY or k == "password":
                        continue
                    if v is None:
                        new.pop(k, None)
                    else:
                        new[k] = v
            new.update(keep)
            new["updatedAt"] = now_iso()
            u.clear()
            u.update(new)
            record("USER.UPDATED", u, client)
            return 200, public_user(u)
        return p1error(405, "INVALID_REQUEST", "Method not allowed")

    def activities(self, query):
        if "filter" not in query:
            return p1error(400, "INVALID_REQUEST", "A filter on recordedat is required")
        try:
            f = parse_filter(query["filter"][0])
        except ValueError as e:
            return p1error(400, "INVALID_REQUEST", "bad filter: %s" % e)
        lower, upper = time_window(f)
        if lower is None or upper is None:
            return p1error(400, "INVALID_REQUEST", "The filter must give a recordedat window (gt/ge and lt/le)")
        now = time.time()
        oldest = now - STATE.config["retention_seconds"]
        try:
            if parse_iso(lower[3]) < oldest - 1:
                return p1error(400, "INVALID_DATA",
                               "The recordedat window starts before the activity retention period (%s)" % now_iso(oldest))
        except ValueError as e:
            return p1error(400, "INVALID_REQUEST", "bad filter: %s" % e)
        STATE.activities = [a for a in STATE.activities if a["_t"] >= oldest]
        items = []
        for a in STATE.activities:
            if a["_visible"] > now:
                continue
            try:
                if matches(f, a, activity_path):
                    items.append({k: v for k, v in a.items() if not k.startswith("_")})
            except ValueError as e:
                return p1error(400, "INVALID_REQUEST", "bad filter: %s" % e)
        return page(items, "activities", query, "/activities")


def main():
    import argparse
    import ssl
    ap = argparse.ArgumentParser(description="The PingOne API emulator")
    ap.add_argument("port", type=int, nargs="?", default=19443, help="the port (0: a free one)")
    ap.add_argument("--tls-cert", help="serve HTTPS on PORT with this certificate (PEM)")
    ap.add_argument("--tls-key", help="the certificate's private key (PEM)")
    ap.add_argument("--plain-port", type=int, help="also serve plain HTTP on this port (0: a free one)")
    args = ap.parse_args()
    servers = []
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.scheme = "http"
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
        srv.scheme = "https"
    servers.append(srv)
    if args.plain_port is not None:
        plain = ThreadingHTTPServer(("127.0.0.1", args.plain_port), Handler)
        plain.scheme = "http"
        servers.append(plain)
    for s in servers:
        s.daemon_threads = True
        # Port 0 picks a free one: the first lines say which.
        sys.stdout.write("listening on %s://127.0.0.1:%d\n" % (s.scheme, s.server_address[1]))
    sys.stdout.flush()
    for s in servers[1:]:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    servers[0].serve_forever()


if __name__ == "__main__":
    main()
