"""Cache-Control (API.md: Service endpoints): replies that carry a key or a
token, and every 401 and 429, say no-store; ordinary replies say nothing."""
from harness import bearer

SERVER = dict(args=["-o", "throttle.api_key=2/minute"])


def no_store(r):
    return r.header("Cache-Control") == "no-store"


def test_secrets_are_not_stored(srv):
    srv.signup("cacher")
    t = srv.login("cacher")
    assert t.status == 200 and no_store(t), t
    r = srv.request("POST", "/users/login/refresh/", {"refresh": t.json["refresh"]})
    assert r.status == 200 and no_store(r), r
    r = srv.request("GET", "/users/api_key/get/", headers=bearer(t.json["access"]))
    assert r.status == 200 and no_store(r), r
    r = srv.request("PUT", "/users/api_key/get/", headers=bearer(t.json["access"]))
    assert r.status == 200 and no_store(r), r


def test_every_401_and_429(srv):
    for r in (srv.request("POST", "/users/login/", {"username": "nobody", "password": "wrong-pass-1"}),
              srv.request("POST", "/users/login/refresh", {"refresh": "x.y.z"}),
              srv.request("GET", "/users/api_key/get/"),
              srv.request("GET", "/users/api_key/get/", headers=bearer("x.y.z")),
              srv.request("GET", "/books/", headers={"X-API-Key": "00000000-0000-0000-0000-000000000000"})):
        assert r.status == 401 and no_store(r), r
    _, _, key = srv.user("cache429")
    codes = [srv.books("GET", "/books/", key) for _ in range(3)]
    assert [r.status for r in codes] == [200, 200, 429]
    assert no_store(codes[2]), codes[2]
    assert codes[0].header("Cache-Control") is None  # a book list may be cached by the client


def test_ordinary_replies_say_nothing(srv):
    assert srv.request("GET", "/healthz").header("Cache-Control") is None
    assert srv.request("GET", "/nowhere").header("Cache-Control") is None
