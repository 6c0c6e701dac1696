"""Throttling (API.md: Throttling): the tutorial's 5/minute, per user, persistent."""
import re
import time

from harness import only, Server, bearer

SERVER = dict(args=["-o", "throttle.api_key=5/minute"])
PROBLEM_TYPE = "https://iana.org/assignments/http-problem-types#quota-exceeded"


def check_429(r, scope, window=60):
    assert r.status == 429, r
    s = int(r.header("Retry-After"))
    assert 1 <= s <= window
    assert r.json == {"type": PROBLEM_TYPE, "title": "Too Many Requests", "status": 429,
                      "detail": "Request was throttled. Expected available in %d seconds." % s,
                      "violated-policies": [scope]}
    m = re.fullmatch(r'"%s";r=0;t=(\d+)' % scope, r.header("RateLimit"))
    assert m, r.header("RateLimit")
    assert s >= int(m.group(1))  # never earlier than t
    return s


def test_tutorial_flow(srv):
    """signup, login, get key, create and list books, the 6th request refused."""
    access, _, key = srv.user("tutorial")
    remaining = []
    for i in range(5):
        r = srv.books("POST", "/books/", key, {"title": "Book %d" % i}) if i < 3 else srv.books("GET", "/books/", key)
        assert r.status in (200, 201), r
        assert r.header("RateLimit-Policy") == '"api_key";q=5;w=60'
        remaining.append(int(re.search(r"r=(\d+)", r.header("RateLimit")).group(1)))
    assert remaining == [4, 3, 2, 1, 0]
    assert len(srv.books("GET", "/books/", key).json or {}) >= 0
    r = srv.books("GET", "/books/", key)
    assert r.header("Content-Type") == "application/json; charset=utf-8"
    check_429(r, "api_key")
    r = srv.books("GET", "/books/", key, headers={"Accept": "application/problem+json"})
    assert r.status == 429 and r.header("Content-Type") == "application/problem+json; charset=utf-8"
    # Regenerating the key hands out no fresh quota.
    new = srv.request("PUT", "/users/api_key/get/", headers=bearer(access)).json["data"]["key"]
    assert srv.books("GET", "/books/", key).status == 401
    check_429(srv.books("GET", "/books/", new), "api_key")
    # Other users are not affected.
    _, _, other = srv.user("tutorial2")
    assert srv.books("GET", "/books/", other).status == 200


def test_refused_requests_do_not_count(srv):
    _, _, key = srv.user("patient")
    for _ in range(5):
        assert srv.books("GET", "/books/", key).status == 200
    for _ in range(20):
        assert srv.books("GET", "/books/", key).status == 429
    r = srv.books("GET", "/books/", key)
    assert int(r.header("Retry-After")) <= 60


def test_accounts_not_throttled_by_api_key(srv):
    access, _, key = srv.user("mixed")
    for _ in range(6):
        srv.books("GET", "/books/", key)
    assert srv.request("GET", "/users/api_key/get/", headers=bearer(access)).status == 200
    assert srv.request("GET", "/healthz").status == 200


def test_window_survives_restart():
    srv = Server(args=["-o", "throttle.api_key=3/hour"])
    srv.start()
    _, _, key = srv.user("durable")
    for _ in range(3):
        assert srv.books("GET", "/books/", key).status == 200
    assert srv.books("GET", "/books/", key).status == 429
    srv.stop()
    srv.start()
    r = srv.books("GET", "/books/", key)
    assert r.status == 429, r
    assert int(r.header("Retry-After")) > 3000
    srv.stop()


def items(value):
    """[(r, t), ...] of a RateLimit field, one per window, all of policy api_key."""
    out = []
    for item in value.split(", "):
        m = re.fullmatch(r'"api_key";r=(\d+);t=(\d+)', item)
        assert m, value
        out.append((int(m.group(1)), int(m.group(2))))
    return out


def test_several_windows_all_or_nothing():
    """api_key = 2/2s, 3/minute: each window admits or none spends."""
    srv = Server(args=["-o", "throttle.api_key=2/2s, 3/minute"])
    srv.start()
    _, _, key = srv.user("windows")
    for want in ([(1, 2), (2, 60)], [(0, 2), (1, 60)]):
        r = srv.books("GET", "/books/", key)
        assert r.status == 200, r
        assert r.header("RateLimit-Policy") == '"api_key";q=2;w=2, "api_key";q=3;w=60'
        got = items(r.header("RateLimit"))
        assert [g[0] for g in got] == [w[0] for w in want] and got[0][1] <= 2, got
    r = srv.books("GET", "/books/", key)  # the 2-second window refuses ...
    assert r.status == 429, r
    assert r.json["violated-policies"] == ["api_key"]
    assert 1 <= int(r.header("Retry-After")) <= 2
    assert [g[0] for g in items(r.header("RateLimit"))] == [0, 1]  # ... and the minute spent nothing
    time.sleep(2.1)
    r = srv.books("GET", "/books/", key)
    assert r.status == 200, r
    assert [g[0] for g in items(r.header("RateLimit"))] == [1, 0]
    r = srv.books("GET", "/books/", key)  # now the minute refuses, though the 2 s window has room
    assert r.status == 429, r
    s = int(r.header("Retry-After"))
    assert 50 <= s <= 60, s
    got = items(r.header("RateLimit"))
    assert got[0][0] == 1 and got[1][0] == 0 and s >= got[1][1]
    srv.stop()


