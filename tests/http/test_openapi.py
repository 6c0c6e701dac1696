"""docs/openapi.yaml is valid OpenAPI 3.1 (checked by a real validator) and
describes every route in the route table, and nothing else."""
import json
import os
import subprocess

from harness import BIN

ONLY = ('sqlite-shm',)  # the backends these tests are about

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def test_openapi_valid_and_complete():
    r = subprocess.run(["node", os.path.join(ROOT, "tests/openapi/check.mjs"), os.path.join(ROOT, "docs/openapi.yaml")],
                       capture_output=True, text=True, cwd=os.path.join(ROOT, "tests/openapi"), timeout=120)
    assert r.returncode == 0, r.stderr
    documented = set(json.loads(r.stdout))
    routes = subprocess.run([BIN, "routes"], capture_output=True, text=True, env={"PATH": os.environ["PATH"]})
    assert routes.returncode == 0, routes.stderr
    table = {" ".join(line.split()[:2]) for line in routes.stdout.splitlines()}
    assert len(table) == 13, table
    assert table == documented, (table - documented, documented - table)
