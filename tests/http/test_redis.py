"""The throttle on Redis ([throttle] backend = redis): the same exact
window, shared by keygate processes through Redis, and on_error when
Redis goes away, with recovery when it returns."""
import http.client
import re
import socket
import subprocess
import time

from harness import Server, fire

ONLY = ('sqlite-shm',)  # the backends these tests are about


class Redis:
    def __init__(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        self.proc = None
        self.start()

    def start(self):
        # Also on a Unix socket of its own, for keygate on the same host.
        self.socket = "/tmp/kg-redis-%d.sock" % self.port
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--unixsocket", self.socket, "--unixsocketperm", "700",
                                      "--save", "", "--appendonly", "no"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(500):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as c:
                    c.sendall(b"PING\r\n")
                    if c.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.01)
        raise AssertionError("redis-server did not start")

    def stop(self):
        self.proc.kill()
        self.proc.wait()

    def args(self, *more):
        return ["-o", "throttle.backend=redis", "-o", "throttle.redis_address=127.0.0.1:%d" % self.port] + list(more)


def test_unix_socket_address():
    """redis_address may be a Unix socket's path (Redis on the same host,
    without TCP): the same exact window."""
    redis = Redis()
    try:
        for i, address in enumerate((redis.socket, "unix:" + redis.socket)):
            srv = Server(args=["-o", "throttle.backend=redis", "-o", "throttle.redis_address=" + address,
                               "-o", "throttle.redis_prefix=unix%d:" % i, "-o", "throttle.api_key=2/minute"])
            srv.start()
            _, _, key = srv.user("unixsock")
            assert [srv.books("GET", "/books/", key).status for _ in range(3)] == [200, 200, 429]
            srv.stop()
        srv = Server(args=["-o", "throttle.backend=redis", "-o", "throttle.redis_address=redis.internal:0"])
        try:
            srv.start(timeout=10)
            raise AssertionError("started with port 0")
        except AssertionError as e:
            assert "expected HOST:PORT, or the path of a Unix socket" in str(e), e
    finally:
        redis.stop()


def test_exact_window_on_redis():
    redis = Redis()
    try:
        srv = Server(args=redis.args("-o", "throttle.api_key=5/minute"))
        srv.start()
        _, _, key = srv.user("onredis")
        for i in range(5):
            r = srv.books("GET", "/books/", key)
            assert r.status == 200, r
            assert r.header("RateLimit") == '"api_key";r=%d;t=%s' % (4 - i, r.header("RateLimit").split("t=")[1])
        r = srv.books("GET", "/books/", key)
        assert r.status == 429 and 55 <= int(r.header("Retry-After")) <= 60, r
        srv.stop()
    finally:
        redis.stop()


def test_two_processes_share_one_redis():
    redis = Redis()
    try:
        a = Server(args=redis.args("-o", "throttle.api_key=25/hour"))
        a.start()
        b = Server(args=redis.args("-o", "throttle.api_key=25/hour"), data_dir=a.data_dir)
        b.start()
        _, _, key = a.user("shared-redis")
        codes = fire([a, b], key, 64, 2)
        assert codes.count(200) == 25 and codes.count(429) == 128 - 25, codes
        a.stop()
        b.stop()
    finally:
        redis.stop()


def test_redis_away_then_back():
    redis = Redis()
    try:
        srv = Server(args=redis.args("-o", "throttle.api_key=100/minute", "-o", "throttle.redis_timeout=200ms"))
        srv.start()
        _, _, key = srv.user("flaky")
        assert srv.books("GET", "/books/", key).status == 200
        redis.stop()
        t0 = time.monotonic()
        r = srv.books("GET", "/books/", key)
        assert r.status == 503, r  # on_error = deny
        codes = [srv.books("GET", "/books/", key).status for _ in range(20)]
        assert codes == [503] * 20, codes
        assert time.monotonic() - t0 < 5  # answers fast, no stuck threads
        assert srv.request("GET", "/healthz").status == 503
        assert srv.log_text().count("throttled requests get [throttle] on_error") == 1  # once per incident
        # Counted as the throttle's failures, not the database's.
        text = srv.metrics()
        assert float(re.search(r"^keygate_throttle_errors_total (\S+)$", text, re.M).group(1)) >= 1, text
        assert re.search(r'^keygate_store_errors_total\{kind="unavailable"\} 0$', text, re.M), text
        redis.start()
        deadline = time.time() + 10
        while srv.books("GET", "/books/", key).status != 200:
            assert time.time() < deadline, srv.log_text()[-1500:]
            time.sleep(0.2)
        assert "answers again" in srv.log_text()
        # A thread whose own connection failed tries again after a second.
        deadline = time.time() + 3
        while srv.request("GET", "/healthz").status != 200:
            assert time.time() < deadline, srv.log_text()[-1500:]
            time.sleep(0.1)
        assert srv.proc.poll() is None
        srv.stop()
    finally:
        redis.stop()


