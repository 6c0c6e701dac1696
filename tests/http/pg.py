"""A PostgreSQL server of the tests' own: initdb in a temporary directory,
run as the `postgres` system user (PostgreSQL refuses to run as root) on a
free loopback port, trust authentication, removed at the end."""
import os
import pwd
import shutil
import socket
import subprocess
import tempfile

BIN = "/usr/lib/postgresql/15/bin"


class Postgres:
    def __init__(self):
        self.user = pwd.getpwnam("postgres")
        self.dir = tempfile.mkdtemp(prefix="kg-pg-")
        os.chown(self.dir, self.user.pw_uid, self.user.pw_gid)
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        self.run([BIN + "/initdb", "-D", self.dir + "/data", "-U", "keygate", "--auth=trust", "-E", "UTF8"])
        self.run([BIN + "/pg_ctl", "-D", self.dir + "/data", "-l", self.dir + "/log", "-w", "-o",
                  "-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off" % (self.port, self.dir), "start"])
        self.url = "postgresql://keygate@127.0.0.1:%d/postgres" % self.port

    def run(self, cmd):
        r = subprocess.run(["setpriv", "--reuid=%d" % self.user.pw_uid, "--regid=%d" % self.user.pw_gid,
                            "--clear-groups"] + cmd, capture_output=True, text=True, cwd=self.dir)
        assert r.returncode == 0, (cmd, r.stdout, r.stderr)
        return r.stdout

    def sql(self, statement, db="postgres"):
        return self.run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "keygate", "-d", db,
                         "-At", "-c", statement])

    def stop(self):
        try:
            self.run([BIN + "/pg_ctl", "-D", self.dir + "/data", "-m", "immediate", "stop"])
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
