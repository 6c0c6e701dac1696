"""GET /metrics on the admin listener; the JSON access log."""
import http.client
import json
import re

from harness import eventually, only, Server

SERVER = dict(args=["-o", "throttle.api_key=2/minute", "-o", "server.access_log=json"])


def value(text, name, **labels):
    want = ",".join('%s="%s"' % kv for kv in labels.items())
    pattern = r"^%s\{%s\} (\S+)$" % (re.escape(name), re.escape(want)) if labels else r"^%s (\S+)$" % re.escape(name)
    m = re.search(pattern, text, re.M)
    return float(m.group(1)) if m else None


@only('sqlite-shm')
def test_metrics_count_requests_decisions_and_table(srv):
    before = value(srv.wait_completed(0), "keygate_http_request_duration_seconds_count")
    _, _, key = srv.user("measured")
    for _ in range(3):
        srv.books("GET", "/books/", key)
    srv.request("GET", "/nope")
    text = srv.wait_completed(before + 7)  # signup, login, key, 3 x books, /nope
    assert value(text, "keygate_http_requests_total", method="GET", route="/books/", status="200") == 2
    assert value(text, "keygate_http_requests_total", method="GET", route="/books/", status="429") == 1
    assert value(text, "keygate_http_requests_total", method="POST", route="/users/signup/", status="201") == 1
    assert value(text, "keygate_http_requests_total", method="", route="unmatched", status="404") >= 1
    assert value(text, "keygate_throttle_decisions_total", scope="api_key", decision="admitted") == 2
    assert value(text, "keygate_throttle_decisions_total", scope="api_key", decision="refused") == 1
    assert value(text, "keygate_throttle_capacity", scope="api_key") == 1024
    assert value(text, "keygate_throttle_entries_used", scope="api_key") == 1
    assert value(text, "keygate_throttle_full_total", scope="api_key") == 0
    count = value(text, "keygate_http_request_duration_seconds_count")
    assert count >= 7 and value(text, "keygate_http_request_duration_seconds_bucket", le="+Inf") == count
    assert value(text, "keygate_http_open_connections") is not None
    assert value(text, "keygate_store_errors_total", kind="error") == 0
    # Every sample line is "name{labels} number" or "name number".
    for line in text.splitlines():
        assert line.startswith("# ") or re.fullmatch(r'[a-z_]+(\{[^}]*\})? [0-9.e+-]+', line), line


def test_admin_listener_serves_only_metrics(srv):
    conn = http.client.HTTPConnection("127.0.0.1", srv.admin_port, timeout=10)
    conn.request("GET", "/books/")
    assert conn.getresponse().status == 404
    conn.close()
    # ...and the API port does not serve /metrics.
    assert srv.request("GET", "/metrics").status == 404


def test_json_access_log(srv):
    r = srv.request("GET", "/nope%C3%A9?q=1", headers={"X-Request-Id": "json-line-1"})
    text = srv.wait_log('"rid":"json-line-1"')
    line = [l for l in text.splitlines() if '"rid":"json-line-1"' in l][0]
    entry = json.loads(line)
    assert entry["method"] == "GET" and entry["status"] == 404 and entry["user"] is None
    assert entry["path"] == "/nope\u00e9" and isinstance(entry["us"], int)
    assert r.status == 404


def test_admin_listener_off_when_empty():
    srv = Server(args=["-o", "server.admin_listen="])
    srv.start()
    assert srv.admin_port is None and "metrics on" not in srv.log_text()
    srv.stop()


def test_buffered_access_log_is_flushed():
    srv = Server(args=["-o", "server.access_log_buffer=64KiB"])
    srv.start()
    rids = [srv.request("GET", "/healthz").header("X-Request-Id") for _ in range(50)]
    # Written within the once-a-second flush of each HTTP thread's buffer
    # (the requests went to both), not one write per request.
    eventually(lambda: all(rid in srv.log_text() for rid in rids), within=3)
    last = srv.request("GET", "/nope").header("X-Request-Id")
    srv.stop()  # the shutdown writes out what is left
    assert "rid=%s GET /nope 404" % last in srv.log_text()
