"""docs/openapi.yaml is valid OpenAPI 3.1 (checked by a real validator) and
describes every route in the route table, and nothing else."""
import json
import os
import subprocess

from harness import BIN

ONLY = ('sqlite-shm',)  # the backends these tests are about

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def validator_missing():
    """Why the validator (npm ci in tests/openapi, by make deps-test) is not
    there, or None: a clear failure of this check alone."""
    if os.path.isdir(os.path.join(ROOT, "tests/openapi/node_modules")):
        return None
    log = os.path.join(ROOT, "build", "npm-ci.log")
    why = ""
    if os.path.exists(log):
        with open(log, errors="replace") as f:
            lines = [l for l in f.read().splitlines() if "error" in l.lower()]
        # npm's first lines name the error (code, then the failed request)
        why = ": " + " | ".join(l.strip() for l in lines[:1] + [l for l in lines if "reason" in l][:1])
    return ("the OpenAPI validator is not installed (npm ci in tests/openapi failed%s); "
            "run make deps-test again once the npm registry is reachable" % why)


def test_openapi_valid_and_complete():
    missing = validator_missing()
    assert missing is None, missing
    r = subprocess.run(["node", os.path.join(ROOT, "tests/openapi/check.mjs"), os.path.join(ROOT, "docs/openapi.yaml")],
                       capture_output=True, text=True, cwd=os.path.join(ROOT, "tests/openapi"), timeout=120)
    assert r.returncode == 0, r.stderr
    documented = set(json.loads(r.stdout))
    routes = subprocess.run([BIN, "routes"], capture_output=True, text=True, env={"PATH": os.environ["PATH"]})
    assert routes.returncode == 0, routes.stderr
    table = {" ".join(line.split()[:2]) for line in routes.stdout.splitlines()}
    assert len(table) == 20, table  # /verify takes any method: seven operations
    assert table == documented, (table - documented, documented - table)
