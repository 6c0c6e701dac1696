"""SIGHUP re-reads the configuration: live settings change, windows stay."""
import http.client
import os
import signal
import time

from harness import only, Server


def write(srv, text):
    with open(os.path.join(srv.tmp, "keygate.ini"), "w") as f:
        f.write(text)


def hup(srv, nth):
    """Send SIGHUP; return the log once it tells of the nth reload."""
    srv.proc.send_signal(signal.SIGHUP)
    for _ in range(500):
        text = srv.log_text()
        if text.count("reload: configuration applied") + text.count("; nothing changed") >= nth:
            return text
        time.sleep(0.01)
    raise AssertionError("no reload in the log:\n" + srv.log_text()[-2000:])


def test_rates_change_without_forgetting_windows():
    srv = Server(config_text="[throttle]\napi_key = 2/minute\n")
    srv.start()
    _, _, key = srv.user("reloader")
    assert srv.books("GET", "/books/", key).status == 200
    assert srv.books("GET", "/books/", key).status == 200
    assert srv.books("GET", "/books/", key).status == 429
    # Keep-alive connection open across the reload: it must survive.
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    conn.request("GET", "/healthz")
    conn.getresponse().read()
    write(srv, "[throttle]\napi_key = 4/minute\n[server]\nconnection_limit = 10\nlog_level = warn\n")
    text = hup(srv, 1)
    assert "reload: [server] connection_limit cannot change while running" in text
    assert "api_key 4/60s" in text
    conn.request("GET", "/healthz")
    assert conn.getresponse().status == 200
    conn.close()
    # Two more in the same window, then refused: nothing was forgotten.
    r = srv.books("GET", "/books/", key)
    assert r.status == 200 and r.header("RateLimit-Policy") == '"api_key";q=4;w=60'
    assert srv.books("GET", "/books/", key).status == 200
    assert srv.books("GET", "/books/", key).status == 429
    # log_level = warn: no more access lines.
    rids = [srv.request("GET", "/healthz").header("X-Request-Id") for _ in range(2)]
    time.sleep(0.3)
    assert not any(rid in srv.log_text() for rid in rids)
    srv.stop()


@only('sqlite-shm')
def test_rates_needing_a_new_layout_are_kept_and_bad_files_change_nothing():
    srv = Server(config_text="[throttle]\napi_key = 2/minute\n")
    srv.start()
    _, _, key = srv.user("reloader2")
    write(srv, "[throttle]\napi_key = 100/minute\n")  # 8 slots cannot hold 100
    text = hup(srv, 1)
    assert "api_key = 100/60s needs another shared-memory layout; keeping 2/60s" in text
    assert srv.books("GET", "/books/", key).header("RateLimit-Policy") == '"api_key";q=2;w=60'
    write(srv, "[throttle]\napi_key = 5/fortnight\n")
    text = hup(srv, 2)
    assert "unknown period" in text and "nothing changed" in text
    assert srv.books("GET", "/books/", key).header("RateLimit-Policy") == '"api_key";q=2;w=60'
    srv.stop()
