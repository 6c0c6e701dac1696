"""Faults: a SIGKILL mid-burst loses no acknowledged write; a full or
read-only disk answers 503 and recovers by itself; a crash writes out the
buffered access log; running out of descriptors is survived."""
import json
import os
import re
import signal
import sqlite3
import subprocess
import threading
import time

from harness import Server

ONLY = ('sqlite-shm',)  # the backends these tests are about

FAST = ["-o", "throttle.api_key=1000000/minute"]


def burst(srv, key, stop, acked, errors):
    while not stop.is_set():
        try:
            r = srv.books("POST", "/books/", key, {"title": "t%d" % time.monotonic_ns()}, timeout=5)
        except OSError:
            return  # the server is gone
        if r.status == 201:
            acked.append(r.json["data"]["id"])
        else:
            errors.append(r.status)


def test_sigkill_during_writes_loses_nothing_acknowledged():
    srv = Server(args=FAST)
    srv.start()
    _, _, key = srv.user("durable")
    stop, acked, errors = threading.Event(), [], []
    threads = [threading.Thread(target=burst, args=(srv, key, stop, acked, errors)) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait()
    stop.set()
    for t in threads:
        t.join()
    assert srv.stop(sig=signal.SIGKILL) == -signal.SIGKILL
    assert len(acked) > 50 and errors == [], (len(acked), errors)
    db = os.path.join(srv.data_dir, "keygate.db")
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    srv.start()
    have = {b["id"] for b in srv.books("GET", "/books/", key).json["data"]}
    missing = set(acked) - have
    assert not missing, "acknowledged but lost: %r" % sorted(missing)[:10]
    print("    %d books acknowledged before SIGKILL, all present" % len(acked))
    srv.stop()


class Tmpfs:
    """A small tmpfs of our own for the data directory (we are root)."""

    def __init__(self, size):
        self.path = os.path.join(Server().tmp, "mnt")
        os.makedirs(self.path)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0700" % size, "tmpfs", self.path], check=True)

    def remount(self, mode):
        subprocess.run(["mount", "-o", "remount,%s" % mode, self.path], check=True)

    def fill(self):
        """Fill it up; return the filler's path."""
        path = os.path.join(self.path, "filler")
        # Unbuffered: a buffered file would raise again at close with
        # what the full disk refused.
        with open(path, "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
            except OSError:
                pass
        return path

    def close(self):
        subprocess.run(["umount", "-l", self.path])


UNAVAILABLE = "The database cannot store anything right now (disk full or read-only); try again later."


def test_disk_full_then_space_returns():
    fs = Tmpfs("4m")
    try:
        srv = Server(args=FAST, data_dir=os.path.join(fs.path, "data"))
        srv.start()
        _, _, key = srv.user("fuller")
        assert srv.books("POST", "/books/", key, {"title": "before"}).status == 201
        filler = fs.fill()
        codes = []
        for i in range(400):
            r = srv.books("POST", "/books/", key, {"title": "x" * 100})
            codes.append(r.status)
            if r.status == 503:
                assert r.json == {"detail": UNAVAILABLE}, r
                assert r.header("Retry-After")
                break
            assert r.status == 201, r
        assert codes[-1] == 503, codes[-5:]
        # Reads keep working; the server stays up.
        r = srv.books("GET", "/books/", key)
        assert r.status == 200 and r.json["data"][0]["title"] == "before"
        assert srv.request("GET", "/healthz").status == 200
        os.unlink(filler)
        r = srv.books("POST", "/books/", key, {"title": "after"})
        assert r.status == 201, r
        srv.stop()
    finally:
        fs.close()


def test_read_only_database_then_writable_again():
    """A database keygate may read but not write (here: a file it does not
    own, keygate running as nobody). Writes get 503, reads work; once it
    may write again, it does, without a restart."""
    srv = Server(args=FAST)
    srv.start()
    _, _, key = srv.user("readonly")
    assert srv.books("POST", "/books/", key, {"title": "before"}).status == 201
    srv.stop()
    os.unlink("/dev/shm" + srv.shm_name)  # root's; nobody makes its own
    db = os.path.join(srv.data_dir, "keygate.db")
    for p in [srv.data_dir] + [os.path.join(srv.data_dir, f) for f in os.listdir(srv.data_dir)]:
        os.chown(p, 65534, 65534)
    os.chown(db, 0, 0)
    os.chmod(db, 0o644)
    os.chmod(srv.tmp, 0o755)
    srv.prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    srv.start()
    r = srv.books("POST", "/books/", key, {"title": "refused"})
    assert r.status == 503 and r.json == {"detail": UNAVAILABLE}, r
    r = srv.books("GET", "/books/", key)
    assert r.status == 200 and [b["title"] for b in r.json["data"]] == ["before"]
    assert srv.request("GET", "/healthz").status == 200
    os.chown(db, 65534, 65534)
    r = srv.books("POST", "/books/", key, {"title": "after"})
    assert r.status == 201, r
    srv.stop()


def test_crash_writes_out_buffered_access_lines():
    """The access log is buffered by default; a crash still writes out what
    the buffers hold, then dies of its signal as before (no core here).
    SIGABRT and SIGILL: the sanitizers leave both to their default, as they
    do not SIGSEGV (sent to an ASan build, it reports and exits 1)."""
    for sig in (signal.SIGABRT, signal.SIGILL):
        srv = Server(prefix=["prlimit", "--core=0", "--"])
        srv.start()
        try:
            rids = [srv.request("GET", "/healthz").header("X-Request-Id") for _ in range(20)]
            srv.wait_completed(20)  # every line appended to its thread's buffer
            srv.proc.send_signal(sig)  # at once: the once-a-second flush has not run
            assert srv.proc.wait(10) == -sig
            text = srv.log_text()
            missing = [r for r in rids if "rid=%s GET /healthz 200" % r not in text]
            assert not missing, (sig, missing, text[-2000:])
        finally:
            srv.cleanup()


def test_out_of_descriptors_logged_once_and_recovered():
    """With its descriptors used up, keygate leaves new clients in the
    backlog, says so once (not every 50 ms retry), serves them when
    descriptors free up, and says that too."""
    import socket
    srv = Server(prefix=["prlimit", "--nofile=64", "--"])
    srv.start()
    try:
        for _ in range(10):  # every worker's database connection opened
            assert srv.request("GET", "/healthz").status == 200
        clients = []
        for _ in range(80):
            c = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\0" * 8)
            clients.append(c)
        text = srv.wait_log("Too many open files")
        time.sleep(0.5)  # ten retries' worth
        text = srv.log_text()
        assert text.count("accept: Too many open files") == 1, text[-3000:]
        for c in clients:
            c.close()
        text = srv.wait_log("accept: accepting again after")
        waited = re.search(r"accepting again after about (\d+) ms", text)
        assert waited and int(waited.group(1)) >= 250, text[-3000:]
        assert srv.request("GET", "/healthz").status == 200
    finally:
        srv.stop()
        srv.cleanup()


def test_accepting_thread_survives_poll_errors():
    """poll() failing under the accepting thread (here EINVAL: the
    descriptor limit lowered below the two descriptors it polls; a client
    arriving wakes it, accept fails with EMFILE, then every poll fails) is
    retried with a bounded back-off and logged once for the incident;
    /healthz, asked on a connection already open, reports it; once the
    limit is back keygate accepts again (the waiting client is served)
    and says so."""
    import http.client
    import socket
    srv = Server()
    srv.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        conn.request("GET", "/healthz")
        r = conn.getresponse()
        assert r.status == 200 and json.loads(r.read()) == {"status": "ok"}
        subprocess.run(["prlimit", "--pid", str(srv.proc.pid), "--nofile=1:"], check=True)
        try:
            waiting = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
            srv.wait_log("accept: Too many open files")
            time.sleep(1.5)  # polls failing meanwhile, at the back-off's cap
            conn.request("GET", "/healthz")
            r = conn.getresponse()
            body = json.loads(r.read())
            assert r.status == 503 and body == {"status": "unavailable", "failing": ["accept"]}, (r.status, body)
            assert srv.log_text().count("warn: accept: ") == 1, srv.log_text()[-2000:]
        finally:
            subprocess.run(["prlimit", "--pid", str(srv.proc.pid), "--nofile=1024:"], check=True)
        waiting.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        got = waiting.recv(4096)
        assert got.startswith(b"HTTP/1.1 "), got  # (503 until the incident settles)
        waiting.close()
        srv.wait_log("accept: accepting again after")
        conn.request("GET", "/healthz")
        r = conn.getresponse()
        assert r.status == 200 and json.loads(r.read()) == {"status": "ok"}
        assert srv.request("GET", "/healthz").status == 200  # a new connection
        conn.close()
    finally:
        srv.stop()
        srv.cleanup()
