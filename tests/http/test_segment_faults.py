"""The throttle segment removed, truncated or replaced under a running
server: a clear error, no crash, no silent fail-open (unless configured),
and recovery by itself when it can."""
import os
import struct
import time

from harness import Server

ONLY = ('sqlite-shm',)  # the backends these tests are about

ARGS = ["-o", "throttle.api_key=3/hour"]


def wait_log(srv, needle, timeout=5):
    deadline = time.time() + timeout
    while needle not in srv.log_text():
        assert time.time() < deadline, "no %r in:\n%s" % (needle, srv.log_text()[-1500:])
        time.sleep(0.02)


def test_removed_segment_is_recreated():
    srv = Server(args=ARGS)
    srv.start()
    _, _, key = srv.user("removed")
    for _ in range(3):
        assert srv.books("GET", "/books/", key).status == 200
    assert srv.books("GET", "/books/", key).status == 429
    os.unlink("/dev/shm" + srv.shm_name)
    wait_log(srv, "was removed")
    wait_log(srv, "is back (re-attached)")
    # A new segment: windows start afresh, and every process shares it again.
    assert os.path.exists("/dev/shm" + srv.shm_name)
    assert srv.books("GET", "/books/", key).status == 200
    assert srv.request("GET", "/healthz").status == 200
    srv.stop()


def test_truncated_segment_fails_closed_without_crashing():
    srv = Server(args=ARGS)
    srv.start()
    _, _, key = srv.user("truncated")
    assert srv.books("GET", "/books/", key).status == 200
    os.truncate("/dev/shm" + srv.shm_name, 0)
    # Touching the truncated pages raises SIGBUS: the decision fails, the
    # server lives, and on_error = deny answers 503.
    r = srv.books("GET", "/books/", key)
    assert r.status == 503, r
    wait_log(srv, "was truncated")
    wait_log(srv, "cannot re-attach: shared memory %s: the segment exists but is empty" % srv.shm_name)
    assert srv.request("GET", "/healthz").status == 503
    assert srv.books("GET", "/books/", key).status == 503
    assert srv.proc.poll() is None
    # The operator removes it; keygate makes a new one by itself.
    os.unlink("/dev/shm" + srv.shm_name)
    wait_log(srv, "is back (re-attached)")
    assert srv.books("GET", "/books/", key).status == 200
    assert srv.request("GET", "/healthz").status == 200
    srv.stop()


def test_segment_of_another_version_and_fail_open_switch():
    srv = Server(args=ARGS + ["-o", "throttle.on_error=allow"])
    srv.start()
    _, _, key = srv.user("replaced")
    path = "/dev/shm" + srv.shm_name
    size = os.path.getsize(path)
    os.unlink(path)
    with open(path, "wb") as f:  # what a future keygate might leave there
        f.write(b"KGTHRTL\0" + struct.pack("<II", 99, 0x52454459) + b"\0" * (size - 16))
    wait_log(srv, "it has layout version 99, this keygate uses ")
    # on_error = allow was chosen: requests pass, unthrottled, and say so.
    for _ in range(5):
        assert srv.books("GET", "/books/", key).status == 200
    assert "store cannot answer" in srv.log_text()
    assert srv.request("GET", "/healthz").status == 503
    srv.stop()


def test_segment_of_another_user_is_refused_with_the_fix():
    """keygate run once as root leaves a root-owned 0600 segment; a keygate
    running as another user (the service's User=keygate) is refused, and the
    message names the owner and the commands that fix it."""
    if os.geteuid() != 0:
        raise AssertionError("needs root (to run keygate as root and then as nobody)")
    srv = Server()
    srv.start()
    srv.stop()  # the segment stays, root's, mode 0600
    seg = "/dev/shm" + srv.shm_name
    assert os.stat(seg).st_uid == 0
    for p in [srv.data_dir] + [os.path.join(srv.data_dir, f) for f in os.listdir(srv.data_dir)]:
        os.chown(p, 65534, 65534)
    os.chmod(srv.tmp, 0o755)
    srv.prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    try:
        srv.start()
        raise AssertionError("started on another user's segment")
    except AssertionError as e:
        assert "exited 1 at start" in str(e), e
    text = srv.log_text()
    want = ("shared memory %s: permission denied: %s belongs to root (uid 0, mode 0600) and this keygate "
            "runs as nobody (uid 65534); once no keygate uses it, remove it (rm %s) or hand it over "
            "(chown 65534 %s)" % (srv.shm_name, seg, seg, seg))
    assert want in text, text[-1500:]
    # Doing what it says is enough.
    os.chown(seg, 65534, 65534)
    srv.proc = None
    srv.start()
    assert srv.request("GET", "/healthz").status == 200
    srv.stop()
