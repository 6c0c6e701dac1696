"""The bad-input battery: each hostile request gets its exact status and
JSON body, and the server stays healthy after every one."""
import json
import re

SERVER = dict(args=["-o", "throttle.api_key=100000/minute"])
NOT_FOUND = {"detail": "Not found."}


def parse_error(r):
    return r.status == 400 and r.json is not None and r.json["detail"].startswith("JSON parse error - ")


def expect(srv, r, status, body=None, check=None):
    assert r.status == status, r
    if body is not None:
        assert r.json == body, r
    if check is not None:
        assert check(r), r
    assert r.header("Content-Type") == "application/json; charset=utf-8", r
    assert srv.request("GET", "/healthz").status == 200


def test_json_battery(srv):
    cases = [
        b'{"username":"a',                                  # truncated
        b'{"username":"a","password":"b"',                  # truncated object
        b'{"a":' * 3000 + b"1" + b"}" * 3000,              # deeper than jansson's 2048
        b'{"username":"a","username":"b","password":"x"}',  # duplicate keys
        b'{"username":"\xff\xfe","password":"x"}',          # invalid UTF-8
        b'{"username":"\xc0\xaf","password":"x"}',          # overlong encoding
        b'{"username":"a\\u0000b","password":"x"}',          # NUL escaped
        b'{"username":"a\x00b","password":"x"}',            # NUL raw
        b'{"username":"\\ud800","password":"x"}',            # lone surrogate
        b'{"n":1e400}',                                      # real overflow
        b'{"n":99999999999999999999}',                       # integer overflow
        b'',                                                 # (empty is an empty form: field errors, below)
        b'\xef\xbb\xbf{"username":"bom"}',                   # a BOM
    ]
    for raw in cases:
        r = srv.request("POST", "/users/signup/", raw=raw)
        if raw == b"":
            expect(srv, r, 400, check=lambda r: r.json["info"]["username"] == ["This field is required."])
        else:
            expect(srv, r, 400, check=parse_error)
    for raw in (b"[]", b"true", b'"x"', b"1", b"null"):
        expect(srv, srv.request("POST", "/users/login/", raw=raw), 400,
               body={"detail": "JSON parse error - Expected a JSON object."})


def test_wrong_types_and_huge_strings(srv):
    r = srv.request("POST", "/users/signup/", {"username": ["a"], "password": {"x": 1}, "email": 5})
    expect(srv, r, 400, body={"message": "failed", "info": {"username": ["Not a valid string."],
                                                          "password": ["Not a valid string."],
                                                          "email": ["Not a valid string."]}})
    r = srv.request("POST", "/users/signup/", {"username": "u" * 60000, "password": "p" * 60})
    expect(srv, r, 400, check=lambda r: r.json["info"]["username"] == [
        "Ensure this field has no more than 150 characters."])
    _, _, key = srv.user("hostile")
    r = srv.books("POST", "/books/", key, {"title": "t" * 60000})
    expect(srv, r, 400, body={"message": "Failed", "info": {"title": [
        "Ensure this field has no more than 100 characters."]}})
    r = srv.books("POST", "/books/", key, {"title": 12})
    expect(srv, r, 400, body={"message": "Failed", "info": {"title": ["Not a valid string."]}})
    r = srv.books("POST", "/books/", key, raw=b'{"title":"a\\u0000b"}')
    expect(srv, r, 400, check=parse_error)


def test_body_limits_and_media_types(srv):
    r = srv.request("POST", "/users/signup/", raw=b"{" + b" " * 70000 + b"}")
    expect(srv, r, 413, body={"detail": "Request body is larger than 65536 bytes."})
    _, _, key = srv.user("getbody")
    r = srv.books("GET", "/books/", key, raw=b'{"ignored": true}')  # a body on GET is ignored
    expect(srv, r, 200)
    r = srv.request("POST", "/users/login/", raw=b'{"username":"a","password":"b"}', content_type="text/plain")
    expect(srv, r, 415, body={"detail": 'Unsupported media type "text/plain" in request.'})
    r = srv.request("POST", "/users/login/", raw=b'{"username":"a","password":"b"}',
                    content_type='x/"evil\x7f"')
    expect(srv, r, 415, check=lambda r: '"' not in r.json["detail"][25:-13])


def test_paths_and_ids(srv):
    _, _, key = srv.user("pather")
    for path in ("/books/..%2f", "/books/..%2f/", "/books/1%00/", "/books/%2e%2e/", "/books/1/../2/",
                 "/books//1/", "/books/+1/", "/books/1e3/", "/books/0x10/", "/books/-5/",
                 "/books/9223372036854775808/", "/books/99999999999999999999999999/", "/books/%31/x",
                 "/users/signup/%00", "/books/%00", "/%2e%2e/%2e%2e/etc/passwd"):
        expect(srv, srv.books("GET", path, key), 404, body=NOT_FOUND)


