#!/usr/bin/env python3
"""make soak: a bounded soak of mixed traffic against the real keygate,
on loopback only. Reports requests, 5xx, RSS and open descriptors before
and after, and checks every throttle decision of the probe keys for
exactness from the outside. Exit 1 on any 5xx, a leak beyond the bound,
or an over-admission.

Usage: soak.py BINARY [SECONDS]
"""
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "http"))
import harness  # noqa: E402

N, W_S = 200, 2            # api_key rate: exact ring (256 slots)
WRK_USERS, PROBE_USERS, PROBE_THREADS = 100, 4, 4


def proc_stats(pid):
    with open("/proc/%d/status" % pid) as f:
        rss = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
    return rss, len(os.listdir("/proc/%d/fd" % pid))


def make_users(srv, prefix, n):
    keys = []
    for i in range(n):
        _, _, key = srv.user("%s%d" % (prefix, i))
        keys.append(key)
    return keys


def probe(srv, key, stop, out):
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    while not stop.is_set():
        t0 = time.monotonic()
        conn.request("GET", "/books/", headers={"Authorization": key})
        r = conn.getresponse()
        r.read()
        out.append((t0, time.monotonic(), r.status))


def over_admissions(samples):
    """Sets of N+1 admissions that surely fell within less than W. keygate
    reads its clock in whole milliseconds, so a span counts only when it is
    shorter than W by more than that granularity. Returns the count, the
    admissions, and the shortest span of N+1 admissions seen."""
    adm = sorted((s, e) for s, e, st in samples if st == 200)
    bad, shortest = 0, float("inf")
    for j in range(len(adm) - N):
        span = max(e for _, e in adm[j:j + N + 1]) - adm[j][0]
        shortest = min(shortest, span)
        if span < W_S - 0.002:
            bad += 1
    return bad, len(adm), shortest


def main():
    binary = sys.argv[1]
    seconds = int(sys.argv[2]) if len(sys.argv) > 2 else 180
    harness.BIN = binary
    srv = harness.Server(args=["-o", "throttle.api_key=%d/%ds" % (N, W_S), "-o", "server.access_log=off",
                               "-o", "server.admin_listen=", "-o", "throttle.capacity=4096"])
    srv.start()
    try:
        keys = make_users(srv, "soak", WRK_USERS)
        probes = make_users(srv, "probe", PROBE_USERS)
        keyfile = os.path.join(srv.tmp, "keys")
        with open(keyfile, "w") as f:
            f.write("\n".join(keys) + "\n")
        env = dict(os.environ, SOAK_KEYS=keyfile)
        lua = os.path.join(os.path.dirname(os.path.abspath(__file__)), "soak_wrk.lua")
        url = "http://127.0.0.1:%d" % srv.port
        # Warm up, then take the baseline.
        subprocess.run(["wrk", "-t2", "-c32", "-d5s", "-s", lua, url], env=env, capture_output=True, check=True)
        rss0, fds0 = proc_stats(srv.proc.pid)
        stop = threading.Event()
        samples = {k: [] for k in probes}
        threads = [threading.Thread(target=probe, args=(srv, k, stop, samples[k]))
                   for k in probes for _ in range(PROBE_THREADS)]
        for t in threads:
            t.start()
        wrk = subprocess.run(["wrk", "-t2", "-c64", "-d%ds" % seconds, "--timeout", "10s", "-s", lua, url],
                             env=env, capture_output=True, text=True)
        stop.set()
        for t in threads:
            t.join()
        rss1, fds1 = proc_stats(srv.proc.pid)
        counts = json.loads(re.search(r"SOAK_WRK (\{.*\})", wrk.stdout).group(1))
        probe_codes = [st for k in probes for _, _, st in samples[k]]
        checks = [over_admissions(samples[k]) for k in probes]
        rc = srv.stop()
    finally:
        srv.cleanup()
    report = {
        "seconds": seconds,
        "wrk": counts,
        "requests_per_s": round(counts["requests"] / seconds),
        "probe_requests": len(probe_codes),
        "probe_5xx": sum(1 for c in probe_codes if c >= 500),
        "probe_admitted": sum(c[1] for c in checks),
        "over_admissions": sum(c[0] for c in checks),
        "shortest_span_of_n_plus_1_admissions_s": round(min(c[2] for c in checks), 4),
        "rss_kib_before": rss0, "rss_kib_after": rss1,
        "fds_before": fds0, "fds_after": fds1,
        "exit_code": rc,
    }
    print(json.dumps(report, indent=1))
    os.makedirs("build", exist_ok=True)
    with open("build/soak.json", "w") as f:
        json.dump(report, f, indent=1)
    ok = (counts["5xx"] == 0 and report["probe_5xx"] == 0 and report["over_admissions"] == 0 and
          counts["errors"] == 0 and rss1 - rss0 < 16 * 1024 and fds1 - fds0 <= 4 and rc == 0)
    print("soak: %s" % ("ok" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
