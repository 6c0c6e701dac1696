"""The front end: 404/405/413/415/400, request ids, framing."""
import re
import uuid

SERVER = dict(args=["-o", "server.body_max=8KiB"])


def test_not_found(srv):
    for path in ("/", "/nope", "/users/signup", "/users/signup/x", "/healthz/"):
        r = srv.request("GET", path)
        assert r.status == 404 and r.json == {"detail": "Not found."}, (path, r)


def test_method_not_allowed(srv):
    r = srv.request("DELETE", "/users/signup/")
    assert r.status == 405
    assert r.json == {"detail": 'Method "DELETE" not allowed.'}
    assert r.header("Allow") == "POST"
    r = srv.request("POST", "/healthz")
    assert r.status == 405 and r.header("Allow") == "GET, HEAD"


def test_body_too_large(srv):
    big = {"username": "x" * 9000, "password": "y"}
    r = srv.request("POST", "/users/signup/", big)
    assert r.status == 413, r
    assert r.json["detail"].startswith("Request body is larger than")
    # Chunked (no Content-Length): counted as it arrives.
    body = b'{"username":"' + b"x" * 9000 + b'"}'
    chunk = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    out = srv.raw(b"POST /users/signup/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunk)
    assert out.startswith("HTTP/1.1 413"), out[:200]
    assert srv.request("GET", "/healthz").status == 200


def test_unsupported_media_type(srv):
    r = srv.request("POST", "/users/login/", raw=b"username=a&password=b",
                    content_type="application/x-www-form-urlencoded")
    assert r.status == 415
    assert r.json == {"detail": 'Unsupported media type "application/x-www-form-urlencoded" in request.'}
    r = srv.request("POST", "/users/login/", raw=b'{"username":"a"}', content_type=None)
    assert r.status == 415
    r = srv.request("POST", "/users/login/", raw=b'{"username":"a","password":"b"}',
                    content_type="Application/JSON; charset=utf-8")
    assert r.status == 401  # accepted as JSON


def test_malformed_json(srv):
    for raw in (b"{", b'{"a":}', b"nul", b'{"a":1}x', b"\xff\xfe", b'{"a":"\\ud800"}',
                b'{"username":"a","username":"b"}'):
        r = srv.request("POST", "/users/signup/", raw=raw)
        assert r.status == 400, (raw, r)
        assert r.json["detail"].startswith("JSON parse error - "), (raw, r)
    for raw in (b"[]", b'"text"', b"42", b"null"):
        r = srv.request("POST", "/users/signup/", raw=raw)
        assert r.status == 400 and r.json["detail"].startswith("JSON parse error"), (raw, r)
    deep = b"[" * 3000 + b"]" * 3000
    assert srv.request("POST", "/users/signup/", raw=deep).status == 400


def test_request_id(srv):
    r = srv.request("GET", "/healthz")
    uuid.UUID(r.header("X-Request-Id"))
    r = srv.request("GET", "/healthz", headers={"X-Request-Id": "client-id-123"})
    assert r.header("X-Request-Id") == "client-id-123"
    r = srv.request("GET", "/nope", headers={"X-Request-Id": "bad id\twith tabs"})
    assert r.header("X-Request-Id") != "bad id\twith tabs"
    uuid.UUID(r.header("X-Request-Id"))
    r = srv.request("GET", "/healthz", headers={"X-Request-Id": "x" * 65})
    assert len(r.header("X-Request-Id")) == 36
    assert "rid=client-id-123 GET /healthz 200" in srv.wait_log("rid=client-id-123")


def test_ambiguous_framing_refused(srv):
    out = srv.raw(b"POST /users/login/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 2\r\nContent-Length: 5\r\n\r\n{}")
    assert out.startswith("HTTP/1.1 400"), out[:200]
    out = srv.raw(b"POST /users/login/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n")
    assert out.startswith("HTTP/1.1 400"), out[:200]


def test_keep_alive_and_pipelining(srv):
    req = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    out = srv.raw(req * 3 + b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert len(re.findall(r"HTTP/1.1 200", out)) == 4, out


def test_access_log_line(srv):
    r = srv.request("GET", "/nope")
    rid = r.header("X-Request-Id")
    line = [l for l in srv.wait_log("rid=" + rid).splitlines() if "rid=" + rid in l]
    assert len(line) == 1
    assert re.search(r"access: rid=\S+ GET /nope 404 \d+ \d+us user=-$", line[0]), line[0]
    r = srv.request("GET", "/%0aINJECTED")
    text = srv.wait_log("rid=" + r.header("X-Request-Id"))
    assert "GET /\\x0aINJECTED 404" in text and "\nINJECTED" not in text
