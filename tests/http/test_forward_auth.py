"""Forward auth (API.md: Gating another API): /verify on the books' stages,
and the shipped deploy/nginx/nginx.conf and deploy/caddy/Caddyfile, run by
Debian's real nginx and Caddy in front of an upstream of the test's own.

The shipped files are what is tested: only their fixed ports (keygate
127.0.0.1:8000, upstream 9000, proxy 8080) are replaced, textually, by
this run's, and nginx is given a pid file and an error log of its own."""
import http.client
import http.server
import json
import re
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest

from harness import Server

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
NGINX_CONF = os.path.join(ROOT, "deploy", "nginx", "nginx.conf")
CADDYFILE = os.path.join(ROOT, "deploy", "caddy", "Caddyfile")

# The proxies send X-Forwarded-For; keygate believes it from loopback.
SERVER = dict(args=["-o", "throttle.api_key=5/minute", "-o", "server.trusted_proxies=127.0.0.1"])

# What a proxy may add or change without changing keygate's answer.
HOP = {"date", "server", "connection", "keep-alive", "transfer-encoding", "content-length"}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc, log, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError("exited %d at start:\n%s" % (proc.returncode, read(log)))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("not listening on %d:\n%s" % (port, read(log)))


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


class Upstream:
    """The API behind the proxy: answers any request with what it was sent
    (method, path, the X-Keygate-* headers, the body), and counts them."""

    def __init__(self):
        self.seen = []
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def answer(self):
                n = int(self.headers.get("Content-Length") or 0)
                got = {"method": self.command, "path": self.path,
                       "user_id": self.headers.get_all("X-Keygate-User-Id"),
                       "username": self.headers.get_all("X-Keygate-Username"),
                       "body": self.rfile.read(n).decode() if n else ""}
                with outer.lock:
                    outer.seen.append(got)
                data = json.dumps(got).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = answer

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def count(self, user_id):
        with self.lock:
            return sum(1 for s in self.seen if s["user_id"] == [str(user_id)])

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def shipped(path, keygate_port, upstream_port, proxy_port):
    """The shipped file with this run's ports in place of its fixed ones,
    each of which it must use."""
    with open(path) as f:
        text = f.read()
    for fixed, port in (("127.0.0.1:8000", keygate_port), ("127.0.0.1:9000", upstream_port),
                        ("127.0.0.1:8080", proxy_port)):
        assert fixed in text, "%s does not use %s" % (path, fixed)
        text = text.replace(fixed, "127.0.0.1:%d" % port)
    return text


