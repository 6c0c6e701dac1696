"""Books CRUD behind the API key (API.md: Books)."""
import datetime
import re
import uuid

from harness import bearer

SERVER = dict(args=["-o", "throttle.api_key=1000/minute"])
NOT_FOUND = {"detail": "Not found."}


def today():
    return datetime.datetime.now(datetime.timezone.utc).date().isoformat()


def test_create_list_get(srv):
    _, _, key = srv.user("reader")
    r = srv.books("GET", "/books/", key)
    assert r.status == 200 and r.json == {"message": "successful", "data": []}
    made = []
    for title in ("Dune", "Emma", "Ulysses"):
        r = srv.books("POST", "/books/", key, {"title": title})
        assert r.status == 201, r
        assert r.json["message"] == "successful"
        b = r.json["data"]
        assert set(b) == {"id", "title", "author", "publication_date"}
        assert b["title"] == title and b["publication_date"] == today()
        made.append(b)
    assert len({b["author"] for b in made}) == 1
    r = srv.books("GET", "/books/", key)
    assert r.json["data"] == made  # oldest first
    r = srv.books("GET", "/books/%d/" % made[1]["id"], key)
    assert r.status == 200 and r.json == {"message": "successful", "data": made[1]}


def test_list_renders_every_character_as_a_single_book_does(srv):
    # The list body is rendered by the store's JSON functions, a single book
    # by jansson: both must give the same values for awkward titles.
    _, _, key = srv.user("escapes")
    titles = ["tab\tin\nside", "ctl\u0001\u001b\u007f", "\U0001F600 \"q\" \\ \u00e9", "\u2028/</script>"]
    ids = [srv.books("POST", "/books/", key, {"title": t}).json["data"]["id"] for t in titles]
    r = srv.books("GET", "/books/", key)
    assert r.status == 200 and r.header("Content-Type") == "application/json; charset=utf-8"
    assert [b["title"] for b in r.json["data"]] == titles, r.body
    assert r.json["data"] == [srv.books("GET", "/books/%d/" % i, key).json["data"] for i in ids]


def test_read_only_fields_ignored(srv):
    _, _, key = srv.user("sneaky")
    _, _, other = srv.user("victim")
    victim_id = srv.books("POST", "/books/", other, {"title": "mine"}).json["data"]["author"]
    r = srv.books("POST", "/books/", key, {"title": "T", "id": 999999, "author": victim_id,
                                           "publication_date": "1999-01-01"})
    assert r.status == 201
    b = r.json["data"]
    assert b["id"] != 999999 and b["author"] != victim_id and b["publication_date"] == today()


def test_update_and_delete(srv):
    _, _, key = srv.user("editor")
    b = srv.books("POST", "/books/", key, {"title": "Draft"}).json["data"]
    path = "/books/%d/" % b["id"]
    r = srv.books("PUT", path, key, {"title": "Final", "author": 12345})
    assert r.status == 200 and r.json["data"] == dict(b, title="Final")
    r = srv.books("PATCH", path, key, {})
    assert r.status == 200 and r.json["data"]["title"] == "Final"
    assert r.json["data"]["publication_date"] == today()
    r = srv.books("PATCH", path, key, {"title": "Patched"})
    assert r.status == 200 and r.json["data"]["title"] == "Patched"
    r = srv.books("PUT", path, key, {})
    assert r.status == 400 and r.json == {"message": "Failed", "info": {"title": ["This field is required."]}}
    r = srv.books("DELETE", path, key)
    assert r.status == 204 and r.body == ""
    for method in ("GET", "DELETE", "PUT", "PATCH"):
        r = srv.books(method, path, key, {"title": "x"} if method in ("PUT", "PATCH") else None)
        assert r.status == 404 and r.json == NOT_FOUND, (method, r)


def test_title_rules(srv):
    _, _, key = srv.user("titler")
    cases = [
        ({}, "This field is required."),
        ({"title": ""}, "This field may not be blank."),
        ({"title": "   "}, "This field may not be blank."),
        ({"title": None}, "This field may not be null."),
        ({"title": 42}, "Not a valid string."),
        ({"title": ["a"]}, "Not a valid string."),
        ({"title": "x" * 101}, "Ensure this field has no more than 100 characters."),
    ]
    for body, msg in cases:
        r = srv.books("POST", "/books/", key, body)
        assert r.status == 400, (body, r)
        assert r.json == {"message": "Failed", "info": {"title": [msg]}}, (body, r)
    r = srv.books("POST", "/books/", key, {"title": "\u00e9" * 100})
    assert r.status == 201 and r.json["data"]["title"] == "\u00e9" * 100
    r = srv.books("POST", "/books/", key, {"title": "  padded  "})
    assert r.json["data"]["title"] == "padded"
    evil = "Robert'); DROP TABLE books;--"
    r = srv.books("POST", "/books/", key, {"title": evil})
    assert r.status == 201
    assert srv.books("GET", "/books/%d/" % r.json["data"]["id"], key).json["data"]["title"] == evil


def test_isolation(srv):
    _, _, a = srv.user("owner_a")
    _, _, b = srv.user("owner_b")
    book = srv.books("POST", "/books/", a, {"title": "A's"}).json["data"]
    path = "/books/%d/" % book["id"]
    assert srv.books("GET", "/books/", b).json["data"] == []
    for method, body in (("GET", None), ("PUT", {"title": "pwned"}), ("PATCH", {"title": "pwned"}),
                         ("DELETE", None)):
        r = srv.books(method, path, b, body)
        assert r.status == 404 and r.json == NOT_FOUND, (method, r)
    r = srv.books("GET", path, a)
    assert r.status == 200 and r.json["data"] == book


