#!/bin/bash
# Inside the fresh root (scripts/fresh-check.sh): the README's two Quick
# start commands as a newcomer types them, as root, in /root/keygate.
# bash for job control (Ctrl-C goes to the job's process group, as a
# terminal sends it) and for /dev/tcp (no curl before the first command).
set -u
cd /root/keygate
port=${FRESH_PORT:-8000}
limit=${FRESH_TIMEOUT:-1800}
fail() { echo "fresh-check: FAIL: $*"; exit 1; }
now() { date +%s; }

echo "== the fresh root has: make $(command -v make || echo none), cc $(command -v cc || echo none)," \
	"curl $(command -v curl || echo none), kill $(type -P kill || echo 'none (builtin only)')"

healthz() {
	(
		exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
		printf 'GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
		read -r _ status _ <&3
		[ "$status" = 200 ]
	) 2>/dev/null
}

# Follows a log as it grows, prefixed, while the step runs (its own
# process group, so that both tail and sed are stopped after).
follow() {
	set -m
	(tail -n +1 -F "$1" 2>/dev/null | sed -u "s/^/$2| /") &
	follower=$!
	set +m
}
unfollow() { sleep 1; kill -- -$follower 2>/dev/null; wait $follower 2>/dev/null; }

echo '== 1/2: sh bootstrap.sh run   (until /healthz answers, then Ctrl-C)'
set -m
t0=$(now)
sh bootstrap.sh run >/root/run.log 2>&1 &
job=$!
set +m
follow /root/run.log run
until healthz; do
	kill -0 $job 2>/dev/null || { wait $job; unfollow; fail "sh bootstrap.sh run exited $? before /healthz answered"; }
	[ $(($(now) - t0)) -lt "$limit" ] || { kill -KILL -$job; unfollow; fail "no /healthz after $limit s"; }
	sleep 1
done
t1=$(now)
echo "== /healthz answered 200 after $((t1 - t0)) s; Ctrl-C (SIGINT to the job's process group)"
kill -INT -- -$job
wait $job
rc=$?
unfollow
t2=$(now)
[ $rc = 0 ] || fail "sh bootstrap.sh run exited $rc after Ctrl-C (want 0)"
echo "== sh bootstrap.sh run: exit 0, $((t2 - t1)) s after Ctrl-C"

echo '== 2/2: sh bootstrap.sh test'
follow /root/test.log test
sh bootstrap.sh test >/root/test.log 2>&1
rc=$?
unfollow
t3=$(now)
last=$(grep -E "^[0-9]+ passed, [0-9]+ failed$" /root/test.log | tail -n 1)
echo "== sh bootstrap.sh test: exit $rc in $((t3 - t2)) s, last line: $last"
[ $rc = 0 ] && [[ "$last" =~ ^[0-9]+\ passed,\ 0\ failed$ ]] || fail "the tests did not all pass"
echo "== times: run to /healthz $((t1 - t0)) s (install and build included), test $((t3 - t2)) s"
