#!/bin/sh
# Install the Debian packages keygate needs to build and run (and with
# "test", to test), and only those that are missing: each library is looked
# up with pkg-config, each tool with command -v. Says what it installs and
# lets apt-get show its progress; silent when nothing is needed.
set -eu

need=""
want_pc() { pkg-config --exists "$1" 2>/dev/null || need="$need $2"; }
want_cmd() { command -v "$1" >/dev/null 2>&1 || need="$need $2"; }
want_file() { [ -e "$1" ] || need="$need $2"; }
want_pkg() { dpkg-query -W -f '${Status}' "$1" 2>/dev/null | grep -q 'ok installed' || need="$need $1"; }

want_cmd cc build-essential
want_cmd make make
want_cmd pkg-config pkg-config
want_pc libmicrohttpd libmicrohttpd-dev
want_pc sqlite3 libsqlite3-dev
want_pc jansson libjansson-dev
want_pc uuid uuid-dev
want_pc libjwt libjwt-dev
want_pc libsodium libsodium-dev
want_pc inih libinih-dev
want_pc hiredis libhiredis-dev
want_pc libpq libpq-dev
want_cmd curl curl # the README's walkthrough
if [ "${1:-}" = test ]; then
	want_pc cmocka libcmocka-dev
	want_cmd python3 python3
	want_cmd pytest-3 python3-pytest
	want_pkg python3-pytest-xdist # the black-box suite on two workers (tests/run.sh)
	want_cmd sqlite3 sqlite3
	want_cmd gdb gdb # test_revocation kills a process right after its commit
	want_cmd systemd-analyze systemd
	want_cmd man man-db
	want_cmd mount mount     # tmpfs for the disk-full and read-only tests
	want_cmd setpriv util-linux
	want_cmd prlimit util-linux
	want_cmd redis-server redis-server
	want_file /usr/lib/postgresql/15/bin/initdb postgresql
	want_cmd node nodejs
	want_cmd npm npm
	want_file /usr/sbin/nginx nginx # tests/http/test_forward_auth.py: the shipped deploy/nginx
	want_cmd caddy caddy            # and deploy/caddy, in front of a test upstream
	want_pkg ca-certificates # npm's TLS to the registry
fi

[ -z "$need" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing Debian packages:$need" >&2
	echo "deps: run as root, or: sudo apt-get install$need" >&2
	exit 1
fi
echo "deps: installing missing Debian packages:$need"
export DEBIAN_FRONTEND=noninteractive
# -q: one line per download and per package set up, no progress bars
# (they garble logs); a first install takes a few minutes.
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $need
echo "deps: installed:$need"