class Proxy:
    def __init__(self, kind, keygate_port, upstream_port):
        self.kind = kind
        self.tmp = tempfile.mkdtemp(prefix="kg-proxy-")
        self.port = free_port()
        self.log = os.path.join(self.tmp, "proxy.log")
        if kind == "nginx":
            binary = shutil.which("nginx") or "/usr/sbin/nginx"
            assert os.path.exists(binary), "nginx is not installed (Debian's nginx; make deps-test)"
            conf = os.path.join(self.tmp, "nginx.conf")
            with open(conf, "w") as f:
                f.write(shipped(NGINX_CONF, keygate_port, upstream_port, self.port))
            cmd = [binary, "-c", conf, "-g", "daemon off; pid %s/nginx.pid; error_log %s info;" % (self.tmp, self.log)]
            env = dict(os.environ)
        else:
            binary = shutil.which("caddy")
            assert binary, "caddy is not installed (Debian's caddy; make deps-test)"
            conf = os.path.join(self.tmp, "Caddyfile")
            with open(conf, "w") as f:
                f.write(shipped(CADDYFILE, keygate_port, upstream_port, self.port))
            cmd = [binary, "run", "--adapter", "caddyfile", "--config", conf]
            # Caddy keeps its state under HOME / XDG dirs: this run's own.
            env = dict(os.environ, HOME=self.tmp, XDG_DATA_HOME=self.tmp + "/data",
                       XDG_CONFIG_HOME=self.tmp + "/config")
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=out, stdin=subprocess.DEVNULL, env=env)
        wait_port(self.port, self.proc, self.log)

    def request(self, method, path, headers=None, body=None, source=None):
        conn = connect(self.port, source)
        try:
            conn.request(method, path, body=body, headers=dict(headers or {}))
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read().decode("utf-8", "replace")
        finally:
            conn.close()

    def stop(self):
        # nginx: SIGQUIT is its graceful stop; Caddy stops on SIGTERM.
        self.proc.send_signal(signal.SIGQUIT if self.kind == "nginx" else signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def upstream(backends):
    """One per configuration, as srv is: it counts by user id, and each
    configuration's database numbers its users from 1."""
    u = Upstream()
    yield u
    u.stop()


@pytest.fixture(scope="module", params=["nginx", "caddy"])
def proxy(request, srv, upstream):
    p = Proxy(request.param, srv.port, upstream.port)
    yield p
    p.stop()


def connect(port, source=None):
    """A connection to 127.0.0.1:port, from loopback address source when
    given: a client of its own, as a proxy and keygate see it."""
    return http.client.HTTPConnection("127.0.0.1", port, timeout=30,
                                      source_address=(source, 0) if source else None)


def direct(srv, headers, source=None):
    if source is None:
        r = srv.request("GET", "/verify", headers=headers)
        return r.status, r.headers, r.body
    conn = connect(srv.port, source)
    try:
        conn.request("GET", "/verify", headers=headers)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read().decode("utf-8", "replace")
    finally:
        conn.close()


def end_to_end(reply):
    """What keygate decides in a reply: status, the headers a proxy may not
    touch (names in any case), the body."""
    status, headers, body = reply
    return status, {k: v for k, v in headers.items() if k not in HOP}, body


def same_refusal(srv, proxy, headers, fresh_client=None):
    """The proxy's answer for headers equals keygate's own /verify answer
    for them (made right before). The pair is tried again when a second
    boundary fell between the two (Retry-After and t count whole seconds).
    fresh_client(i) gives each attempt's two requests loopback addresses of
    their own to connect from, so that a per-address window (invalid keys)
    starts equal. They connect from it rather than claim it in
    X-Forwarded-For: Caddy replaces what an untrusted client claims with the
    address it sees, as it should, and nginx appends that address."""
    for attempt in range(5):
        src_direct = src_proxy = None
        if fresh_client is not None:
            src_direct, src_proxy = fresh_client(2 * attempt), fresh_client(2 * attempt + 1)
        want = end_to_end(direct(srv, headers, src_direct))
        got = end_to_end(proxy.request("GET", "/api/thing?x=1", headers, source=src_proxy))
        if got == want:
            return want
        if want[1].get("retry-after") == got[1].get("retry-after") and fresh_client is None:
            break
    assert got == want, (proxy.kind, got, want)


def test_shipped_files_use_the_fixed_ports():
    for path in (NGINX_CONF, CADDYFILE):
        text = open(path).read()
        for fixed in ("127.0.0.1:8000", "127.0.0.1:9000", "127.0.0.1:8080"):
            assert fixed in text, (path, fixed)


def test_verify_answers_as_books_would(srv):
    """Direct: 200 empty with the user and the quota headers; any method;
    a refusal is /books/'s, and its body in X-Keygate-Body only when asked."""
    _, _, key = srv.user("fa_direct")
    uid = None
    for method in ("GET", "POST", "DELETE", "OPTIONS", "HEAD"):
        r = srv.request(method, "/verify", headers={"Authorization": key, "X-Forwarded-Method": method,
                                                    "X-Forwarded-Uri": "/anything"})
        assert r.status == 200, r
        assert r.body == ""
        assert r.header("X-Keygate-Username") == "fa_direct"
        assert int(r.header("X-Keygate-User-Id")) >= 1
        assert r.header("RateLimit-Policy") == '"api_key";q=5;w=60'
        assert r.header("RateLimit").startswith('"api_key";r=')
        uid = r.header("X-Keygate-User-Id")
    assert uid is not None
    books = srv.books("GET", "/books/", key)
    verify = srv.books("GET", "/verify", key)
    assert books.status == verify.status == 429
    assert books.body == verify.body
    assert books.header("Retry-After") == verify.header("Retry-After") or \
        abs(int(books.header("Retry-After")) - int(verify.header("Retry-After"))) == 1
    assert verify.header("X-Keygate-Body") is None
    asked = srv.books("GET", "/verify", key, headers={"X-Keygate-Want-Body": "header"})
    assert asked.status == 429 and asked.header("X-Keygate-Body") == asked.body
    for h in ({}, {"Authorization": "00000000-0000-4000-8000-000000000000"}):
        b, v = srv.request("GET", "/books/", headers=h), srv.request("POST", "/verify", headers=h)
        assert (b.status, b.body, b.header("Content-Type")) == (v.status, v.body, v.header("Content-Type"))
        assert v.status in (400, 401)
    # Not asked on /books/: a refusal there never carries it.
    assert srv.request("GET", "/books/", headers={"X-Keygate-Want-Body": "header"}).header("X-Keygate-Body") is None


def test_valid_key_reaches_upstream_with_user(srv, proxy, upstream):
    _, _, key = srv.user("fa_ok_" + proxy.kind)
    uid = srv.request("GET", "/verify", headers={"Authorization": key}).header("X-Keygate-User-Id")
    # A client's own X-Keygate-* never reach the upstream.
    status, headers, body = proxy.request("POST", "/api/items?page=2", {
        "Authorization": key, "X-Keygate-User-Id": "999", "X-Keygate-Username": "mallory",
        "Content-Type": "application/json"}, body=b'{"name":"x"}')
    assert status == 200, (status, headers, body)
    got = json.loads(body)
    assert got == {"method": "POST", "path": "/api/items?page=2", "user_id": [uid],
                   "username": ["fa_ok_" + proxy.kind], "body": '{"name":"x"}'}, got
    if proxy.kind == "nginx":  # nginx also passes the quota headers on the API's answer
        assert headers.get("ratelimit-policy") == '"api_key";q=5;w=60', headers
        assert headers.get("ratelimit", "").startswith('"api_key";r=3;'), headers


def test_missing_key_comes_back_as_keygate_says(srv, proxy, upstream):
    before = len(upstream.seen)
    status, headers, body = same_refusal(srv, proxy, {"X-Request-Id": "fa-missing-" + proxy.kind})
    assert status == 400 and json.loads(body) == {"message": "API key required"}
    assert headers["x-request-id"] == "fa-missing-" + proxy.kind
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert len(upstream.seen) == before


def test_bad_key_comes_back_as_keygate_says(srv, proxy, upstream):
    before = len(upstream.seen)
    net = {"nginx": 11, "caddy": 12}[proxy.kind]
    bad = {"Authorization": "00000000-0000-4000-8000-000000000000", "X-Request-Id": "fa-bad"}
    # The proxy's own address has spent some: were the client not passed
    # on, the proxied answer would count it and not match.
    for _ in range(3):
        assert direct(srv, bad)[0] == 401
    status, headers, body = same_refusal(
        srv, proxy, bad,
        fresh_client=lambda i: "127.%d.0.%d" % (net, i + 1))
    assert status == 401 and json.loads(body) == {"message": "Unauthorized. Invalid API key"}
    assert headers["cache-control"] == "no-store"
    assert headers["ratelimit-policy"].startswith('"invalid_key";')
    assert len(upstream.seen) == before


def test_throttled_key_comes_back_as_keygate_says(srv, proxy, upstream):
    _, _, key = srv.user("fa_spent_" + proxy.kind)
    for _ in range(5):
        assert srv.request("GET", "/verify", headers={"Authorization": key}).status == 200
    before = len(upstream.seen)
    for accept in (None, "application/problem+json"):
        h = {"Authorization": key, "X-Request-Id": "fa-429"}
        if accept:
            h["Accept"] = accept
        status, headers, body = same_refusal(srv, proxy, h)
        assert status == 429, (status, headers, body)
        s = int(headers["retry-after"])
        assert 1 <= s <= 60
        assert json.loads(body)["detail"] == "Request was throttled. Expected available in %d seconds." % s
        assert headers["content-type"] == ("application/problem+json; charset=utf-8" if accept else
                                           "application/json; charset=utf-8")
        assert headers["ratelimit-policy"] == '"api_key";q=5;w=60'
        assert headers["ratelimit"].startswith('"api_key";r=0;t=')
        assert headers["cache-control"] == "no-store"
    assert len(upstream.seen) == before


def test_forty_at_once_admit_exactly_five(srv, proxy, upstream):
    _, _, key = srv.user("fa_burst_" + proxy.kind)
    uid = None
    results, lock = [], threading.Lock()
    start = threading.Barrier(40)

    def client():
        start.wait()
        r = proxy.request("GET", "/api/burst", {"Authorization": key})
        with lock:
            results.append(r)

    threads = [threading.Thread(target=client) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(r[0] for r in results)
    assert statuses == [200] * 5 + [429] * 35, statuses
    uid = json.loads([r for r in results if r[0] == 200][0][2])["user_id"][0]
    assert upstream.count(uid) == 5
    for status, headers, body in results:
        if status == 429:
            assert json.loads(body)["violated-policies"] == ["api_key"]
            assert int(headers["retry-after"]) >= 1


POLICIES = """[throttle]
api_key = 100/minute
[policy search]
match = GET /search, GET /v1/search*
cost = 5
rate = 12/minute, 100/day
[policy writes]
match = POST /items*, * /admin/*
rate = 2/minute
"""


def described(srv, key, method, uri, nginx=False):
    names = ("X-Original-Method", "X-Original-URI") if nginx else ("X-Forwarded-Method", "X-Forwarded-Uri")
    return srv.request("GET", "/verify", headers={"Authorization": key, names[0]: method, names[1]: uri})


def remaining(r):
    return [int(x) for x in re.findall(r";r=(\d+)", r.header("RateLimit"))]


def test_policies_by_method_and_path_with_costs():
    """/verify decides the described request by the first [policy] that
    covers it, spends its cost in every window at once, and names it."""
    srv = Server(config_text=POLICIES)
    srv.start()
    _, _, key = srv.user("gated")
    r = described(srv, key, "GET", "/v1/search?q=dune")
    assert r.status == 200, r
    assert r.header("RateLimit-Policy") == '"search";q=12;w=60, "search";q=100;w=86400'
    assert remaining(r) == [7, 95]
    assert remaining(described(srv, key, "GET", "/search")) == [2, 90]  # exact path
    r = described(srv, key, "GET", "/search")  # costs 5, 2 left: refused whole
    assert r.status == 429, r
    assert r.json["violated-policies"] == ["search"]
    assert remaining(r) == [2, 90]  # nothing spent
    assert 1 <= int(r.header("Retry-After")) <= 60
    # Not covered: another path, another method: the api_key windows.
    for method, uri in (("GET", "/searchx"), ("POST", "/search"), ("GET", "/v2/search")):
        r = described(srv, key, method, uri)
        assert r.status == 200 and r.header("RateLimit-Policy") == '"api_key";q=100;w=60', (method, uri, r)
    # nginx's names; a pattern with any method; its own windows.
    assert described(srv, key, "POST", "/items/3", nginx=True).header("RateLimit-Policy") == '"writes";q=2;w=60'
    assert described(srv, key, "DELETE", "/admin/x").status == 200
    r = described(srv, key, "PUT", "/admin/y")
    assert r.status == 429 and r.json["violated-policies"] == ["writes"], r
    # The books API is not a gated route: its own api_key windows.
    r = srv.books("GET", "/books/", key)
    assert r.status == 200 and r.header("RateLimit-Policy") == '"api_key";q=100;w=60'
    text = srv.metrics()
    assert 'keygate_throttle_decisions_total{scope="search",decision="refused"} 1' in text
    assert 'scope="policy3"' not in text  # no table for a policy not configured
    srv.stop()


def test_policy_cost_over_a_window_refused_at_start():
    srv = Server(config_text="[policy big]\nmatch = /x\ncost = 6\nrate = 5/minute\n")
    try:
        srv.start(timeout=10)
        raise AssertionError("started with a cost no window admits")
    except AssertionError as e:
        assert "[policy big] cost: 6 is more than its 5/60s window admits" in str(e), e
    srv = Server(config_text="[policy Bad Name]\nmatch = /x\n")
    try:
        srv.start(timeout=10)
        raise AssertionError("started with a bad policy name")
    except AssertionError as e:
        assert "a policy name is 1 to 32 of" in str(e), e


@pytest.mark.parametrize("kind", ["nginx", "caddy"])
def test_policies_through_the_shipped_proxies(kind):
    """Each proxy describes the request it guards in its own headers
    (nginx X-Original-*, Caddy X-Forwarded-*): the search route spends 5
    of its policy's 12 a minute, other routes the api_key windows. An
    upstream of its own: its users' ids are another database's."""
    srv = Server(config_text=POLICIES, args=["-o", "server.trusted_proxies=127.0.0.1"])
    srv.start()
    upstream = Upstream()
    p = Proxy(kind, srv.port, upstream.port)
    try:
        _, _, key = srv.user("proxied-" + kind)
        auth = {"Authorization": key}
        codes = []
        for _ in range(3):
            status, headers, _ = p.request("GET", "/v1/search?q=x", headers=auth)
            codes.append(status)
            if status == 200:
                assert headers["ratelimit-policy"] == '"search";q=12;w=60, "search";q=100;w=86400', headers
        assert codes == [200, 200, 429], codes
        status, headers, body = p.request("GET", "/v1/search", headers=auth)
        assert status == 429 and json.loads(body)["violated-policies"] == ["search"], (status, body)
        status, headers, _ = p.request("GET", "/elsewhere", headers=auth)
        assert status == 200 and headers["ratelimit-policy"] == '"api_key";q=100;w=60', headers
    finally:
        p.stop()
        upstream.stop()
        srv.stop()
