"""systemd: sd_notify READY/RELOADING/STOPPING/WATCHDOG, and socket activation."""
import http.client
import os
import signal
import socket
import subprocess
import time

from harness import Server

ONLY = ('sqlite-shm',)  # the backends these tests are about


def read_states(sock, want, timeout=20):
    """Datagrams until one contains want; return all seen."""
    seen = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        sock.settimeout(max(0.01, deadline - time.time()))
        try:
            seen.append(sock.recv(4096).decode())
        except socket.timeout:
            break
        if want in seen[-1]:
            return seen
    raise AssertionError("no %s; got %r" % (want, seen))


def test_notify_ready_reloading_stopping_watchdog():
    srv = Server()
    path = os.path.join(srv.tmp, "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    srv.env.update(NOTIFY_SOCKET=path, WATCHDOG_USEC="200000")
    srv.start()
    seen = read_states(sock, "READY=1")
    assert seen[-1] == "READY=1"
    # It answers by the time it says READY.
    assert srv.request("GET", "/healthz").status == 200
    seen = read_states(sock, "WATCHDOG=1", timeout=5)
    srv.proc.send_signal(signal.SIGHUP)
    seen = read_states(sock, "RELOADING=1")
    seen = read_states(sock, "READY=1")
    srv.proc.send_signal(signal.SIGTERM)
    seen = read_states(sock, "STOPPING=1")
    assert srv.stop() == 0
    sock.close()


def test_socket_activation():
    srv = Server()
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(64)
    port = lsock.getsockname()[1]
    os.set_inheritable(lsock.fileno(), True)
    # The socket must be fd 3 and LISTEN_PID the server's own pid: a shell (bash: dash takes one-digit fds only)
    # moves the fd and exec()s keygate under its own pid.
    cmd = srv.command()
    script = 'exec 3<&%d; LISTEN_PID=$$ LISTEN_FDS=1 exec "$@"' % lsock.fileno()
    log = open(srv.log_path, "ab")
    env = srv.environ()
    proc = subprocess.Popen(["bash", "-c", script, "bash"] + cmd, stdout=log, stderr=log,
                            pass_fds=(lsock.fileno(),), env=env)
    lsock.close()  # keygate holds it now
    try:
        deadline = time.time() + 20
        while "listening on a socket from systemd" not in srv.log_text():
            assert time.time() < deadline and proc.poll() is None, srv.log_text()
            time.sleep(0.02)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/healthz")
        r = conn.getresponse()
        assert r.status == 200 and r.read() == b'{"status":"ok"}'
        conn.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        log.close()
