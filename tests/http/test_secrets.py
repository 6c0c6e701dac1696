"""Secret hygiene: the process is not dumpable unless [server] core_dumps
= yes; a password is wiped from memory once its request is done; the JWT
secret from the environment is held once, not once per retained
configuration (a reload keeps the old ones)."""
import os
import signal
import time

from harness import Server

ONLY = ('sqlite-shm',)  # the backends these tests are about


def occurrences(pid, needle):
    """How many times needle is in the process's readable memory (root
    reads /proc/PID/mem even of a process that is not dumpable)."""
    count = 0
    with open("/proc/%d/maps" % pid) as maps, open("/proc/%d/mem" % pid, "rb", 0) as mem:
        for line in maps:
            addr, perms = line.split()[:2]
            if perms[0] != "r" or line.rstrip().endswith(("[vvar]", "[vsyscall]", "[vvar_vclock]")):
                continue
            start, end = (int(x, 16) for x in addr.split("-"))
            if end - start > 1 << 30:  # a sanitizer's shadow or reserve: no heap of ours
                continue
            try:
                mem.seek(start)
                count += mem.read(end - start).count(needle)
            except (OSError, ValueError, OverflowError):
                pass
    return count


def run_as_nobody(srv):
    srv.start()
    srv.stop()
    os.unlink("/dev/shm" + srv.shm_name)
    for root, dirs, files in os.walk(srv.data_dir):
        for p in [root] + [os.path.join(root, f) for f in files]:
            os.chown(p, 65534, 65534)
    os.chmod(srv.tmp, 0o755)
    srv.prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    srv.start()


def test_not_dumpable_unless_asked():
    # /proc/PID/* is root's when the process is not dumpable (proc(5)).
    for core_dumps, owner in (("no", 0), ("yes", 65534)):
        srv = Server(args=["-o", "server.core_dumps=" + core_dumps])
        try:
            run_as_nobody(srv)
            assert os.stat("/proc/%d/environ" % srv.proc.pid).st_uid == owner, core_dumps
            assert srv.request("GET", "/healthz").status == 200
        finally:
            srv.stop()
            srv.cleanup()


def test_password_wiped_once_its_requests_are_done():
    password = "wipe-me-%d-correct-horse-battery-staple-0123456789" % os.getpid()
    # Its tail: free() writes its list pointers over a freed block's first
    # 16 bytes, which would hide an unwiped copy's head.
    tail = password[-24:].encode()
    srv = Server()
    srv.start()
    try:
        assert srv.signup("wiped", password=password).status == 201
        for _ in range(3):
            assert srv.login("wiped", password).status == 200
        assert srv.login("wiped", password + "x").status == 401
        time.sleep(0.2)  # each request's end (its completion callback) has run
        assert occurrences(srv.proc.pid, tail) == 0
    finally:
        srv.stop()


def test_env_jwt_secret_held_once():
    secret = "env-jwt-secret-%d-0123456789abcdefghijklmnopqrstuvwxyz" % os.getpid()
    srv = Server(env={"KEYGATE_AUTH_JWT_SECRET": secret})
    srv.start()
    try:
        access, _, _ = srv.user("held-once")
        base = occurrences(srv.proc.pid, secret.encode())
        for i in range(3):
            srv.proc.send_signal(signal.SIGHUP)
            srv.wait_log("reload: configuration applied", timeout=5)
            deadline = time.time() + 5
            while srv.log_text().count("reload: configuration applied") < i + 1 and time.time() < deadline:
                time.sleep(0.05)
        text = srv.log_text()
        assert text.count("reload: configuration applied") == 3, text[-2000:]
        assert "jwt_secret cannot change" not in text, text[-2000:]
        # The environment's own copy and the signer's: no more for the
        # three retained configurations.
        assert occurrences(srv.proc.pid, secret.encode()) == base, base
        r = srv.request("GET", "/users/api_key/get/", headers={"Authorization": "Bearer " + access})
        assert r.status == 200, r
    finally:
        srv.stop()
