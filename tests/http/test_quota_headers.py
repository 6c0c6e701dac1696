"""[throttle] quota_headers: the form of the quota fields on every reply of
a throttled route (draft-11 by default, draft-12, draft-7, legacy); the
renderer itself is checked against the drafts' examples in
tests/unit/test_ratelimit_fields.c."""
import base64
import re
import struct
import time

from harness import Server


def replies(form, n=3, extra=()):
    srv = Server(args=["-o", "throttle.api_key=2/minute", "-o", "throttle.quota_headers=" + form] + list(extra))
    srv.start()
    try:
        _, _, key = srv.user("form-" + form)
        return [srv.books("GET", "/books/", key) for _ in range(n)]
    finally:
        srv.stop()


def test_draft11_is_the_default():
    srv = Server(args=["-o", "throttle.api_key=2/minute"])
    srv.start()
    try:
        _, _, key = srv.user("form-default")
        r = srv.books("GET", "/books/", key)
        assert r.header("RateLimit-Policy") == '"api_key";q=2;w=60'
        assert r.header("RateLimit") == '"api_key";r=1;t=60'
        assert r.header("RateLimit-Partition") is None and r.header("X-RateLimit-Reset") is None
    finally:
        srv.stop()


def test_draft12():
    ok, _, refused = replies("draft-12")
    assert ok.header("RateLimit-Policy") == '"api_key";q=2;w=60'
    assert ok.header("RateLimit") == '"api_key";a=1;w=60;c=1'
    assert refused.status == 429 and refused.header("RateLimit").startswith('"api_key";a=0;w=')
    m = re.fullmatch(r'"api_key";pk=:([A-Za-z0-9+/=]+):', ok.header("RateLimit-Partition"))
    assert m, ok.header("RateLimit-Partition")
    assert struct.unpack(">Q", base64.b64decode(m.group(1)))[0] >= 1  # the user's window
    assert refused.header("RateLimit-Partition") == ok.header("RateLimit-Partition")


def test_draft7_for_todays_parsers():
    ok, _, refused = replies("draft-7")
    assert ok.header("RateLimit-Policy") == "2;w=60"
    assert ok.header("RateLimit") == "limit=2, remaining=1, reset=60"
    m = re.fullmatch(r"limit=2, remaining=0, reset=(\d+)", refused.header("RateLimit"))
    assert refused.status == 429 and m and int(refused.header("Retry-After")) >= int(m.group(1))


def test_legacy_trio_alone_with_a_unix_reset():
    ok, _, refused = replies("legacy")
    assert ok.header("RateLimit") is None and ok.header("RateLimit-Policy") is None
    assert ok.header("X-RateLimit-Limit") == "2" and ok.header("X-RateLimit-Remaining") == "1"
    assert abs(int(ok.header("X-RateLimit-Reset")) - (time.time() + 60)) <= 2
    assert refused.status == 429 and refused.header("X-RateLimit-Remaining") == "0"


def test_unknown_form_refused_at_start():
    srv = Server(args=["-o", "throttle.quota_headers=draft-8"])
    try:
        srv.start()
        raise AssertionError("started with quota_headers=draft-8")
    except AssertionError as e:
        assert "must be draft-11, draft-12, draft-7 or legacy" in str(e), str(e)[-500:]
