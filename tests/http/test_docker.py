"""What can be checked of the Docker image without a Docker engine: the
runtime stage provides every library the binary links, and the image's
entrypoint serves with environment configuration only."""
import json
import os
import re
import shlex
import subprocess
import tempfile
import time

ONLY = ('sqlite-shm',)  # the backends these tests are about


HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
# The image holds the release build, whatever build the suite tests.
RELEASE = os.path.join(ROOT, "build", "keygate")


def dockerfile():
    with open(os.path.join(ROOT, "Dockerfile")) as f:
        text = f.read().replace("\\\n", " ")
    stages = re.split(r"^FROM ", text, flags=re.M)[1:]
    assert len(stages) == 2 and stages[0].startswith("debian:bookworm-slim AS build")
    assert stages[1].startswith("debian:bookworm-slim")
    return stages[1]


def runtime_packages(stage):
    m = re.search(r"apt-get install -y --no-install-recommends\s+([^&]+)", stage)
    return m.group(1).split()


def owner(path):
    for p in (path, re.sub(r"^/usr", "", path)):
        r = subprocess.run(["dpkg", "-S", p], capture_output=True, text=True)
        if r.returncode == 0:
            return r.stdout.split(":")[0]
    raise AssertionError("no Debian package owns " + path)


def test_runtime_stage_provides_every_library():
    pkgs = runtime_packages(dockerfile())
    assert "libjwt0" in pkgs and "libmicrohttpd12" in pkgs
    closure = subprocess.run(
        ["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts",
         "--no-breaks", "--no-replaces", "--no-enhances"] + pkgs, capture_output=True, text=True)
    assert closure.returncode == 0, closure.stderr
    installed = {l.strip() for l in closure.stdout.splitlines() if not l.startswith(" ")}
    out = subprocess.run(["ldd", RELEASE], capture_output=True, text=True).stdout
    libs = [os.path.realpath(m.group(1)) for m in re.finditer(r"=> (/\S+)", out)]
    assert len(libs) >= 8, out
    missing = sorted({owner(lib) for lib in libs} - installed)
    assert missing == [], "runtime stage lacks %s" % missing


def test_entrypoint_serves_with_environment_only():
    stage = dockerfile()
    entry = json.loads(re.search(r"^ENTRYPOINT (\[.*\])$", stage, re.M).group(1))
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", stage, re.M).group(1))
    health = json.loads(re.search(r"HEALTHCHECK .*CMD (\[.*\])", stage).group(1))
    env_line = re.search(r"^ENV (.*)$", stage, re.M).group(1)
    env = dict(kv.split("=", 1) for kv in shlex.split(env_line))
    assert env["KEYGATE_SERVER_LISTEN"].startswith("0.0.0.0:")
    data = tempfile.mkdtemp(prefix="kg-docker-")
    # The image's environment, with the host-only differences: a free port,
    # a temporary volume, a private segment name.
    env.update(KEYGATE_SERVER_LISTEN="0.0.0.0:0", KEYGATE_SERVER_ADMIN_LISTEN="",
               KEYGATE_SERVER_DATA_DIR=data, KEYGATE_THROTTLE_SHM_NAME="/kg-docker-%d" % os.getpid(),
               PATH=os.environ["PATH"])
    binary = RELEASE
    argv = [binary if a == "/usr/local/bin/keygate" else a for a in entry + cmd]
    log = open(os.path.join(data, "log"), "w")
    proc = subprocess.Popen(argv, env=env, stdout=log, stderr=log)
    try:
        port = None
        for _ in range(1000):
            with open(os.path.join(data, "log")) as f:
                m = re.search(r"\(port (\d+)\)", f.read())
            if m:
                port = m.group(1)
                break
            assert proc.poll() is None
            time.sleep(0.01)
        assert port
        check = [binary if a == "/usr/local/bin/keygate" else a for a in health]
        r = subprocess.run(check + ["http://127.0.0.1:%s/healthz" % port], env=env, capture_output=True)
        assert r.returncode == 0, r.stderr
    finally:
        proc.terminate()
        assert proc.wait(30) == 0
        log.close()
        try:
            os.unlink("/dev/shm/kg-docker-%d" % os.getpid())
        except OSError:
            pass


def test_compose_file():
    with open(os.path.join(ROOT, "deploy/compose.yaml")) as f:
        text = f.read()
    try:
        import yaml
    except ImportError:  # the structure is still checked below, by text
        yaml = None
    if yaml is not None:
        doc = yaml.safe_load(text)
        svc = doc["services"]["keygate"]
        assert svc["shm_size"] and svc["read_only"] is True and svc["cap_drop"] == ["ALL"]
        assert "keygate-data:/var/lib/keygate" in svc["volumes"]
    for needle in ("shm_size:", "stop_grace_period:", "KEYGATE_AUTH_JWT_SECRET_FILE: /run/secrets/jwt"):
        assert needle in text, needle
