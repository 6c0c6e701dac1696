"""Black-box harness: start the real keygate binary and talk HTTP to it.

Each Server gets its own temporary data directory, shared-memory name and
an ephemeral port (port 0; the port is read from the start-up log line).
"""
import base64
import fcntl
import hashlib
import hmac
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

BIN = os.environ.get("KG_TEST_BIN", "build/keygate")
# The backends every server started now uses: sqlite-shm, sqlite-redis or
# pg-redis. conftest.py's session fixture sets CONFIG and starts the Redis
# and PostgreSQL the configuration needs (MATRIX).
CONFIG = "sqlite-shm"
MATRIX = {"redis": None, "pg": None, "dbs": {}}
CONFIGS_ALL = ("sqlite-shm", "sqlite-redis", "pg-redis")


def only(*configs):
    """Mark a test that applies to these configurations alone (it looks at
    SQLite files or the shared-memory segment, say)."""
    def mark(fn):
        fn.only = configs
        return fn
    return mark
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "WARNING: ThreadSanitizer", "ERROR: ThreadSanitizer")
# Secrets seen by tests; conftest.py checks none of them reached a log.
SEEN_SECRETS = set()


class Reply:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    def header(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        return "<%d %r %r>" % (self.status, self.headers, self.body[:300])


# Every reply the suite receives through Server.request, one JSON line each,
# for tests/openapi/responses.mjs to validate against docs/openapi.yaml
# after the run (tests/run.sh sets the file).
RECORD_PATH = os.environ.get("KG_OPENAPI_RECORD")
_record_lock = __import__("threading").Lock()


def record_response(method, path, reply):
    if not RECORD_PATH:
        return
    line = json.dumps({"method": method, "path": path.split("?", 1)[0], "status": reply.status,
                       "headers": reply.headers, "body": reply.body}) + "\n"
    # Locked across threads and across xdist's worker processes: no two
    # lines interleave, however long.
    with _record_lock, open(RECORD_PATH, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.write(line)
        f.flush()


class Server:
    def __init__(self, args=(), env=None, data_dir=None, config_text=None, shm_name=None, prefix=(), tmp_dir=None):
        self.tmp = tempfile.mkdtemp(prefix="kg-test-", dir=tmp_dir)  # the log, and data_dir by default
        self.data_dir = data_dir or os.path.join(self.tmp, "data")
        self.log_path = os.path.join(self.tmp, "keygate.log")
        self.shm_name = shm_name or "/kg-test-%d-%s" % (os.getpid(), os.path.basename(self.tmp))
        self.args = list(args)
        self.prefix = list(prefix)  # e.g. setpriv, to run as another user
        self.env = dict(env or {})
        self.config_text = config_text
        self.proc = None
        self.port = None

    def command(self):
        # Per-address limits high enough that only the tests of them meet
        # them; a small table keeps the segment small; a Redis timeout that
        # a loaded machine (or a sanitizer build) does not meet by chance,
        # where the 100 ms default gave stray 503s. Tests override any.
        cmd = [BIN, "-l", "127.0.0.1:0", "-d", self.data_dir,
               "-o", "throttle.shm_name=" + self.shm_name, "-o", "server.shutdown_grace=5s", "-o", "throttle.redis_timeout=2s",
               "-o", "throttle.capacity=1024", "-o", "throttle.login=100000/m",
               "-o", "throttle.signup=100000/m", "-o", "throttle.invalid_key=100000/m",
               "-o", "server.admin_listen=127.0.0.1:0"] + self.matrix_args()
        if self.config_text is not None:
            path = os.path.join(self.tmp, "keygate.ini")
            with open(path, "w") as f:
                f.write(self.config_text)
            cmd += ["-c", path]
        return cmd + self.args

    def db_tag(self):
        """The PostgreSQL database of this server's data directory."""
        return "kg%d" % (abs(hash(self.data_dir)) % 10**9)

    def sql(self, statement):
        """Run statement on the server's database as an SQL shell would,
        behind keygate's back (sqlite3 or psql)."""
        if MATRIX["pg"] is not None:
            return MATRIX["pg"].sql(statement, db=self.db_tag())
        import sqlite3
        db = sqlite3.connect(os.path.join(self.data_dir, "keygate.db"), timeout=10)
        try:
            rows = db.execute(statement).fetchall()
            db.commit()
            return rows
        finally:
            db.close()

    def matrix_args(self):
        """Backends of the configuration under test; a test's own -o
        options come later and win. Servers sharing a data directory share
        a database and a Redis prefix, as processes of one site do."""
        args = []
        tag = self.db_tag()
        if MATRIX["redis"] is not None:
            args += ["-o", "throttle.backend=redis", "-o", "throttle.redis_address=127.0.0.1:%d" % MATRIX["redis"].port,
                     "-o", "throttle.redis_prefix=%s:" % tag]
        if MATRIX["pg"] is not None:
            if tag not in MATRIX["dbs"]:
                MATRIX["pg"].sql("CREATE DATABASE %s" % tag)
                MATRIX["dbs"][tag] = True
            args += ["-o", "database.url=" + MATRIX["pg"].url.rsplit("/", 1)[0] + "/" + tag]
        return args

    def environ(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("KEYGATE_")}
        env.update(self.env)
        return env

    def start(self, timeout=20):
        # A second start without a stop would leave the first process behind.
        assert self.proc is None or self.proc.poll() is not None, "start() of a running server"
        self.log = open(self.log_path, "ab")
        offset = self.log.tell()
        self.proc = subprocess.Popen(self.prefix + self.command(), stdout=self.log, stderr=self.log,
                                     stdin=subprocess.DEVNULL, env=self.environ())
        deadline = time.time() + timeout
        while time.time() < deadline:
            text = self.log_text()[offset:]
            m = re.search(r"listening on .* \(port (\d+)\)", text)
            if m:
                self.port = int(m.group(1))
                a = re.search(r"metrics on \S+ \(port (\d+)\)", text)
                self.admin_port = int(a.group(1)) if a else None
                return self
            if self.proc.poll() is not None:
                raise AssertionError("keygate exited %d at start:\n%s" % (self.proc.returncode, self.log_text()))
            time.sleep(0.02)
        raise AssertionError("keygate did not start:\n" + self.log_text())

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_log(self, needle, timeout=5):
        """The log text once it holds needle (the access line of a request
        is written when MHD completes it, just after the reply is sent)."""
        deadline = time.time() + timeout
        while True:
            text = self.log_text()
            if needle in text or time.time() > deadline:
                return text
            time.sleep(0.01)

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Stop the server; assert it exits 0 with no sanitizer report."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("keygate did not stop within %ds" % timeout)
        finally:
            self.log.close()
        self.proc = None
        text = self.log_text()
        for mark in SANITIZER_MARKS:
            assert mark not in text, "sanitizer report in the log:\n" + text[-4000:]
        if sig in (signal.SIGTERM, signal.SIGINT):
            assert rc == 0, "keygate exited %d:\n%s" % (rc, text[-3000:])
        return rc

    def cleanup(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        try:
            os.unlink("/dev/shm" + self.shm_name)
        except OSError:
            pass
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- HTTP ---------------------------------------------------------------
    def request(self, method, path, body=None, headers=None, raw=None, content_type="application/json",
                timeout=30):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        hdrs = dict(headers or {})
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
        if data is not None and content_type is not None and "Content-Type" not in hdrs:
            hdrs["Content-Type"] = content_type
        try:
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            reply = Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read().decode("utf-8", "replace"))
        finally:
            conn.close()
        assert reply.header("X-Request-Id"), "no X-Request-Id on %s %s" % (method, path)
        record_response(method, path, reply)
        return reply

    def metrics(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.admin_port, timeout=10)
        conn.request("GET", "/metrics")
        r = conn.getresponse()
        body = r.read().decode()
        conn.close()
        assert r.status == 200, (r.status, body)
        assert r.getheader("Content-Type").startswith("text/plain; version=0.0.4")
        return body

    def wait_completed(self, count, timeout=5):
        """The /metrics text once at least count requests have completed.
        keygate counts a request (and appends its access line, just before)
        when libmicrohttpd reports it complete, which is after the client
        has read the reply: a test that looks at either right after its
        last reply must wait for this."""
        deadline = time.time() + timeout
        while True:
            text = self.metrics()
            m = re.search(r"^keygate_http_request_duration_seconds_count (\d+)", text, re.M)
            if (m and int(m.group(1)) >= count) or time.time() > deadline:
                return text
            time.sleep(0.01)

    def raw(self, data, timeout=10):
        """Send raw bytes; return everything the server answers until it closes or goes quiet."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        try:
            s.sendall(data)
            chunks = []
            while True:
                try:
                    b = s.recv(65536)
                except socket.timeout:
                    break
                if not b:
                    break
                chunks.append(b)
            return b"".join(chunks).decode("utf-8", "replace")
        finally:
            s.close()

    # -- the account flow ---------------------------------------------------
    def signup(self, username, password="correct-horse-9", email=None):
        body = {"username": username, "password": password}
        if email is not None:
            body["email"] = email
        SEEN_SECRETS.add(password)
        return self.request("POST", "/users/signup/", body)

    def login(self, username, password="correct-horse-9"):
        r = self.request("POST", "/users/login/", {"username": username, "password": password})
        if r.status == 200:
            SEEN_SECRETS.update([r.json["access"], r.json["refresh"]])
        return r

    def user(self, username, password="correct-horse-9"):
        """Sign up and log in; return (access, refresh, key)."""
        r = self.signup(username, password)
        assert r.status == 201, r
        t = self.login(username, password)
        assert t.status == 200, t
        k = self.request("GET", "/users/api_key/get/", headers={"Authorization": "Bearer " + t.json["access"]})
        assert k.status == 200, k
        SEEN_SECRETS.add(k.json["data"]["key"])
        return t.json["access"], t.json["refresh"], k.json["data"]["key"]

    def books(self, method, path, key, body=None, headers=None, **kw):
        h = {"Authorization": key}
        h.update(headers or {})
        return self.request(method, path, body, headers=h, **kw)

    def jwt_secret(self):
        with open(os.path.join(self.data_dir, "jwt.secret"), "rb") as f:
            s = f.read()
        return s[:-1] if s.endswith(b"\n") else s


def fire(servers, key, clients, per_client):
    """clients threads, spread over servers, each sending per_client
    GET /books/ with key; the statuses, in no particular order."""
    import threading
    codes, lock = [], threading.Lock()

    def client(i):
        srv = servers[i % len(servers)]
        for _ in range(per_client):
            r = srv.books("GET", "/books/", key)
            with lock:
                codes.append(r.status)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return codes


def eventually(check, within=1.1):
    """Poll check() until it is true; assert that happened within `within`
    seconds (a change another process made reaches this one's caches in
    at most one second: store.h)."""
    t0 = time.monotonic()
    while not check():
        assert time.monotonic() - t0 < within, "not true after %.2fs" % (time.monotonic() - t0)
        time.sleep(0.02)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def claims(token):
    return json.loads(b64url_decode(token.split(".")[1]))


def forge(secret, payload, header=None, alg="sha256"):
    """A JWT signed with HMAC over any header and payload we like."""
    header = header or {"alg": "HS256", "typ": "JWT"}
    signing = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(payload).encode())
    if alg is None:
        return signing + "."
    sig = hmac.new(secret, signing.encode(), getattr(hashlib, alg)).digest()
    return signing + "." + b64url(sig)


def signed_with(token, secret):
    """Whether token carries a valid HS256 signature made with secret."""
    signing, _, sig = token.rpartition(".")
    return hmac.compare_digest(b64url(hmac.new(secret, signing.encode(), hashlib.sha256).digest()), sig)


def bearer(token):
    return {"Authorization": "Bearer " + token}


ALL_SERVERS = []
_orig_init = Server.__init__


def _registering_init(self, *a, **kw):
    _orig_init(self, *a, **kw)
    ALL_SERVERS.append(self)


Server.__init__ = _registering_init
