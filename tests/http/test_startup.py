"""Start-up: config errors, secrets, migrations, restart, shutdown."""
import os
import signal
import sqlite3
import stat
import subprocess
import threading

import harness
from harness import BIN, Server, bearer

ONLY = ('sqlite-shm',)  # the backends these tests are about


def run(args, env=None):
    e = {k: v for k, v in os.environ.items() if not k.startswith("KEYGATE_")}
    e.update(env or {})
    return subprocess.run([BIN] + args, capture_output=True, text=True, env=e, timeout=60)


def test_version_and_help():
    r = run(["--version"])
    assert r.returncode == 0 and r.stdout.startswith("keygate ")
    r = run(["--help"])
    assert r.returncode == 0 and "--check-config" in r.stdout
    r = run(["--bogus"])
    assert r.returncode == 2


def test_check_config_precedence(tmp_path=None):
    srv = Server()
    path = os.path.join(srv.tmp, "k.ini")
    with open(path, "w") as f:
        f.write("[server]\nlisten = 127.0.0.1:9001\nthreads = 3\n[auth]\naccess_ttl = 10m\n")
    r = run(["-c", path, "--check-config"], env={"KEYGATE_SERVER_LISTEN": "127.0.0.1:9002"})
    assert r.returncode == 0, r.stderr
    assert "listen = 127.0.0.1:9002" in r.stdout      # env beats file
    assert "threads = 3" in r.stdout                  # file beats default
    assert "access_ttl = 600000ms" in r.stdout
    r = run(["-c", path, "-l", "127.0.0.1:9003", "--check-config"], env={"KEYGATE_SERVER_LISTEN": "127.0.0.1:9002"})
    assert "listen = 127.0.0.1:9003" in r.stdout      # command line beats env
    r = run(["--check-config"], env={"KEYGATE_CONFIG": path})
    assert "listen = 127.0.0.1:9001" in r.stdout


def test_bad_config_stops_startup():
    srv = Server()
    path = os.path.join(srv.tmp, "bad.ini")
    with open(path, "w") as f:
        f.write("[server]\nlisten = 127.0.0.1:9001\n\n[throttle]\napi_key = 5/fortnight\n")
    r = run(["-c", path])
    assert r.returncode != 0
    assert "%s:5: [throttle] api_key: unknown period" % path in r.stderr, r.stderr
    with open(path, "w") as f:
        f.write("[server]\nlistn = 127.0.0.1:9001\n")
    r = run(["-c", path, "--check-config"])
    assert r.returncode != 0 and "%s:2: [server] listn: unknown key" % path in r.stderr, r.stderr
    r = run(["--check-config"], env={"KEYGATE_SERVER_THREADS": "lots"})
    assert r.returncode != 0 and "KEYGATE_SERVER_THREADS" in r.stderr
    r = run(["--check-config"], env={"KEYGATE_NO_SUCH": "1"})
    assert r.returncode != 0 and "unknown setting" in r.stderr
    r = run(["-c", "/nonexistent.ini"])
    assert r.returncode != 0 and "cannot open" in r.stderr


def test_env_moves_listener():
    srv = Server(env={"KEYGATE_SERVER_THREADS": "1", "KEYGATE_AUTH_ACCESS_TTL": "2m"})
    srv.start()
    access, _, _ = srv.user("envuser")
    c = harness.claims(access)
    assert c["exp"] - c["iat"] == 120
    assert "1 threads" in srv.log_text()
    srv.stop()


def test_short_jwt_secret_refused():
    srv = Server(env={"KEYGATE_AUTH_JWT_SECRET": "too-short"})
    r = run(srv.command()[1:], env=srv.env)
    assert r.returncode != 0
    assert "at least 32" in r.stderr and "too-short" not in r.stderr
    path = os.path.join(srv.tmp, "short.secret")
    with open(path, "w") as f:
        f.write("short\n")
    r = run(srv.command()[1:] + ["-o", "auth.jwt_secret_file=" + path])
    assert r.returncode != 0 and "at least 32" in r.stderr


def test_jwt_secret_from_env_and_file():
    secret = "e" * 40
    srv = Server(env={"KEYGATE_AUTH_JWT_SECRET": secret})
    srv.start()
    access, _, _ = srv.user("envsecret")
    assert harness.signed_with(access, secret.encode())
    srv.stop()
    harness.SEEN_SECRETS.add(secret)
    path = os.path.join(srv.tmp, "creds.secret")
    with open(path, "w") as f:
        f.write("f" * 48 + "\n")
    srv2 = Server(args=["-o", "auth.jwt_secret_file=" + path])
    srv2.start()
    access, _, _ = srv2.user("filesecret")
    assert harness.signed_with(access, b"f" * 48)
    assert not harness.signed_with(access, b"f" * 47)
    srv2.stop()


def test_secrets_generated_once_and_reused():
    srv = Server()
    srv.start()
    access, refresh, key = srv.user("restart")
    for name in ("jwt.secret", "apikey.secret", "keygate.db", "keygate.db-wal", "keygate.db-shm"):
        mode = stat.S_IMODE(os.stat(os.path.join(srv.data_dir, name)).st_mode)
        assert mode == 0o600, (name, oct(mode))
    assert stat.S_IMODE(os.stat("/dev/shm" + srv.shm_name).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(srv.data_dir).st_mode) == 0o700
    with open(os.path.join(srv.data_dir, "jwt.secret")) as f:
        first = f.read()
    assert len(first.strip()) == 64
    srv.stop()
    srv.start()
    with open(os.path.join(srv.data_dir, "jwt.secret")) as f:
        assert f.read() == first
    # Tokens and the sealed key survive the restart.
    r = srv.request("GET", "/users/api_key/get/", headers=bearer(access))
    assert r.status == 200 and r.json["data"]["key"] == key
    assert srv.request("POST", "/users/login/refresh", {"refresh": refresh}).status == 200
    srv.stop()


def test_migrate_and_newer_database_refused():
    srv = Server()
    r = run(["-d", srv.data_dir, "migrate"])
    assert r.returncode == 0, r.stderr
    assert "applied migration 0001_init" in r.stderr
    r = run(["-d", srv.data_dir, "migrate"])
    assert r.returncode == 0 and "applied" not in r.stderr
    con = sqlite3.connect(os.path.join(srv.data_dir, "keygate.db"))
    assert con.execute("PRAGMA user_version").fetchone()[0] == 3
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.execute("PRAGMA user_version = 99")
    con.commit()
    con.close()
    r = run(["-d", srv.data_dir])
    assert r.returncode != 0
    assert "schema is version 99, newer than this keygate knows (3)" in r.stderr, r.stderr


def test_sigterm_finishes_inflight_login():
    srv = Server(args=["-o", "auth.hash_threads=1"])
    srv.start()
    srv.signup("inflight", password="inflight-pass-1")
    results = []

    def login():
        results.append(srv.login("inflight", "inflight-pass-1").status)

    threads = [threading.Thread(target=login) for _ in range(4)]
    for t in threads:
        t.start()
    # Wait until the server has the logins in hand, then stop it.
    import time
    deadline = time.time() + 10
    while srv.log_text().count("POST /users/login/") == 0 and time.time() < deadline:
        time.sleep(0.005)
        if len(results) == 4:
            break
    srv.proc.send_signal(signal.SIGTERM)
    for t in threads:
        t.join(30)
    assert results == [200] * 4, results
    assert srv.stop() == 0
    assert "shutting down" in srv.log_text() and "stopped" in srv.log_text()
