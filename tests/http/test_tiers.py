"""Per-user tiers (issue 17): a [tier] gives a user's windows other
numbers; `keygate user tier NAME TIER` stores it, and it takes effect on
the user's next request, on every process, without forgetting the
window; a reload changes a tier's numbers, as it does a scope's."""
import os
import re
import signal
import subprocess
import time

from harness import BIN, Server

CONFIG = """[throttle]
api_key = 2/minute
[policy search]
match = GET /search
rate = 1/minute
[tier pro]
api_key = 5/minute
search = 3/minute
"""


def cli(srv, *args):
    return subprocess.run([BIN] + srv.command()[1:] + list(args), capture_output=True, text=True,
                          env=srv.environ(), timeout=60)


def policy_and_left(r):
    m = re.fullmatch(r'"api_key";r=(\d+);t=\d+', r.header("RateLimit") or "")
    return r.header("RateLimit-Policy"), int(m.group(1)) if m else None


def soon(check, limit=1.1):
    t0 = time.monotonic()
    while not check():
        assert time.monotonic() - t0 < limit, "not within %.1fs" % limit
        time.sleep(0.02)


def test_tier_set_by_the_cli_takes_effect_at_once_and_keeps_the_window():
    srv = Server(config_text=CONFIG)
    srv.start()
    try:
        _, _, key = srv.user("payer")
        assert policy_and_left(srv.books("GET", "/books/", key)) == ('"api_key";q=2;w=60', 1)
        assert srv.books("GET", "/books/", key).status == 200
        assert srv.books("GET", "/books/", key).status == 429
        r = cli(srv, "user", "tier", "payer", "pro")
        assert r.returncode == 0 and "tier pro" in r.stdout, r.stderr
        # The two admissions are still in the window: 5 - 2 - this one.
        soon(lambda: srv.books("GET", "/books/", key).status == 200)
        assert policy_and_left(srv.books("GET", "/books/", key)) == ('"api_key";q=5;w=60', 1)
        # A policy the tier names: its numbers too.
        r = srv.request("GET", "/verify", headers={"Authorization": key, "X-Forwarded-Method": "GET",
                                                   "X-Forwarded-Uri": "/search"})
        assert r.status == 200 and r.header("RateLimit-Policy") == '"search";q=3;w=60', r
        q = cli(srv, "quota", "show", "payer")
        assert "api_key 5/60s: used 4, remaining 1" in q.stdout, q.stdout
        assert cli(srv, "user", "tier", "payer", "default").returncode == 0
        soon(lambda: srv.books("GET", "/books/", key).status == 429)
        assert srv.books("GET", "/books/", key).header("RateLimit-Policy") == '"api_key";q=2;w=60'
        r = cli(srv, "user", "tier", "payer", "gold")
        assert r.returncode == 1 and "no [tier gold]" in r.stderr and "pro, default" in r.stderr, r.stderr
        assert cli(srv, "user", "tier", "nobody-here", "pro").returncode == 1
        assert cli(srv, "user", "tier", "payer").returncode == 2  # usage
    finally:
        srv.stop()


def test_tier_reaches_another_process_within_a_second():
    """Two processes on one database, each with its own segment (as two
    hosts): the tier set through one is used by the other."""
    args = ["-o", "throttle.backend=shm"]
    a = Server(config_text=CONFIG, args=args).start()
    b = Server(config_text=CONFIG, args=args, data_dir=a.data_dir).start()
    try:
        _, _, key = a.user("roaming")
        assert b.books("GET", "/books/", key).header("RateLimit-Policy") == '"api_key";q=2;w=60'
        assert cli(a, "user", "tier", "roaming", "pro").returncode == 0
        soon(lambda: b.books("GET", "/books/", key).header("RateLimit-Policy") == '"api_key";q=5;w=60')
    finally:
        b.stop()
        a.stop()


def test_reload_changes_a_tiers_numbers_without_forgetting():
    srv = Server(config_text=CONFIG)
    srv.start()
    try:
        _, _, key = srv.user("reloaded")
        assert cli(srv, "user", "tier", "reloaded", "pro").returncode == 0
        for _ in range(3):
            assert srv.books("GET", "/books/", key).status == 200
        with open(os.path.join(srv.tmp, "keygate.ini"), "w") as f:
            f.write(CONFIG.replace("api_key = 5/minute", "api_key = 7/minute"))
        os.kill(srv.proc.pid, signal.SIGHUP)
        srv.wait_log("reload: configuration applied")
        assert policy_and_left(srv.books("GET", "/books/", key)) == ('"api_key";q=7;w=60', 3)
    finally:
        srv.stop()


def test_tier_config_errors_stop_startup():
    for text, want in (("[tier pro]\napi_key = 5/minute, 10/day\n", "2 windows where the scope has 1"),
                       ("[tier pro]\nsearch = 5/minute\n", "neither api_key nor a [policy] name"),
                       ("[tier Pro]\napi_key = 5/minute\n", "a tier name is 1 to 32")):
        srv = Server(config_text=text)
        try:
            srv.start(timeout=10)
            raise AssertionError("started with " + text)
        except AssertionError as e:
            assert want in str(e), e
