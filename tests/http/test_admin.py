"""The admin CLI works on the same database and segment as a running server."""
import re
import subprocess

import harness
from harness import BIN, bearer

SERVER = dict(args=["-o", "throttle.api_key=3/hour"])


def cli(srv, *args):
    r = subprocess.run([BIN] + srv.command()[1:] + list(args), capture_output=True, text=True,
                       env=srv.environ(), timeout=60)
    return r


def test_user_list(srv):
    srv.signup("listed", email="listed@example.com")
    r = cli(srv, "user", "list")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["ID", "USERNAME", "EMAIL", "STATUS", "JOINED"]
    row = [l for l in lines if " listed " in l][0].split()
    assert row[1:4] == ["listed", "listed@example.com", "active"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", row[4])


def soon(check):
    """On one SQLite file the CLI's change reaches the server's caches at
    once; on PostgreSQL with its notification, within a second (store.h)."""
    if harness.MATRIX["pg"] is not None:
        harness.eventually(check)
    assert check()


def test_user_disable_refuses_tokens_and_key(srv):
    access, refresh, key = srv.user("disabled")
    assert srv.books("GET", "/books/", key).status == 200
    r = cli(srv, "user", "disable", "disabled")
    assert r.returncode == 0 and "disabled" in r.stdout, r.stderr
    soon(lambda: srv.books("GET", "/books/", key).status == 401)
    assert srv.request("GET", "/users/api_key/get/", headers=bearer(access)).status == 401
    assert srv.request("POST", "/users/login/refresh", {"refresh": refresh}).status == 401
    assert srv.login("disabled").status == 401
    assert cli(srv, "user", "enable", "disabled").returncode == 0
    soon(lambda: srv.books("GET", "/books/", key).status == 200)
    assert cli(srv, "user", "disable", "nobody-at-all").returncode == 1


def test_key_regenerate(srv):
    access, _, key = srv.user("rekeyed")
    r = cli(srv, "key", "regenerate", "rekeyed")
    assert r.returncode == 0, r.stderr
    new = r.stdout.strip()
    harness.SEEN_SECRETS.add(new)
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", new)
    assert srv.books("GET", "/books/", key).status == 401
    assert srv.books("GET", "/books/", new).status == 200
    assert srv.request("GET", "/users/api_key/get/", headers=bearer(access)).json["data"]["key"] == new
    assert new not in r.stderr


def test_quota_show_and_reset(srv):
    _, _, key = srv.user("quota")
    r = cli(srv, "quota", "show", "quota")
    assert "api_key 3/3600s: used 0, remaining 3" in r.stdout, r.stdout
    for _ in range(3):
        assert srv.books("GET", "/books/", key).status == 200
    assert srv.books("GET", "/books/", key).status == 429
    for _ in range(2):  # showing spends nothing
        r = cli(srv, "quota", "show", "quota")
        assert r.returncode == 0 and "used 3, remaining 0" in r.stdout, r.stdout
    assert re.search(r"next slot frees in (\d+)s", r.stdout)
    assert cli(srv, "quota", "reset", "quota").returncode == 0
    assert srv.books("GET", "/books/", key).status == 200
    assert cli(srv, "quota", "show", "nobody-here").returncode == 1
    assert cli(srv, "quota", "bogus", "x").returncode == 2


def test_healthcheck(srv):
    r = subprocess.run([BIN, "healthcheck", "http://127.0.0.1:%d/healthz" % srv.port], capture_output=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([BIN, "healthcheck", "http://127.0.0.1:%d/nope" % srv.port], capture_output=True, text=True)
    assert r.returncode == 1 and "404" in r.stderr
    r = subprocess.run([BIN, "-l", "0.0.0.0:%d" % srv.port, "healthcheck"], capture_output=True)
    assert r.returncode == 0
    r = subprocess.run([BIN, "healthcheck", "http://127.0.0.1:1/healthz"], capture_output=True)
    assert r.returncode == 1
