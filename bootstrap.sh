#!/bin/sh
# The Quick start, on a machine that has nothing yet (a fresh Debian 12,
# the debian:12 image): installs the Debian packages the step needs
# (scripts/deps.sh says which, apt-get shows its progress), then
#   sh bootstrap.sh run    builds and serves on 127.0.0.1:8000 until Ctrl-C
#   sh bootstrap.sh test   builds and runs every test (make test)
#   sh bootstrap.sh TARGET any other make target (e.g. install PREFIX=/usr)
# `run` starts keygate itself rather than through make, so that Ctrl-C
# stops keygate cleanly and the command exits 0 (make would report the
# interrupt and exit non-zero).
set -eu
cd "$(dirname "$0")"
step=${1:-run}
case "$step" in
test | check | fuzz | soak | bench | deps-test) sh scripts/deps.sh test ;;
*) sh scripts/deps.sh ;;
esac
if [ "$step" = run ]; then
	make --no-print-directory all
	echo "bootstrap: starting keygate (Ctrl-C stops it)"
	exec build/keygate $(make --no-print-directory -s run-args)
fi
exec make --no-print-directory "$@"
