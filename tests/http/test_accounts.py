"""Accounts: signup, login, refresh, API key get and regenerate (API.md, first table)."""
import os
import sqlite3

from harness import only, bearer, claims

SERVER = dict()


def test_signup_returns_user(srv):
    r = srv.signup("alice", email="alice@example.com")
    assert r.status == 201, r
    assert r.json["message"] == "successful"
    assert r.json["data"]["username"] == "alice"
    assert r.json["data"]["email"] == "alice@example.com"
    assert isinstance(r.json["data"]["id"], int)
    assert set(r.json["data"]) == {"id", "username", "email"}
    assert r.header("Content-Type") == "application/json; charset=utf-8"


def test_signup_email_optional(srv):
    r = srv.signup("noemail")
    assert r.status == 201, r
    assert r.json["data"]["email"] == ""


def test_signup_duplicate_username(srv):
    assert srv.signup("dupe").status == 201
    r = srv.signup("dupe")
    assert r.status == 400
    assert r.json == {"message": "failed", "info": {"username": ["A user with that username already exists."]}}


def test_signup_missing_fields(srv):
    r = srv.request("POST", "/users/signup/", {})
    assert r.status == 400
    assert r.json == {"message": "failed", "info": {"username": ["This field is required."],
                                                    "password": ["This field is required."]}}
    r = srv.request("POST", "/users/signup/", raw=b"", content_type=None)
    assert r.status == 400 and r.json["info"]["username"] == ["This field is required."]


def test_signup_wrong_types(srv):
    r = srv.request("POST", "/users/signup/", {"username": 5, "password": ["x"], "email": None})
    assert r.status == 400, r
    assert r.json["info"] == {"username": ["Not a valid string."], "password": ["Not a valid string."],
                              "email": ["This field may not be null."]}


def test_signup_weak_passwords(srv):
    cases = {
        "short": "This password is too short. It must contain at least 8 characters.",
        "1234567890": "This password is entirely numeric.",
        "weakuser": "The password is too similar to the username.",
    }
    for pw, msg in cases.items():
        r = srv.signup("weakuser", password=pw)
        assert r.status == 400, r
        assert msg in r.json["info"]["password"], (pw, r)
    assert srv.login("weakuser", "1234567890").status == 401  # nothing was created


def test_signup_bad_username_and_email(srv):
    r = srv.signup("bad name!", email="not-an-email")
    assert r.status == 400
    assert r.json["info"]["username"] == [
        "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters."]
    assert r.json["info"]["email"] == ["Enter a valid email address."]
    r = srv.signup("x" * 151)
    assert r.json["info"]["username"] == ["Ensure this field has no more than 150 characters."]
    r = srv.signup("")
    assert r.json["info"]["username"] == ["This field may not be blank."]
    assert srv.signup("y" * 150).status == 201
    assert srv.signup("J\u00f6rg.o'neil").status == 400
    assert srv.signup("J\u00f6rg+tag@home").status == 201


def test_sql_metacharacters_are_data(srv):
    name = "o'brien--;drop"
    r = srv.signup("robert');DROP", password="pa'ss--word;")
    assert r.status == 400  # not a valid username, but nothing broke
    r = srv.signup("bobby_tables", password="x'); DROP TABLE users;--", email="b'x@example.com")
    assert r.status == 201, r
    assert srv.login("bobby_tables", "x'); DROP TABLE users;--").status == 200
    assert name  # the names above never reach SQL text: statements are bound


def test_login_and_claims(srv):
    srv.signup("carol", password="carol-password-1")
    r = srv.login("carol", "carol-password-1")
    assert r.status == 200, r
    assert set(r.json) == {"refresh", "access"}
    a, f = claims(r.json["access"]), claims(r.json["refresh"])
    assert a["token_type"] == "access" and f["token_type"] == "refresh"
    assert a["exp"] - a["iat"] == 300
    assert f["exp"] - f["iat"] == 86400
    assert a["user_id"] == f["user_id"]
    assert a["jti"] != f["jti"]


