"""Deployment files: the systemd units verify, make install puts everything in place."""
import os
import re
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


def test_units_run_only_what_a_minimal_system_has():
    """Every command the units run is keygate or /bin/sh: a minimal Debian
    has no procps (/bin/kill), and systemd-analyze verify then fails."""
    allowed = {"/usr/local/bin/keygate", "/bin/sh"}
    for name in ("keygate.service", "keygate.socket"):
        with open(os.path.join(ROOT, "deploy/systemd", name)) as f:
            for line in f:
                if re.match(r"^Exec\w+=", line):
                    exe = line.split("=", 1)[1].split()[0].lstrip("-@:+!")
                    assert exe in allowed, "%s runs %s: %s" % (name, exe, line.strip())


def test_make_run_has_a_segment_of_its_own():
    """make run and bootstrap.sh run (as root, usually) never share the
    installed service's segment: a root-made segment is 0600 root's."""
    r = subprocess.run(["make", "-s", "--no-print-directory", "-C", ROOT, "run-args"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    args = r.stdout.split()
    assert "-c" in args and "config.example.ini" in args, args
    name = [a.split("=", 1)[1] for a in args if a.startswith("throttle.shm_name=")]
    with open(os.path.join(ROOT, "config.example.ini")) as f:
        service = re.search(r"^shm_name = (\S+)$", f.read(), re.M).group(1)
    assert name and name[0] != service, (name, service)
    with open(os.path.join(ROOT, "bootstrap.sh")) as f:
        assert "make --no-print-directory -s run-args" in f.read()
