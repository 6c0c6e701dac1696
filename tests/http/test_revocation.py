"""API.md "Revocation" on every backend: a regenerated key, a disabled user
are refused by the process that made the change at once, and by every
other process on the database within one second, however the change was
made (keygate, its admin CLI, an SQL shell, a process killed right after
its commit), while each HTTP thread keeps the keys and lists it read."""
import http.client
import json
import subprocess
import time

from harness import BIN, Server, bearer

ARGS = ["-o", "throttle.api_key=100000/minute", "-o", "server.threads=2"]
LIMIT_S = 1.1  # the one second of store_epoch.h, and a request's own time


def statuses(srv, key, n=6, path="/books/"):
    """One GET on each of n connections open at once. libmicrohttpd gives
    a connection to the worker its descriptor number picks; one after
    another, they would reuse one descriptor and all meet one thread."""
    conns = [http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30) for _ in range(n)]
    try:
        for c in conns:
            c.connect()
        out = []
        for c in conns:
            c.request("GET", path, headers={"Authorization": key})
            r = c.getresponse()
            r.read()
            out.append(r.status)
        return out
    finally:
        for c in conns:
            c.close()


def refused_within(srv, key, status=401):
    """Seconds until every thread refuses key (asserted within LIMIT_S)."""
    t0 = time.monotonic()
    while True:
        got = statuses(srv, key)
        waited = time.monotonic() - t0
        if got == [status] * len(got):
            return waited
        assert waited < LIMIT_S, "still %r after %.2fs" % (got, waited)
        time.sleep(0.02)


def two_hosts():
    """Two processes on one database, each with its own throttle segment
    (as on two hosts: on PostgreSQL they share nothing else)."""
    args = ARGS + ["-o", "throttle.backend=shm"]
    a = Server(args=args).start()
    b = Server(args=args, data_dir=a.data_dir).start()
    assert a.shm_name != b.shm_name
    return a, b


def stop_all(*servers):
    for s in servers:
        s.stop()
        s.cleanup()


def cli(srv, *args, prefix=()):
    return subprocess.run(list(prefix) + [BIN] + srv.command()[1:] + list(args), capture_output=True, text=True,
                          env=srv.environ(), timeout=60)


def test_sql_shell_disable_refused_within_a_second(pg):
    srv = Server(args=ARGS).start()
    try:
        access, _, key = srv.user("shelled")
        assert statuses(srv, key) == [200] * 6  # kept by every thread now
        srv.sql("UPDATE users SET is_active = %s WHERE username = 'shelled'" %
                ("false" if pg is not None else "0"))
        refused_within(srv, key)
        assert srv.books("GET", "/books/", None, headers=bearer(access)).status == 401
    finally:
        stop_all(srv)


def test_sql_shell_emptying_the_keys_refused_within_a_second(pg):
    """DELETE without WHERE (SQLite) and TRUNCATE (PostgreSQL: no row
    trigger fires) bump the epochs too."""
    srv = Server(args=ARGS).start()
    try:
        _, _, key = srv.user("emptied")
        assert statuses(srv, key) == [200] * 6
        srv.sql("TRUNCATE api_keys" if pg is not None else "DELETE FROM api_keys")
        refused_within(srv, key)
    finally:
        stop_all(srv)


def test_regenerated_on_one_host_refused_by_the_other():
    a, b = two_hosts()
    try:
        access, _, key = a.user("rotated")
        assert statuses(b, key) == [200] * 6 and statuses(a, key) == [200] * 6
        new = a.request("PUT", "/users/api_key/get/", headers=bearer(access)).json["data"]["key"]
        assert statuses(a, key) == [401] * 6  # the process that made it: at once
        refused_within(b, key)
        assert statuses(b, new) == [200] * 6
    finally:
        stop_all(b, a)


def test_cli_disable_on_one_host_refused_by_the_other():
    a, b = two_hosts()
    try:
        _, _, key = a.user("clidisabled")
        assert statuses(b, key) == [200] * 6
        r = cli(a, "user", "disable", "clidisabled")
        assert r.returncode == 0, r.stderr
        refused_within(b, key)
        assert cli(a, "user", "enable", "clidisabled").returncode == 0
        refused_within(b, key, status=200)  # and back, as surely
    finally:
        stop_all(b, a)


def test_killed_right_after_its_commit_leaves_no_stale_key():
    """The admin CLI killed (SIGKILL, under gdb) at the first instruction
    after its COMMIT, before it could signal anyone: the change is in the
    database with the counters its transaction bumped."""
    srv = Server(args=ARGS).start()
    try:
        _, _, key = srv.user("killed")
        assert statuses(srv, key) == [200] * 6
        gdb = ["gdb", "-q", "-batch", "-ex", "set breakpoint pending on", "-ex", "break store_epoch_keys_changed",
               "-ex", "run", "-ex", "signal SIGKILL", "--args"]
        r = cli(srv, "user", "disable", "killed", prefix=gdb)
        assert "Breakpoint 1, store_epoch_keys_changed" in r.stdout, r.stdout + r.stderr
        assert "user killed (id" not in r.stdout  # it never reported success: it died first
        refused_within(srv, key)
    finally:
        stop_all(srv)


def test_book_added_through_another_host_listed_within_a_second():
    a, b = two_hosts()
    try:
        _, _, key = a.user("lister")
        def lists(srv):
            conns = [http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30) for _ in range(6)]
            try:
                out = []
                for c in conns:
                    c.connect()
                for c in conns:
                    c.request("GET", "/books/", headers={"Authorization": key})
                    out.append(json.loads(c.getresponse().read())["data"])
                return out
            finally:
                for c in conns:
                    c.close()
        assert lists(b) == [[]] * 6
        made = a.books("POST", "/books/", key, {"title": "Elsewhere"}).json["data"]
        assert lists(a) == [[made]] * 6  # the writing process: at once
        t0 = time.monotonic()
        while lists(b) != [[made]] * 6:
            assert time.monotonic() - t0 < LIMIT_S, lists(b)
            time.sleep(0.02)
    finally:
        stop_all(b, a)


def test_signup_keeps_other_users_cached(pg):
    """A signup changes no epoch (a new key was never cached): seen through
    a key whose row is changed behind keygate's back with the trigger that
    would tell it dropped. Its kept entry answers until something else
    changes keys (here: another user's regenerated key)."""
    srv = Server(args=ARGS).start()
    try:
        _, _, key = srv.user("kept")
        access2, _, _ = srv.user("other")
        assert statuses(srv, key) == [200] * 6
        if pg is not None:
            # Once listening, the listener empties every cache (it may
            # have missed notifications): let that be before, not after.
            srv.wait_log("listening for changes")
            assert statuses(srv, key) == [200] * 6
            srv.sql("DROP TRIGGER keygate_epoch_keys ON api_keys")
            srv.sql("UPDATE api_keys SET key_hash = decode(md5(random()::text) || md5(random()::text), 'hex') "
                    "WHERE user_id = (SELECT id FROM users WHERE username = 'kept')")
        else:
            srv.sql("DROP TRIGGER keygate_epoch_key_update")
            srv.sql("UPDATE api_keys SET key_hash = randomblob(32) "
                    "WHERE user_id = (SELECT id FROM users WHERE username = 'kept')")
        time.sleep(1.2)  # past a confirmation: the counters did not move
        assert statuses(srv, key) == [200] * 6
        srv.signup("newcomer")
        assert statuses(srv, key) == [200] * 6
        srv.request("PUT", "/users/api_key/get/", headers=bearer(access2))
        assert statuses(srv, key) == [401] * 6
    finally:
        stop_all(srv)
