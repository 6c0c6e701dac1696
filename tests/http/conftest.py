"""pytest fixtures for the black-box suite.

The backend configuration (sqlite-shm, sqlite-redis, pg-redis) is a
parameter of the session: every test runs once per configuration it
applies to (a module's ONLY, a function's harness.only), and the Redis and
PostgreSQL a configuration needs are started once for all its tests. A
module's SERVER dict describes the server its tests share (the `srv`
fixture); tests that need their own start one with harness.Server.

Checked for every configuration, as fixtures: every shared server stops
cleanly with no sanitizer report (harness.Server.stop), and no password,
key or token a test used reached any server's log.

Options: --kg-configs=a,b (default: $KG_TEST_CONFIGS or all three).
"""
import os

import pytest

import harness


def pytest_addoption(parser):
    default = os.environ.get("KG_TEST_CONFIGS", " ".join(harness.CONFIGS_ALL))
    parser.addoption("--kg-configs", default=default.replace(" ", ","),
                     help="backend configurations to run, comma-separated (%s)" % ", ".join(harness.CONFIGS_ALL))


def configs(config):
    names = [c for c in config.getoption("kg_configs").split(",") if c]
    for name in names:
        if name not in harness.CONFIGS_ALL:
            raise pytest.UsageError("unknown configuration %r" % name)
    return names


def pytest_generate_tests(metafunc):
    metafunc.parametrize("backends", configs(metafunc.config), scope="session", indirect=True)


def applies(item):
    config = item.callspec.params["backends"]
    for declared in (getattr(item.module, "ONLY", None), getattr(item.function, "only", None)):
        if declared and config not in declared:
            return False
    return True


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Drop the (test, configuration) pairs that do not apply, and run each
    configuration's tests together, file by file, a file's tests in name
    order (the order the suite has always used: some tests of a shared
    server rely on it)."""
    order = {name: i for i, name in enumerate(configs(config))}
    kept = [item for item in items if applies(item)]
    dropped = [item for item in items if not applies(item)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    kept.sort(key=lambda it: (order[it.callspec.params["backends"]], it.fspath.basename, it.originalname))
    items[:] = kept


def start_matrix(config):
    harness.CONFIG = config
    harness.MATRIX.update(redis=None, pg=None, dbs={})
    if "redis" in config:
        from test_redis import Redis
        harness.MATRIX["redis"] = Redis()
    if config.startswith("pg"):
        from pg import Postgres
        harness.MATRIX["pg"] = Postgres()


def stop_matrix():
    for name in ("redis", "pg"):
        if harness.MATRIX[name] is not None:
            harness.MATRIX[name].stop()
            harness.MATRIX[name] = None


def leaked_secrets():
    leaked = []
    for srv in harness.ALL_SERVERS:
        try:
            text = srv.log_text()
        except OSError:
            continue
        for secret in harness.SEEN_SECRETS:
            if secret and len(secret) >= 8 and secret in text:
                leaked.append((srv.log_path, secret[:6] + "..."))
    return leaked


def sanitizer_reports(servers):
    """The logs among servers' that hold a sanitizer report: a server that
    a test killed, or left running, is never stopped by Server.stop, which
    checks the others."""
    found = []
    for srv in servers:
        try:
            text = srv.log_text()
        except OSError:
            continue
        found += [(srv.log_path, mark) for mark in harness.SANITIZER_MARKS if mark in text]
    return found


@pytest.fixture(scope="session", autouse=True)
def backends(request):
    """The configuration under test: its Redis and PostgreSQL run while its
    tests do. At its end, no secret and no sanitizer report may be in any
    log."""
    start_matrix(request.param)
    try:
        yield request.param
        leaked = leaked_secrets()
        assert not leaked, "secrets in logs: %r" % leaked[:5]
    finally:
        for srv in harness.ALL_SERVERS:
            srv.cleanup()
        reports = sanitizer_reports(harness.ALL_SERVERS)
        del harness.ALL_SERVERS[:]
        stop_matrix()
    assert not reports, "sanitizer reports in logs: %r" % reports[:5]


@pytest.fixture(autouse=True)
def no_sanitizer_report(backends):
    """Each test's own servers (those it started) hold no sanitizer report
    when it ends, whether or not it stopped them: the test is named, not
    only the session."""
    first = len(harness.ALL_SERVERS)
    yield
    reports = sanitizer_reports(harness.ALL_SERVERS[first:])
    assert not reports, "sanitizer reports in logs: %r" % reports[:5]


@pytest.fixture
def redis(backends):
    """The configuration's Redis (test_redis.Redis), or None when it has
    none; the servers a test starts use it already."""
    return harness.MATRIX["redis"]


@pytest.fixture
def pg(backends):
    """The configuration's PostgreSQL (pg.Postgres), or None on SQLite."""
    return harness.MATRIX["pg"]


@pytest.fixture(scope="module")
def srv(request, backends):
    """The server a module's tests share, from its SERVER dict; it must stop
    cleanly (exit 0, no sanitizer report) after the module's last test."""
    spec = getattr(request.module, "SERVER", None)
    if spec is None:
        pytest.fail("%s has no SERVER for its tests to share" % request.module.__name__)
    server = harness.Server(**spec).start()
    yield server
    server.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing test's report carries the tail of its shared server's log."""
    outcome = yield
    report = outcome.get_result()
    server = item.funcargs.get("srv") if hasattr(item, "funcargs") else None
    if report.failed and server is not None:
        try:
            tail = "\n".join(server.log_text().splitlines()[-40:])
        except OSError:
            return
        report.sections.append(("server log (last 40 lines)", tail))
