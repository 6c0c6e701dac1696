"""The store on PostgreSQL ([database] url) with the throttle on Redis: the
account and books flows, the schema kept beside SQLite's, and two keygate
processes sharing both."""
import re
import subprocess

import harness
from harness import BIN, Server, bearer, fire
from pg import Postgres
from test_redis import Redis

ONLY = ('sqlite-shm',)  # the backends these tests are about


def servers(pg, redis, n=1, *more):
    """n keygate processes on one PostgreSQL and one Redis. Hosts share the
    secrets (JWT, API-key hashing): here, one data directory holds them."""
    out = []
    for _ in range(n):
        srv = Server(args=redis.args("-o", "database.url=" + pg.url, "-o", "throttle.api_key=25/hour", *more),
                     data_dir=out[0].data_dir if out else None)
        out.append(srv.start())
    return out


def test_flows_on_postgresql_and_redis():
    pg, redis = Postgres(), Redis()
    try:
        srv, = servers(pg, redis)
        assert "applied migration 0001_init (postgresql)" in srv.log_text()
        access, refresh, key = srv.user("pguser")
        assert srv.signup("pguser").json["info"]["username"] == ["A user with that username already exists."]
        assert srv.login("pguser", "wrong-password").status == 401
        assert srv.request("POST", "/users/login/refresh", {"refresh": refresh}).status == 200
        made = [srv.books("POST", "/books/", key, {"title": t}).json["data"] for t in ("Dune", "O'Hara; --")]
        assert [b["title"] for b in srv.books("GET", "/books/", key).json["data"]] == ["Dune", "O'Hara; --"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\d", made[0]["publication_date"])
        path = "/books/%d/" % made[0]["id"]
        assert srv.books("PATCH", path, key, {"title": "Dune II"}).json["data"]["title"] == "Dune II"
        assert srv.books("PATCH", path, key, {}).json["data"]["title"] == "Dune II"
        _, _, other = srv.user("pgother")
        assert srv.books("GET", path, other).status == 404
        assert srv.books("DELETE", path, other).status == 404
        assert srv.books("DELETE", path, key).status == 204
        assert srv.books("GET", path, key).status == 404
        new = srv.request("PUT", "/users/api_key/get/", headers=bearer(access)).json["data"]["key"]
        harness.SEEN_SECRETS.add(new)
        assert srv.books("GET", "/books/", key).status == 401
        assert srv.books("GET", "/books/", new).status == 200
        # Nothing usable at rest there either.
        assert pg.sql("SELECT count(*) FROM api_keys WHERE position(convert_to('%s', 'UTF8') in key_box) > 0"
                      % new).strip() == "0"
        assert pg.sql("SELECT password_hash LIKE '$argon2id$%' FROM users WHERE username = 'pguser'").strip() == "t"
        srv.stop()
    finally:
        redis.stop()
        pg.stop()


def test_schemas_side_by_side():
    """The PostgreSQL schema has the columns of the SQLite one, table by table."""
    pg = Postgres()
    try:
        srv = Server(args=["-o", "database.url=" + pg.url])
        srv.start()
        srv.stop()
        import sqlite3
        lite = Server()
        subprocess.run([BIN, "-d", lite.data_dir, "migrate"], check=True, capture_output=True)
        con = sqlite3.connect(lite.data_dir + "/keygate.db")
        for table in ("users", "api_keys", "books"):
            lite_cols = [r[1] for r in con.execute("PRAGMA table_info(%s)" % table)]
            pg_cols = pg.sql("SELECT column_name FROM information_schema.columns WHERE table_name = '%s' "
                             "ORDER BY ordinal_position" % table).split()
            assert lite_cols == pg_cols, (table, lite_cols, pg_cols)
        con.close()
    finally:
        pg.stop()


def test_two_processes_on_postgresql_and_redis():
    pg, redis = Postgres(), Redis()
    try:
        a, b = servers(pg, redis, 2)
        access, _, key = a.user("pgshared")
        codes = fire([a, b], key, 64, 2)
        assert codes.count(200) == 25, codes
        # A key regenerated through one is refused by it at once, and by
        # the other as soon as PostgreSQL's notification reaches it
        # (milliseconds; within a second in any case: test_revocation).
        _, _, key2 = a.user("pgrotate")
        assert b.books("GET", "/books/", key2).status == 200
        new = a.request("PUT", "/users/api_key/get/", headers=bearer(a.login("pgrotate").json["access"])).json
        harness.SEEN_SECRETS.add(new["data"]["key"])
        assert a.books("GET", "/books/", key2).status == 401
        harness.eventually(lambda: b.books("GET", "/books/", key2).status == 401)
        # A user disabled through the CLI is refused by both.
        r = subprocess.run([BIN] + a.command()[1:] + ["user", "disable", "pgrotate"], capture_output=True,
                           env=a.environ(), text=True)
        assert r.returncode == 0, r.stderr
        for srv in (a, b):
            harness.eventually(lambda: srv.books("GET", "/books/", new["data"]["key"]).status == 401)
        a.stop()
        b.stop()
    finally:
        redis.stop()
        pg.stop()


class MutingProxy:
    """A TCP proxy to PostgreSQL that can go mute: its connections closed,
    and every new one accepted and never answered (as a host that went
    away behind a firewall)."""

    def __init__(self, port):
        import socket
        import threading
        self.target, self.mute, self.conns = port, False, []
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.port = self.lsock.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        import socket
        import threading
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            self.conns.append(c)
            if self.mute:
                continue  # held open, never answered
            up = socket.create_connection(("127.0.0.1", self.target))
            self.conns.append(up)
            for a, b in ((c, up), (up, c)):
                threading.Thread(target=self.pump, args=(a, b), daemon=True).start()

    @staticmethod
    def pump(a, b):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(2)
            except OSError:
                pass

    def go_mute(self):
        import socket
        self.mute = True
        for s in list(self.conns):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.lsock.close()
        for s in self.conns:
            s.close()


def test_sigterm_while_postgresql_does_not_answer():
    """The listener for other hosts' changes connects without blocking:
    with PostgreSQL gone silent (every connection held, none answered),
    SIGTERM still stops keygate within its grace."""
    import time
    pg = Postgres()
    proxy = MutingProxy(pg.port)
    try:
        srv = Server(args=["-o", "database.url=postgresql://keygate@127.0.0.1:%d/postgres" % proxy.port])
        srv.start()
        _, _, key = srv.user("silenced")
        assert srv.books("GET", "/books/", key).status == 200
        srv.wait_log("listening for changes")
        proxy.go_mute()
        time.sleep(1.5)  # the listener is reconnecting, into the silence
        t0 = time.monotonic()
        srv.stop(timeout=20)
        assert time.monotonic() - t0 < 10
    finally:
        proxy.close()
        pg.stop()
