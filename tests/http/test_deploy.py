"""Deployment files: the systemd units verify, make install puts everything in place."""
import os
import subprocess
import tempfile

ONLY = ('sqlite-shm',)  # the backends these tests are about

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def test_systemd_units_verify():
    binary = os.path.abspath(os.environ.get("KG_TEST_BIN", "build/keygate"))
    d = tempfile.mkdtemp(prefix="kg-units-")
    with open(os.path.join(ROOT, "deploy/systemd/keygate.service")) as f:
        unit = f.read()
    assert "/usr/local/bin/keygate" in unit
    with open(os.path.join(d, "keygate.service"), "w") as f:
        f.write(unit.replace("/usr/local/bin/keygate", binary))
    with open(os.path.join(ROOT, "deploy/systemd/keygate.socket")) as f, \
            open(os.path.join(d, "keygate.socket"), "w") as g:
        g.write(f.read())
    env = dict(os.environ, MANPATH=os.path.join(ROOT, "docs/man"))
    r = subprocess.run(["systemd-analyze", "verify", os.path.join(d, "keygate.service"),
                        os.path.join(d, "keygate.socket")], capture_output=True, text=True, env=env)
    # verify exits 0 on unknown keys and bad values: any output is a failure.
    assert r.returncode == 0 and r.stdout == "" and r.stderr == "", (r.returncode, r.stdout, r.stderr)


def test_make_install_and_uninstall():
    dest = tempfile.mkdtemp(prefix="kg-install-")
    r = subprocess.run(["make", "-s", "-C", ROOT, "install", "DESTDIR=" + dest, "PREFIX=/usr"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    for path in ("usr/bin/keygate", "etc/keygate/keygate.ini.example", "usr/share/man/man8/keygate.8",
                 "usr/lib/systemd/system/keygate.service", "usr/lib/systemd/system/keygate.socket",
                 "usr/lib/sysusers.d/keygate.conf"):
        assert os.path.exists(os.path.join(dest, path)), path
    with open(os.path.join(dest, "usr/lib/systemd/system/keygate.service")) as f:
        unit = f.read()
    assert "ExecStart=/usr/bin/keygate -c /etc/keygate/keygate.ini" in unit
    r = subprocess.run(["make", "-s", "-C", ROOT, "uninstall", "DESTDIR=" + dest, "PREFIX=/usr"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    left = [os.path.join(p, f) for p, _, fs in os.walk(dest) for f in fs]
    assert left == [], left