def test_bad_ids(srv):
    _, _, key = srv.user("idtester")
    for path in ("/books/0/", "/books/-1/", "/books/abc/", "/books/99999999999999999999999/",
                 "/books/1", "/books/1/x/", "/books/%2e%2e/", "/books/1%00/", "/books/..%2f/"):
        r = srv.books("GET", path, key)
        assert r.status == 404 and r.json == NOT_FOUND, (path, r)
    r = srv.books("GET", "/books/123456789/", key)
    assert r.status == 404


def test_key_required_and_checked(srv):
    access, _, key = srv.user("keyholder")
    r = srv.request("GET", "/books/")
    assert r.status == 400 and r.json == {"message": "API key required"}
    for bad in ("not-a-key", str(uuid.uuid4()), key + "0", key[:-1], "Bearer " + access, key + " x",
                "'; DROP TABLE api_keys; --"):
        r = srv.books("GET", "/books/", bad)
        assert r.status == 401 and r.json == {"message": "Unauthorized. Invalid API key"}, (bad, r)
    spellings = [key, key.upper(), key.replace("-", ""), "{%s}" % key, "urn:uuid:" + key]
    for s in spellings:
        assert srv.books("GET", "/books/", s).status == 200, s
    assert srv.request("GET", "/books/", headers={"Authorization": "Api-Key " + key}).status == 200
    assert srv.request("GET", "/books/", headers={"X-API-Key": key}).status == 200
    # The key is checked before the method: no key, wrong method -> 400.
    r = srv.request("DELETE", "/books/")
    assert r.status == 400
    r = srv.books("DELETE", "/books/", key)
    assert r.status == 405 and r.header("Allow") == "GET, HEAD, POST"


def test_regenerated_key_refused_at_once(srv):
    access, _, key = srv.user("rotator")
    assert srv.books("GET", "/books/", key).status == 200
    new = srv.request("PUT", "/users/api_key/get/", headers=bearer(access)).json["data"]["key"]
    r = srv.books("GET", "/books/", key)
    assert r.status == 401
    assert srv.books("GET", "/books/", new).status == 200


def test_quota_headers_on_every_books_reply(srv):
    _, _, key = srv.user("headers")
    for method, path, body, status in (("GET", "/books/", None, 200), ("GET", "/books/424242/", None, 404),
                                       ("POST", "/books/", {}, 400), ("DELETE", "/books/", None, 405)):
        r = srv.books(method, path, key, body)
        assert r.status == status, r
        assert r.header("RateLimit-Policy") == '"api_key";q=1000;w=60', r
        assert r.header("RateLimit").startswith('"api_key";r='), r
    assert srv.request("GET", "/healthz").header("RateLimit") is None


def test_keep_alive_requests_share_nothing(srv):
    """A connection's requests reuse one piece of storage: nothing of one
    (user, body, reply headers, request id) may reach the next."""
    import http.client
    import json
    _, _, key = srv.user("keepalive")
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)

    def ask(method, path, body=None, headers=None):
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r, r.read()

    r, _ = ask("POST", "/books/", json.dumps({"title": "Kept"}), {"Authorization": key,
                                                                  "Content-Type": "application/json"})
    assert r.status == 201 and r.getheader("RateLimit") is not None
    first = r.getheader("X-Request-Id")
    r, body = ask("GET", "/healthz")
    assert r.status == 200 and r.getheader("RateLimit") is None and r.getheader("RateLimit-Policy") is None
    assert r.getheader("X-Request-Id") not in (None, first)
    r, body = ask("GET", "/books/")  # no key: the previous request's user is not this one's
    assert r.status == 400 and json.loads(body) == {"message": "API key required"}
    missing = r.getheader("X-Request-Id")
    r, body = ask("POST", "/users/login/", "", {"Content-Type": "application/json"})  # empty body: none carried over
    assert r.status == 400, body
    r, body = ask("GET", "/books/", headers={"Authorization": key})
    assert r.status == 200 and [b["title"] for b in json.loads(body)["data"]] == ["Kept"]
    conn.close()
    line = [l for l in srv.wait_log("rid=" + missing).splitlines() if "rid=" + missing in l]
    assert line and re.search(r" GET /books/ 400 \d+ \d+us user=-$", line[0]), line


def test_lists_current_across_processes(pg):
    """Two keygate processes on one database: a write through either shows
    in the other's GET /books/ (each thread keeps the lists it rendered):
    on SQLite at once (the <database>-epochs file tells every process on
    the host), on PostgreSQL once its notification arrives, within one
    second (store.h)."""
    from harness import Server, eventually
    a = Server(args=SERVER["args"])
    a.start()
    b = Server(args=SERVER["args"], data_dir=a.data_dir)
    b.start()
    try:
        _, _, key = a.user("twoprocs")

        def lists(srv):  # several connections: every HTTP thread's view
            return [srv.books("GET", "/books/", key).json["data"] for _ in range(6)]

        def shows(srv, want):
            if pg is not None:
                eventually(lambda: lists(srv) == want)
            assert lists(srv) == want

        assert lists(b) == [[]] * 6 and lists(a) == [[]] * 6
        made = a.books("POST", "/books/", key, {"title": "Seen"}).json["data"]
        shows(b, [[made]] * 6)
        path = "/books/%d/" % made["id"]
        renamed = b.books("PATCH", path, key, {"title": "Renamed"}).json["data"]
        assert renamed["title"] == "Renamed"
        shows(a, [[renamed]] * 6)
        assert a.books("DELETE", path, key).status == 204
        shows(b, [[]] * 6)
        shows(a, [[]] * 6)
    finally:
        b.stop()
        a.stop()
        b.cleanup()
        a.cleanup()