def test_redis_away_with_on_error_allow():
    redis = Redis()
    try:
        srv = Server(args=redis.args("-o", "throttle.on_error=allow", "-o", "throttle.api_key=1/hour"))
        srv.start()
        _, _, key = srv.user("allowed")
        assert srv.books("GET", "/books/", key).status == 200
        assert srv.books("GET", "/books/", key).status == 429
        redis.stop()
        # Chosen by the operator: admitted, unthrottled, while Redis is away.
        assert [srv.books("GET", "/books/", key).status for _ in range(3)] == [200] * 3
        srv.stop()
    finally:
        redis.stop()


def redis_info(redis, section):
    """INFO section of redis as a dict."""
    with socket.create_connection(("127.0.0.1", redis.port), timeout=5) as c:
        c.sendall(b"INFO %s\r\n" % section.encode())
        data = b""
        while True:
            data += c.recv(65536)
            head, _, rest = data.partition(b"\r\n")
            if head.startswith(b"$") and len(rest) >= int(head[1:]):
                break
    out = {}
    for line in rest.decode().splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            out[k] = v
    return out


def test_decisions_pipelined_and_exact():
    """Decisions that queue while one is out go to Redis together, in one
    call of the script, each still exact and each with its own answer.
    Redis is paused so that they queue: once it answers, the 16 requests'
    decisions take a few calls and reads on its side (one each in place),
    exactly 8 of them are admitted, 8 left of a 12/hour key, and the
    admitted ones are told 7, 6, ... 0 left, one each, as so many
    decisions in a row are. Four requests before, on connections open at
    once (each HTTP thread gets some), warm the threads' key caches: a key
    looked up is charged to the address in place first (invalid_key)."""
    import signal
    import threading
    redis = Redis()
    try:
        srv = Server(args=redis.args("-o", "throttle.api_key=12/hour", "-o", "throttle.redis_timeout=5s"))
        srv.start()
        _, _, key = srv.user("pipelined")
        warm = [http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10) for _ in range(4)]
        for c in warm:
            c.connect()
        for c in warm:
            c.request("GET", "/books/", headers={"Authorization": key})
            r = c.getresponse()
            r.read()
            assert r.status == 200, r.status
            c.close()
        reads0 = int(redis_info(redis, "stats")["total_reads_processed"])
        calls0 = evalsha_calls(redis)
        redis.proc.send_signal(signal.SIGSTOP)
        replies = []
        threads = [threading.Thread(target=lambda: replies.append(srv.books("GET", "/books/", key)))
                   for _ in range(16)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        redis.proc.send_signal(signal.SIGCONT)
        for t in threads:
            t.join(10)
        calls = evalsha_calls(redis) - calls0
        reads = int(redis_info(redis, "stats")["total_reads_processed"]) - reads0
        assert sorted(r.status for r in replies) == [200] * 8 + [429] * 8, [r.status for r in replies]
        left = sorted(int(re.search(r";r=(\d+)", r.header("RateLimit")).group(1))
                      for r in replies if r.status == 200)
        assert left == list(range(8)), left
        # The first decision alone, the 15 queued behind it in one call.
        assert calls <= 3, calls
        # Three of the reads are the INFO calls'. One read per decision
        # (made in place) would be 16 more.
        assert reads <= 3 + 16 // 2, (reads, calls)
        srv.stop()
    finally:
        redis.proc.send_signal(signal.SIGCONT)
        redis.stop()


def evalsha_calls(redis):
    stat = redis_info(redis, "commandstats").get("cmdstat_evalsha", "calls=0")
    return int(re.search(r"calls=(\d+)", stat).group(1))


def test_shutdown_with_decisions_out():
    """SIGTERM while decisions wait on a Redis that stopped answering: each
    waiting client gets on_error's 503 within redis_timeout, and keygate
    exits 0 (every suspended connection resumed before the HTTP threads
    stop)."""
    import signal
    import threading
    redis = Redis()
    try:
        srv = Server(args=redis.args("-o", "throttle.api_key=100/minute", "-o", "throttle.redis_timeout=1s"))
        srv.start()
        _, _, key = srv.user("waiting")
        assert srv.books("GET", "/books/", key).status == 200
        redis.proc.send_signal(signal.SIGSTOP)
        got = []
        threads = [threading.Thread(target=lambda: got.append(srv.books("GET", "/books/", key).status))
                   for _ in range(6)]
        for t in threads:
            t.start()
        time.sleep(0.3)
        t0 = time.monotonic()
        assert srv.stop() == 0
        for t in threads:
            t.join(10)
        assert got == [503] * 6, got
        assert time.monotonic() - t0 < 8
    finally:
        redis.proc.send_signal(signal.SIGCONT)
        redis.stop()