def test_sql_metacharacters_stored_literally(srv):
    evil = "x'); DELETE FROM books; --\" OR 1=1 /*"
    r = srv.signup("o.hara-2", password=evil, email="o'hara+%x@example.com")
    assert r.status == 201, r
    assert r.json["data"]["email"] == "o'hara+%x@example.com"
    assert srv.login("o.hara-2", evil).status == 200
    _, _, key = srv.user("sqlbooks")
    ids = []
    for title in (evil, "%", "_", "\\", "'", '"', ";", "--", "/* */", "\u2028"):
        r = srv.books("POST", "/books/", key, {"title": title})
        assert r.status == 201 and r.json["data"]["title"] == title, (title, r)
        ids.append(r.json["data"]["id"])
    titles = [b["title"] for b in srv.books("GET", "/books/", key).json["data"]]
    assert titles == [evil, "%", "_", "\\", "'", '"', ";", "--", "/* */", "\u2028"]


def test_keys_of_every_bad_shape(srv):
    _, _, key = srv.user("keyshapes")
    bad = {"Unauthorized. Invalid API key"}
    for k in (" " + key + "x", key[:35], key + key, "x" * 5000, key.replace("-", "_"), key[:-1] + "g",
              "urn:" + key + "}x", "00000000-0000-0000-0000-000000000000"):
        r = srv.request("GET", "/books/", headers={"X-API-Key": k})
        expect(srv, r, 401, check=lambda r: r.json["message"] in bad)
    for h in ({"Authorization": ""}, {"Authorization": "Api-Key "}, {"X-API-Key": ""}):
        expect(srv, srv.request("GET", "/books/", headers=h), 400, body={"message": "API key required"})
    # Any spelling Python's uuid.UUID takes names the key, even an odd one.
    expect(srv, srv.request("GET", "/books/", headers={"X-API-Key": "{{" + key.upper()}), 200)
    # Surrounding white space is the transport's, not the key's.
    expect(srv, srv.request("GET", "/books/", headers={"X-API-Key": "  " + key + "  "}), 200)


def test_oversized_headers_and_urls(srv):
    big = {"detail": "Request header fields are too large: at most 16384 bytes in 100 fields."}
    long_uri = {"detail": "Request URI is longer than 8192 bytes."}
    _, _, key = srv.user("bigheaders")
    # At the limits: served.
    r = srv.request("GET", "/books/", headers={"X-API-Key": key, "X-Pad": "a" * 16000})
    expect(srv, r, 200)
    expect(srv, srv.request("GET", "/healthz?" + "q" * 8000), 200)
    # Over keygate's limits, inside libmicrohttpd's memory: JSON, connection closed.
    for headers in ({"X-API-Key": key, "X-Pad": "a" * 20000},
                    dict({"X-API-Key": key}, **{"X-H%d" % i: "v" for i in range(100)})):
        r = srv.request("GET", "/books/", headers=headers)
        expect(srv, r, 431, body=big)
        assert r.header("Connection") == "close", r
    expect(srv, srv.request("GET", "/books/" + "a" * 9000 + "/", headers={"X-API-Key": key}), 414, body=long_uri)
    expect(srv, srv.request("GET", "/healthz?x=" + "a" * 9000), 414, body=long_uri)
    # Beyond the connection's memory (32 KiB) libmicrohttpd 0.9.75 answers
    # itself, before keygate sees the request, with its own HTML body.
    out = srv.raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40000 + b"\r\n\r\n")
    assert out.startswith("HTTP/1.1 431 "), out[:100]
    out = srv.raw(b"GET /" + b"a" * 40000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert out.startswith("HTTP/1.1 414 "), out[:100]
    assert srv.request("GET", "/healthz").status == 200


def test_http10_and_garbage_request_lines(srv):
    out = srv.raw(b"GET /healthz HTTP/1.0\r\n\r\n")
    assert out.startswith("HTTP/1.1 200") or out.startswith("HTTP/1.0 200"), out[:80]
    assert '{"status":"ok"}' in out
    for junk in (b"\r\n\r\n", b"GARBAGE\r\n\r\n", b"GET\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
                 b"\x00\x01\x02\x03\r\n\r\n", b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"):
        out = srv.raw(junk, timeout=3)
        assert out == "" or re.match(r"HTTP/1\.[01] [45]\d\d", out), (junk, out[:80])
        assert srv.request("GET", "/healthz").status == 200