def test_login_failures(srv):
    srv.signup("dave", password="dave-password-1")
    bad = {"detail": "No active account found with the given credentials"}
    r = srv.login("dave", "wrong-password")
    assert r.status == 401 and r.json == bad
    r = srv.login("nobody-here", "whatever-pass")
    assert r.status == 401 and r.json == bad
    r = srv.request("POST", "/users/login/", {"username": "dave"})
    assert r.status == 400 and r.json == {"password": ["This field is required."]}
    r = srv.request("POST", "/users/login/", {})
    assert r.json == {"username": ["This field is required."], "password": ["This field is required."]}
    r = srv.request("POST", "/users/login/", {"username": 1, "password": True})
    assert r.status == 400 and r.json == {"username": ["Not a valid string."], "password": ["Not a valid string."]}


def test_refresh_both_spellings(srv):
    access, refresh, _ = srv.user("erin")
    for path in ("/users/login/refresh", "/users/login/refresh/"):
        r = srv.request("POST", path, {"refresh": refresh})
        assert r.status == 200, r
        assert set(r.json) == {"access"}
        assert claims(r.json["access"])["token_type"] == "access"
        assert srv.request("GET", "/users/api_key/get/", headers=bearer(r.json["access"])).status == 200
    bad = {"detail": "Token is invalid or expired", "code": "token_not_valid"}
    r = srv.request("POST", "/users/login/refresh", {"refresh": access})
    assert r.status == 401 and r.json == bad
    r = srv.request("POST", "/users/login/refresh", {"refresh": "garbage"})
    assert r.status == 401 and r.json == bad
    r = srv.request("POST", "/users/login/refresh", {"refresh": "x" * 60000})
    assert r.status == 401 and r.json == bad
    r = srv.request("POST", "/users/login/refresh", {})
    assert r.status == 400 and r.json == {"refresh": ["This field is required."]}


def test_api_key_get_and_regenerate(srv):
    access, _, key = srv.user("frank")
    assert len(key) == 36 and key[14] == "4"
    r = srv.request("GET", "/users/api_key/get/", headers=bearer(access))
    assert r.json == {"message": "Successful", "data": {"key": key}}
    r = srv.request("PUT", "/users/api_key/get/", headers=bearer(access))
    assert r.status == 200 and r.json["message"] == "Successful"
    new = r.json["data"]["key"]
    assert new != key and len(new) == 36
    r = srv.request("GET", "/users/api_key/get/", headers=bearer(access))
    assert r.json["data"]["key"] == new


def test_keys_differ_between_users(srv):
    _, _, k1 = srv.user("gina")
    _, _, k2 = srv.user("hank")
    assert k1 != k2


@only('sqlite-shm', 'sqlite-redis')
def test_database_reveals_no_key_or_password(srv):
    password = "a-very-distinct-password-42"
    access, _, key = srv.user("ivan", password=password)
    db = os.path.join(srv.data_dir, "keygate.db")
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(FULL)")
    rows = con.execute("SELECT u.password_hash, k.key_hash, k.key_box FROM users u JOIN api_keys k "
                       "ON k.user_id = u.id WHERE u.username = 'ivan'").fetchone()
    con.close()
    assert rows[0].startswith("$argon2id$"), rows[0]
    assert len(rows[1]) == 32 and len(rows[2]) == 56
    raw = b""
    for suffix in ("", "-wal"):
        if os.path.exists(db + suffix):
            with open(db + suffix, "rb") as f:
                raw += f.read()
    key_bytes = bytes.fromhex(key.replace("-", ""))
    for needle in (key.encode(), key.replace("-", "").encode(), key_bytes, password.encode()):
        assert needle not in raw


def test_healthz(srv):
    r = srv.request("GET", "/healthz")
    assert r.status == 200 and r.json == {"status": "ok"}
    r = srv.request("HEAD", "/healthz")
    assert r.status == 200 and r.body == ""
