"""Every bad kind of token gets 401, never 500 (API.md: JWTs)."""
import time

from harness import bearer, claims, forge

SERVER = dict()
INVALID = {"detail": "Given token not valid for any token type", "code": "token_not_valid"}
NOT_PROVIDED = {"detail": "Authentication credentials were not provided."}


def get_key(srv, headers):
    return srv.request("GET", "/users/api_key/get/", headers=headers)


def test_missing_or_foreign_scheme(srv):
    for headers in ({}, {"Authorization": "Token abc"}, {"Authorization": "Basic YTpi"},
                    {"Authorization": "bearer abc"}):
        r = get_key(srv, headers)
        assert r.status == 401 and r.json == NOT_PROVIDED, (headers, r)
        assert r.header("WWW-Authenticate") == 'Bearer realm="api"'


def test_bad_tokens(srv):
    access, refresh, _ = srv.user("tokuser")
    secret = srv.jwt_secret()
    good = claims(access)
    now = int(time.time())
    header, payload, sig = access.split(".")
    flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
    bad = {
        "garbage": "garbage",
        "empty": "",
        "two parts": header + "." + payload,
        "bad signature": header + "." + payload + "." + flipped,
        "refresh token": refresh,
        "alg none": forge(secret, good, {"alg": "none", "typ": "JWT"}, alg=None),
        "alg none signed": forge(secret, good, {"alg": "none", "typ": "JWT"}),
        "HS512": forge(secret, good, {"alg": "HS512", "typ": "JWT"}, alg="sha512"),
        "HS384": forge(secret, good, {"alg": "HS384", "typ": "JWT"}, alg="sha384"),
        "hs256 lower": forge(secret, good, {"alg": "hs256", "typ": "JWT"}),
        "RS256": forge(secret, good, {"alg": "RS256", "typ": "JWT"}),
        "expired": forge(secret, dict(good, exp=now - 1)),
        "exp as string": forge(secret, dict(good, exp=str(now + 100))),
        "no exp": forge(secret, {k: v for k, v in good.items() if k != "exp"}),
        "no user_id": forge(secret, {k: v for k, v in good.items() if k != "user_id"}),
        "no jti": forge(secret, {k: v for k, v in good.items() if k != "jti"}),
        "no token_type": forge(secret, {k: v for k, v in good.items() if k != "token_type"}),
        "unknown user": forge(secret, dict(good, user_id=999999)),
        "other secret": forge(b"x" * 32, good),
        "huge": "a" * 10000,  # over the 4 KiB token cap, under the 16 KiB header limit
        "spaces": access + " extra",
    }
    control = forge(secret, good)  # the same forging with everything right is accepted
    assert get_key(srv, bearer(control)).status == 200
    for name, tok in bad.items():
        r = get_key(srv, {"Authorization": ("Bearer " + tok).rstrip()})
        assert r.status == 401, (name, r)
        assert r.json in (INVALID, NOT_PROVIDED), (name, r)
    assert srv.request("GET", "/healthz").status == 200


def test_regenerate_needs_token(srv):
    r = srv.request("PUT", "/users/api_key/get/")
    assert r.status == 401 and r.json == NOT_PROVIDED
    r = srv.request("PUT", "/users/api_key/get/", headers=bearer("nope"))
    assert r.status == 401 and r.json == INVALID
