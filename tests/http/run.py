#!/usr/bin/env python3
"""Run the black-box scenarios: every tests/http/test_*.py, each test_*
function, against the real binary. Prints PASS/FAIL per test, the log of a
failing server, and a closing "N passed, M failed" line.

A module's SERVER dict (args, env, config_text) describes the server its
tests share; tests that need their own start one with harness.Server.
Environment: KG_TEST_BIN (the binary), TEST_ONLY (a file-name filter).
"""
import glob
import importlib.util
import inspect
import os
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def load(path):
    spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def report_failure(name, srv):
    print("FAIL " + name, flush=True)
    traceback.print_exc(limit=6, file=sys.stdout)
    if srv is not None:
        print("---- server log (last 40 lines) ----")
        print("\n".join(srv.log_text().splitlines()[-40:]))
        print("----")


def applies(configs):
    return harness.CONFIG in (configs or harness.CONFIGS_ALL)


def run_module(path, counts):
    mod = load(path)
    base = os.path.basename(path)
    if not applies(getattr(mod, "ONLY", None)):
        print("SKIP %s (not for %s)" % (base, harness.CONFIG))
        return
    tests = sorted((n, f) for n, f in vars(mod).items() if n.startswith("test_") and callable(f) and applies(getattr(f, "only", None)))
    srv = None
    if getattr(mod, "SERVER", None) is not None:
        srv = harness.Server(**mod.SERVER)
        try:
            srv.start()
        except Exception:
            report_failure(base + "::start", srv)
            counts[1] += 1
            return
    for name, fn in tests:
        try:
            # Tests that take an argument share the module's server;
            # the others start their own.
            fn(srv) if inspect.signature(fn).parameters else fn()
            counts[0] += 1
            print("PASS %s::%s" % (base, name), flush=True)
        except Exception:
            counts[1] += 1
            report_failure("%s::%s" % (base, name), srv)
    if srv is not None:
        try:
            srv.stop()
            counts[0] += 1
            print("PASS %s::clean_shutdown" % base, flush=True)
        except Exception:
            counts[1] += 1
            report_failure(base + "::clean_shutdown", None)


def check_no_secret_logged(counts):
    """No password, key or token any test used may appear in any log."""
    leaked = []
    for srv in harness.ALL_SERVERS:
        try:
            text = srv.log_text()
        except OSError:
            continue
        for secret in harness.SEEN_SECRETS:
            if secret and len(secret) >= 8 and secret in text:
                leaked.append((srv.log_path, secret[:6] + "..."))
    if leaked:
        counts[1] += 1
        print("FAIL no_secret_in_logs: %r" % leaked[:5])
    else:
        counts[0] += 1
        print("PASS no_secret_in_logs (%d secrets, %d logs)" % (len(harness.SEEN_SECRETS), len(harness.ALL_SERVERS)))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    only = os.environ.get("TEST_ONLY", "")
    files = sorted(f for f in glob.glob(os.path.join(here, "test_*.py")) if only in os.path.basename(f))
    counts = [0, 0]
    if "redis" in harness.CONFIG:
        from test_redis import Redis
        harness.MATRIX["redis"] = Redis()
    if harness.CONFIG.startswith("pg"):
        from pg import Postgres
        harness.MATRIX["pg"] = Postgres()
    print("configuration: %s" % harness.CONFIG)
    try:
        for path in files:
            run_module(path, counts)
        check_no_secret_logged(counts)
    finally:
        for srv in harness.ALL_SERVERS:
            srv.cleanup()
        if harness.MATRIX["redis"] is not None:
            harness.MATRIX["redis"].stop()
        if harness.MATRIX["pg"] is not None:
            harness.MATRIX["pg"].stop()
    print("http: %d passed, %d failed" % (counts[0], counts[1]))
    return 1 if counts[1] else 0


if __name__ == "__main__":
    sys.exit(main())