@only('sqlite-shm')
def test_segment_of_other_rates_refused():
    srv = Server(args=["-o", "throttle.api_key=3/hour"])
    srv.start()
    other = Server(args=["-o", "throttle.api_key=20/hour"], shm_name=srv.shm_name)
    try:
        other.start(timeout=10)
        raise AssertionError("started on a segment made for other rates")
    except AssertionError as e:
        assert "its api_key entries hold 8 times; this api_key rate needs 32" in str(e), e
    srv.stop()


def test_legacy_headers():
    srv = Server(args=["-o", "throttle.api_key=2/minute", "-o", "throttle.legacy_headers=yes"])
    srv.start()
    _, _, key = srv.user("legacy")
    r = srv.books("GET", "/books/", key)
    assert r.header("RateLimit-Limit") == "2" and r.header("RateLimit-Remaining") == "1"
    assert r.header("X-RateLimit-Limit") == "2" and r.header("X-RateLimit-Remaining") == "1"
    assert int(r.header("RateLimit-Reset")) == 60  # seconds, as the IETF drafts say
    assert abs(int(r.header("X-RateLimit-Reset")) - (time.time() + 60)) <= 2  # a Unix time, as GitHub's
    srv.books("GET", "/books/", key)
    r = srv.books("GET", "/books/", key)
    assert r.status == 429 and r.header("X-RateLimit-Remaining") == "0"
    srv.stop()


def test_invalid_key_stream_slowed():
    srv = Server(args=["-o", "throttle.invalid_key=3/minute"])
    srv.start()
    _, _, key = srv.user("guessed")
    for i in range(3):
        r = srv.books("GET", "/books/", "00000000-0000-4000-8000-00000000000%d" % i)
        assert r.status == 401, r
        assert r.header("RateLimit-Policy") == '"invalid_key";q=3;w=60'
    r = srv.books("GET", "/books/", "00000000-0000-4000-8000-000000000009")
    check_429(r, "invalid_key")
    # Past the limit the address learns nothing: a valid key is refused too.
    check_429(srv.books("GET", "/books/", key), "invalid_key")
    assert srv.request("GET", "/books/").status == 400  # no key at all: still 400
    srv.stop()


def test_login_and_signup_limits_before_hashing():
    srv = Server(args=["-o", "throttle.login=3/minute", "-o", "throttle.signup=2/hour"])
    srv.start()
    assert srv.signup("limited").status == 201
    assert srv.signup("limited2").status == 201
    check_429(srv.signup("limited3"), "signup", window=3600)
    for _ in range(3):
        r = srv.login("limited", "wrong-password")
        assert r.status == 401 and r.header("RateLimit-Policy") == '"login";q=3;w=60'
    r = srv.login("limited")
    check_429(r, "login")
    srv.stop()
    # The 4th login was refused before any password check ran.
    assert srv.log_text().count("POST /users/login/ 401") == 3


def test_forwarded_for_only_from_trusted_proxies():
    srv = Server(args=["-o", "throttle.login=2/minute", "-o", "server.trusted_proxies=127.0.0.0/8, ::1"])
    srv.start()
    xff = lambda v: {"X-Forwarded-For": v}
    body = {"username": "nobody", "password": "whatever"}
    for _ in range(2):
        assert srv.request("POST", "/users/login/", body, headers=xff("203.0.113.7")).status == 401
    assert srv.request("POST", "/users/login/", body, headers=xff("203.0.113.7")).status == 429
    # Another client behind the same proxy has its own window; entries left
    # of the right-most untrusted one are the client's to forge.
    assert srv.request("POST", "/users/login/", body, headers=xff("203.0.113.7, 198.51.100.1")).status == 401
    assert srv.request("POST", "/users/login/", body, headers=xff("198.51.100.2, 127.0.0.1")).status == 401
    assert srv.request("POST", "/users/login/", body, headers=xff("1.2.3.4, 203.0.113.7")).status == 429
    srv.stop()
    plain = Server(args=["-o", "throttle.login=2/minute"])
    plain.start()
    for i in range(2):
        assert plain.request("POST", "/users/login/", body, headers=xff("10.0.0.%d" % i)).status == 401
    # Not a trusted proxy: X-Forwarded-For is ignored, the peer is the client.
    assert plain.request("POST", "/users/login/", body, headers=xff("10.0.0.9")).status == 429
    plain.stop()
