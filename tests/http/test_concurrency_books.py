"""Exact limits under concurrency: threads in one keygate, and two keygate
processes sharing one segment and one database. Run under ThreadSanitizer
by `make check` (TEST_ONLY=concurrency)."""
import re

from harness import Server, bearer, eventually, fire


def test_64_clients_one_key_exactly_n():
    srv = Server(args=["-o", "throttle.api_key=20/hour", "-o", "server.threads=2"])
    srv.start()
    _, _, key = srv.user("hammered")
    codes = fire([srv], key, 64, 3)
    assert codes.count(200) == 20, codes
    assert codes.count(429) == 64 * 3 - 20
    srv.stop()


def test_two_processes_several_windows_exact():
    """The tighter of two windows binds exactly across two processes, and
    no refusal spends the other: 11/hour, 30/day admits 11 of 128, and the
    day window then has 19 left."""
    args = ["-o", "throttle.api_key=11/hour, 30/day", "-o", "server.threads=2"]
    a = Server(args=args)
    a.start()
    b = Server(args=args, data_dir=a.data_dir, shm_name=a.shm_name)
    b.start()
    _, _, key = a.user("windowed")
    codes = fire([a, b], key, 64, 2)
    assert codes.count(200) == 11, codes
    r = b.books("GET", "/books/", key)
    assert r.status == 429, r
    assert re.fullmatch(r'"api_key";r=0;t=\d+, "api_key";r=19;t=\d+', r.header("RateLimit")), r.header("RateLimit")
    b.stop()
    a.stop()


def test_two_processes_share_limits_and_keys(pg):
    args = ["-o", "throttle.api_key=25/hour", "-o", "server.threads=2"]
    a = Server(args=args)
    a.start()
    b = Server(args=args, data_dir=a.data_dir, shm_name=a.shm_name)
    b.start()
    assert a.port != b.port
    access, _, key = a.user("shared")
    codes = fire([a, b], key, 64, 2)
    assert codes.count(200) == 25, codes
    # A key regenerated through one process is refused by the other: at
    # once on one SQLite file, within a second on PostgreSQL (store.h).
    new = b.request("PUT", "/users/api_key/get/", headers=bearer(access)).json["data"]["key"]
    if pg is not None:
        eventually(lambda: a.books("GET", "/books/", key).status == 401)
    assert a.books("GET", "/books/", key).status == 401
    assert a.books("GET", "/books/", new).status == 429  # same user, same window
    b.stop()
    a.stop()
