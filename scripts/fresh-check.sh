#!/bin/sh
# make fresh-check: the README's Quick start on a Debian 12 that has
# nothing yet. Builds a minbase root with mmdebstrap, clones the committed
# tree (HEAD) into it, and in a mount + PID namespace of its own (its own
# /dev/shm, /tmp, /run and processes; the host's network, for the Debian
# mirror) runs, as root, as a newcomer would:
#   sh bootstrap.sh run    until /healthz answers, then Ctrl-C: must exit 0
#   sh bootstrap.sh test   to its "N passed, 0 failed" line
# and reports how long each took. The host's CA certificates are handed to
# the root (a TLS-intercepting network would otherwise fail npm).
# Knobs: FRESH_DIR (default a new /tmp/kg-fresh.*), FRESH_KEEP=1 keeps the
# root, FRESH_MIRROR (default deb.debian.org), FRESH_TIMEOUT (s, per step).
set -eu

die() { echo "fresh-check: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (mmdebstrap, chroot and unshare need it)"
for t in mmdebstrap unshare chroot git; do
	command -v $t >/dev/null || die "needs $t (apt-get install mmdebstrap util-linux git)"
done
top=$(git rev-parse --show-toplevel)
head=$(git -C "$top" rev-parse HEAD)
git -C "$top" diff --quiet HEAD || echo "fresh-check: note: uncommitted changes are not part of the check (HEAD $head)"
dir=${FRESH_DIR:-$(mktemp -d /tmp/kg-fresh.XXXXXX)}
mkdir -p "$dir"
root=$dir/root
mirror=${FRESH_MIRROR:-http://deb.debian.org/debian}
cleanup() {
	[ "${FRESH_KEEP:-}" = 1 ] && { echo "fresh-check: root kept in $root"; return; }
	# --one-file-system: never into a mount, should one have leaked.
	rm -rf --one-file-system "$dir"
}
trap cleanup EXIT

now() { date +%s; }
t0=$(now)
echo "== mmdebstrap --variant=minbase bookworm ($mirror) into $root"
mmdebstrap --variant=minbase --quiet bookworm "$root" "$mirror"
t1=$(now)
echo "== minbase root made in $((t1 - t0)) s ($(du -sm "$root" | cut -f1) MB)"

git clone --quiet --no-checkout "$top" "$root/root/keygate"
git -C "$root/root/keygate" checkout --quiet "$head"
echo "== cloned $head into /root/keygate"
# The host's own CAs, where update-ca-certificates (run when the tests'
# ca-certificates is installed) adds them to the bundle.
mkdir -p "$root/usr/local/share/ca-certificates"
cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/" 2>/dev/null || true
cp /etc/resolv.conf "$root/etc/resolv.conf"

# The README's port, unless the host already uses it (the network is the
# host's): then another, through the environment keygate reads.
port=8000
admin=9100
in_use() {
	awk -v p=":$(printf '%04X' "$1")" '$4 == "0A" && substr($2, length($2) - 4) == p { f = 1 } END { exit !f }' \
		/proc/net/tcp /proc/net/tcp6 2>/dev/null
}
pick() { p=$1; while in_use $p; do p=$((p + 1)); done; echo $p; }
env_listen=""
if in_use $port || in_use $admin; then
	port=$(pick 18000)
	admin=$(pick $((port + 1)))
	env_listen="KEYGATE_SERVER_LISTEN=127.0.0.1:$port KEYGATE_SERVER_ADMIN_LISTEN=127.0.0.1:$admin"
	echo "== 8000 or 9100 is taken on this host: keygate listens on $port (admin $admin) instead"
fi
cp "$top/scripts/fresh-drive.sh" "$root/root/fresh-drive.sh"

# Mounts made in the new namespace vanish with it; its PID 1 (the sh)
# takes every process started inside (Redis, PostgreSQL, keygate) with it.
unshare --mount --pid --fork --propagation private sh -eu -c '
	r=$1; shift
	mount --rbind /dev "$r/dev"
	mount -t tmpfs -o mode=1777,size=1g tmpfs "$r/dev/shm"
	mount -t proc proc "$r/proc"
	mount -t sysfs sysfs "$r/sys"
	mount -t tmpfs -o mode=1777 tmpfs "$r/tmp"
	mount -t tmpfs -o mode=0755 tmpfs "$r/run"
	exec chroot "$r" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
' sh "$root" $env_listen FRESH_PORT=$port FRESH_TIMEOUT=${FRESH_TIMEOUT:-1800} /bin/bash /root/fresh-drive.sh
t2=$(now)
echo "== fresh-check passed: root $((t1 - t0)) s, Quick start $((t2 - t1)) s, total $((t2 - t0)) s"
