#!/usr/bin/env python3
"""make bench: keygate against the bare libmicrohttpd ceiling, in one run.

Everything on loopback; wrk shares the machine's cores with the server.
Reports requests/s, p50/p99 latency and server CPU per request (from
/proc, so it holds on a busy machine), each as a ratio to the baseline
measured in the same run (GET /books/, /verify, refusals); then the
throttle micro-benchmark, the scaling of GET /books/ with 1,000 to
1,000,000 users, the backends (with what a throttle decision costs Redis
itself, counted by callgrind when valgrind is installed), and the nginx
end-to-end path of forward auth. Writes the figures to build/bench.json.

Usage: bench.py BUILD_DIR [SECONDS]
BENCH_ONLY=backends or BENCH_ONLY=gate (the nginx end-to-end path) runs
that part alone; BENCH_ONLY=verify the /verify and GET /books/ rows.
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "http"))
import harness  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
NCPU = os.cpu_count()


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def wrk(url, seconds, conns=32, script=None, env=None, pid=None, prefix=()):
    cmd = list(prefix) + ["wrk", "-t2", "-c%d" % conns, "-d%ds" % seconds, "--latency", "--timeout", "10s"]
    if script:
        cmd += ["-s", script]
    c0 = cpu_seconds(pid)
    out = subprocess.run(cmd + [url], capture_output=True, text=True, env=env).stdout
    c1 = cpu_seconds(pid)
    reqs = int(re.search(r"(\d+) requests in", out).group(1))
    unit = {"us": 1, "ms": 1000, "s": 1000000}

    def pct(p):
        m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)\s*$" % p, out, re.M)
        return float(m.group(1)) * unit[m.group(2)] if m else None

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"requests": reqs, "rps": reqs / seconds, "p50_us": pct(50), "p99_us": pct(99),
            "cpu_us_per_req": (c1 - c0) * 1e6 / max(reqs, 1), "non_2xx": int(non2xx.group(1)) if non2xx else 0}


def lua(tmp, name, text):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def start_baseline(build):
    p = subprocess.Popen([os.path.join(build, "bench", "baseline"), "0", str(NCPU)], stdout=subprocess.PIPE,
                         text=True)
    port = int(re.search(r"port (\d+)", p.stdout.readline()).group(1))
    return p, port


def keygate(build, *args, data_dir=None, shm_name=None):
    harness.BIN = os.path.join(build, "keygate")
    # The database on disk (POST pays its fsync), the access log on tmpfs:
    # its write(2) is the server's and counted, but the disk's writeback of
    # tens of MB of log per round ran on the same two cores as later rounds.
    srv = harness.Server(args=["-o", "server.admin_listen=", "-o", "throttle.login=1000000/minute",
                               "-o", "throttle.invalid_key=1000000/minute"] + list(args),
                         data_dir=data_dir or tempfile.mkdtemp(prefix="kg-bench-data-", dir=BENCH_TMP),
                         shm_name=shm_name, tmp_dir="/dev/shm")
    return srv.start()


def scaling(build, tmp, seconds, counts):
    # Room to spare, as an operator would size it (config.example.ini):
    # the table is open addressing, and at 95% full a lookup scans ~10 entries.
    capacity = 1 << 21
    servers, populate_s = {}, {}
    for n in counts:
        data = os.path.join(tmp, "scale%d" % n)
        shm = "/kg-bench-scale-%d-%d" % (os.getpid(), n)
        keys = os.path.join(tmp, "keys%d" % n)
        t0 = time.time()
        # The same load in each run: 1,000 active keys, spread evenly over
        # the population, so that only the size of the tables changes (with
        # 10,000 active keys at 100k and 1M users but 1,000 at 1k, the runs
        # differed in their working set: 0.85-0.94 for the same build).
        subprocess.run([os.path.join(build, "bench", "populate"), data, shm, str(capacity), str(n), "1000", keys],
                       check=True, capture_output=True)
        populate_s[n] = round(time.time() - t0, 1)
        srv = keygate(build, "-o", "throttle.api_key=1000000/s", "-o", "throttle.capacity=%d" % capacity,
                      "-o", "throttle.login=1/s", "-o", "throttle.signup=1/s", "-o", "throttle.invalid_key=1/s",
                      "-o", "server.access_log=off", data_dir=data, shm_name=shm)
        script = lua(tmp, "rotate%d.lua" % n, """
local keys = {}
for line in io.lines("%s") do keys[#keys + 1] = line end
local n = 0
function request()
  n = n + 1
  return wrk.format("GET", "/books/", { ["Authorization"] = keys[(n * 7919) %% #keys + 1] })
end
""" % keys)
        servers[n] = (srv, script, shm, data)
    # The fixture leaves ~200 MB dirty at 1,000,000 users: written back
    # now, not by the kernel's flusher threads during the measurement.
    os.sync()
    # All populations up at once and measured in turn, ROUNDS times, medians
    # kept: one run each, minutes apart, moved 0.85-1.11 on this machine.
    runs = {n: [] for n in counts}
    for _ in range(ROUNDS):
        for n in counts:
            srv, script, _, _ = servers[n]
            runs[n].append(wrk("http://127.0.0.1:%d/books/" % srv.port, seconds, script=script, pid=srv.proc.pid))
    results = {}
    for n in counts:
        srv, _, shm, data = servers[n]
        results[n] = {"rps": median([r["rps"] for r in runs[n]]),
                      "cpu_us_per_req": median([r["cpu_us_per_req"] for r in runs[n]]),
                      "p50_us": median([r["p50_us"] or 0 for r in runs[n]]),
                      "p99_us": median([r["p99_us"] or 0 for r in runs[n]]),
                      "populate_s": populate_s[n]}
        srv.stop()
        srv.cleanup()
        try:
            os.unlink("/dev/shm" + shm)
        except OSError:
            pass
        shutil.rmtree(data, ignore_errors=True)
    return results


def pinned_cpu_seconds(pids):
    total = 0.0
    for pid in pids:
        try:
            total += cpu_seconds(pid)
        except (OSError, IndexError):
            pass  # a backend that ended during the run: its CPU is lost
    return total


def children(pid):
    """pid and the processes it forked (nginx's workers)."""
    pids = [pid]
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        pids.append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    return pids


def postgres_pids(pg):
    """The postmaster and every process it forked (one backend per keygate
    connection, and its helpers)."""
    with open(os.path.join(pg.dir, "data", "postmaster.pid")) as f:
        master = int(f.readline())
    return children(master)


def pin(pid, cpu):
    subprocess.run(["taskset", "-a", "-p", "-c", str(cpu), str(pid)], check=True, capture_output=True)


def backends(build, tmp, seconds):
    """GET /books/ on SQLite + shm, PostgreSQL + shm and PostgreSQL +
    Redis, in one run: keygate, Redis and PostgreSQL pinned to CPU 0, wrk
    to CPU 1, so that the servers' CPU per request shows what a host
    needs. Each server's CPU is reported apart (keygate, Redis, and
    PostgreSQL's postmaster with all its backends); medians of ROUNDS
    interleaved rounds."""
    from test_redis import Redis
    from pg import Postgres
    redis, pg = Redis(), Postgres()
    servers = {}
    try:
        pin(redis.proc.pid, 0)
        # Backends forked later inherit the postmaster's CPU.
        for pid in postgres_pids(pg):
            pin(pid, 0)
        pg.sql("CREATE DATABASE bench")
        url = pg.url.rsplit("/", 1)[0] + "/bench"
        common = ["-o", "throttle.api_key=1000000/s"]
        confs = {
            "sqlite_shm": common,
            "pg_shm": common + ["-o", "database.url=" + url],
            "pg_redis": common + ["-o", "database.url=" + url, "-o", "throttle.backend=redis",
                                  "-o", "throttle.redis_address=127.0.0.1:%d" % redis.port],
        }
        for name, args in confs.items():
            srv = keygate(build, *args)
            pin(srv.proc.pid, 0)
            _, _, key = srv.user("bench_" + name)
            for t in ("Dune", "Emma", "Ulysses"):
                srv.books("POST", "/books/", key, {"title": t})
            servers[name] = (srv, lua(tmp, "be_%s.lua" % name, 'wrk.headers["Authorization"] = "%s"\n' % key))
        runs = {name: [] for name in servers}
        floor = {"mhd": [], "mhd_suspend": []}
        for _ in range(ROUNDS):
            # The bare libmicrohttpd responder as pinned, and the same with
            # each request suspended and resumed by another thread: what
            # suspend and resume alone cost a request, below any Redis work.
            for name, extra in (("mhd", []), ("mhd_suspend", ["suspend"])):
                bare = subprocess.Popen([os.path.join(build, "bench", "baseline"), "0", str(NCPU)] + extra,
                                        stdout=subprocess.PIPE, text=True)
                port = int(re.search(r"port (\d+)", bare.stdout.readline()).group(1))
                pin(bare.pid, 0)
                floor[name].append(wrk("http://127.0.0.1:%d/" % port, seconds, pid=bare.pid,
                                       prefix=["taskset", "-c", "1"]))
                bare.terminate()
                bare.wait()
            for name, (srv, script) in servers.items():
                others = {"redis": [redis.proc.pid], "postgres": postgres_pids(pg)}
                c0 = {k: pinned_cpu_seconds(v) for k, v in others.items()}
                x = wrk("http://127.0.0.1:%d/books/" % srv.port, seconds, script=script, pid=srv.proc.pid,
                        prefix=["taskset", "-c", "1"])
                for k, v in others.items():
                    x["%s_cpu_us_per_req" % k] = (pinned_cpu_seconds(v) - c0[k]) * 1e6 / max(x["requests"], 1)
                runs[name].append(x)
        out = {}
        for name, xs in runs.items():
            out[name] = {k: median([x[k] or 0 for x in xs]) for k in
                         ("rps", "cpu_us_per_req", "redis_cpu_us_per_req", "postgres_cpu_us_per_req", "p50_us",
                          "p99_us", "non_2xx")}
        # As against the baseline: each round's ratio comes from
        # neighbouring runs (the machine is shared and its speed drifts
        # between rounds), and the median round's is kept; the ratio of the
        # medians is reported beside it.
        suspend_us = [b["cpu_us_per_req"] - a["cpu_us_per_req"] for a, b in zip(floor["mhd"], floor["mhd_suspend"])]
        out["mhd_suspend_floor"] = {"extra_cpu_us_per_req": median(suspend_us),
                                    "rounds": [round(x, 2) for x in suspend_us],
                                    "mhd_cpu_us_per_req": median([a["cpu_us_per_req"] for a in floor["mhd"]])}
        base = runs["sqlite_shm"]
        for name in ("pg_shm", "pg_redis"):
            for k, field in (("rps", "rps_ratio"), ("cpu_us_per_req", "cpu_ratio")):
                per_round = [x[k] / max(b[k], 1e-9) for x, b in zip(runs[name], base)]
                out[name][field] = median(per_round)
                out[name][field + "_rounds"] = [round(r, 3) for r in per_round]
                out[name][field + "_of_medians"] = out[name][k] / out["sqlite_shm"][k]
        return out
    finally:
        for srv, _ in servers.values():
            srv.stop()
            srv.cleanup()
        redis.stop()
        pg.stop()


def callgrind_total(out_dir, pid, before):
    """Instructions counted since the last zeroing: the dump callgrind
    writes for pid on request, the newest one not in before."""
    subprocess.run(["callgrind_control", "-d", str(pid)], capture_output=True, check=True)
    for _ in range(100):
        new = [f for f in os.listdir(out_dir) if f not in before]
        if new:
            break
        time.sleep(0.1)
    assert new, "callgrind wrote no dump for %d" % pid
    dump = os.path.join(out_dir, max(new, key=lambda f: os.path.getmtime(os.path.join(out_dir, f))))
    with open(dump) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1]), set(os.listdir(out_dir))
    raise AssertionError("no totals in " + dump)


def redis_decision_cost(build, tmp, decisions=4000):
    """What a throttle decision costs Redis itself, in instructions
    (callgrind counts them, the same on a busy machine as on an idle one):
    the decisions of the backends bench (one key at 1000000/s), made in
    place one at a time and queued 16 at a time for the pipelining thread
    (as a loaded HTTP server queues them), against a PING from one client,
    in the same Redis."""
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        return None
    out_dir = tempfile.mkdtemp(prefix="kg-callgrind-", dir=tmp)
    port = free_port()
    redis = subprocess.Popen(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + os.path.join(out_dir, "cg.%p"),
                              "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        cli = ["redis-cli", "-p", str(port)]
        for _ in range(300):
            if subprocess.run(cli + ["ping"], capture_output=True, text=True).stdout.strip() == "PONG":
                break
            time.sleep(0.1)
        decide = [os.path.join(build, "bench", "throttle_bench"), "--redis-decisions", "127.0.0.1:%d" % port]
        subprocess.run(decide + [str(decisions // 2)], capture_output=True, check=True)  # warm: script, set
        seen = set(os.listdir(out_dir))
        out = {}
        for name, width in (("in_place", 1), ("in_flight_16", 16)):
            subprocess.run(["callgrind_control", "-z", str(redis.pid)], capture_output=True, check=True)
            admitted = int(subprocess.run(decide + [str(decisions), str(width)], capture_output=True, text=True,
                                          check=True).stdout)
            total, seen = callgrind_total(out_dir, redis.pid, seen)
            assert admitted == decisions, "%d of %d decisions admitted: Redis failed" % (admitted, decisions)
            out[name] = total // decisions
        out["members"] = int(subprocess.run(cli + ["zcard", "keygate:api_key:1"], capture_output=True,
                                            text=True).stdout)
        subprocess.run(["callgrind_control", "-z", str(redis.pid)], capture_output=True, check=True)
        subprocess.run(["redis-benchmark", "-p", str(port), "-c", "1", "-n", str(decisions), "-q", "ping"],
                       capture_output=True, check=True)
        total, _ = callgrind_total(out_dir, redis.pid, seen)
        out["ping"] = total // decisions
        return out
    finally:
        redis.kill()
        redis.wait()
        shutil.rmtree(out_dir, ignore_errors=True)


def report_redis_decision(c):
    if c is None:
        print("  redis decision cost: skipped (valgrind's callgrind not installed)")
        return
    print("  redis decision cost (callgrind, instructions): in place %d (%.1fx a PING), 16 in flight %d (%.1fx); "
          "a PING %d; window of %d members" % (c["in_place"], c["in_place"] / max(c["ping"], 1), c["in_flight_16"],
                                              c["in_flight_16"] / max(c["ping"], 1), c["ping"], c["members"]))


def report_backends(b):
    print("\nGET /books/, servers on CPU 0, wrk on CPU 1 (medians of %d rounds; ratios: the median round's)" % ROUNDS)
    print("%-12s %10s %8s %10s %10s %12s %8s %8s" % ("backends", "req/s", "x sqlite", "keygate us", "x sqlite",
                                                     "redis us", "pg us", "non-2xx"))
    for name in ("sqlite_shm", "pg_shm", "pg_redis"):
        x = b[name]
        print("%-12s %10.0f %8.2f %10.2f %10.2f %12.2f %8.2f %8d" % (
            name, x["rps"], x.get("rps_ratio", 1.0), x["cpu_us_per_req"], x.get("cpu_ratio", 1.0),
            x["redis_cpu_us_per_req"], x["postgres_cpu_us_per_req"], x["non_2xx"]))
    f = b["mhd_suspend_floor"]
    print("  libmicrohttpd's suspend and resume alone (bare responder, %.2f us): +%.2f us a request, rounds %s" % (
        f["mhd_cpu_us_per_req"], f["extra_cpu_us_per_req"], f["rounds"]))
    print("  pg_redis costs keygate +%.2f us a request over sqlite_shm; suspend and resume alone are +%.2f" % (
        b["pg_redis"]["cpu_us_per_req"] - b["sqlite_shm"]["cpu_us_per_req"], f["extra_cpu_us_per_req"]))
    for name in ("pg_shm", "pg_redis"):
        x = b[name]
        print("  %s rounds: req/s x %s, keygate us x %s (ratios of the medians %.2f, %.2f)" % (
            name, x["rps_ratio_rounds"], x["cpu_ratio_rounds"], x["rps_ratio_of_medians"],
            x["cpu_ratio_of_medians"]))
    report_redis_decision(b.get("redis_decision"))


# client -> nginx -> upstream, the path without keygate, beside the shipped
# deploy/nginx/nginx.conf: the same nginx settings, the check left out.
PLAIN_NGINX = """
user www-data;
worker_processes auto;
events { worker_connections 1024; }
http {
	access_log off;
	upstream api { server 127.0.0.1:%d; keepalive 32; }
	server {
		listen 127.0.0.1:%d;
		location / {
			proxy_set_header Host $host;
			proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_pass http://api;
		}
	}
}
"""


def start_nginx(tmp, name, text):
    conf = os.path.join(tmp, name + ".conf")
    with open(conf, "w") as f:
        f.write(text)
    p = subprocess.Popen(["/usr/sbin/nginx", "-c", conf, "-g", "daemon off; pid %s/%s.pid; error_log %s/%s.log;" % (
        tmp, name, tmp, name)], stdin=subprocess.DEVNULL)
    port = int(re.search(r"listen 127.0.0.1:(\d+)", text).group(1))
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return p, port
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nginx did not start: " + open(os.path.join(tmp, name + ".log")).read())


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def nginx_end_to_end(build, tmp, seconds):
    """client -> nginx -> keygate (/verify) -> upstream, with the shipped
    deploy/nginx/nginx.conf (its ports replaced), against client -> nginx
    -> upstream; the upstream is the bare libmicrohttpd responder. Reports
    req/s of both and, on the gated path, each process's CPU per request:
    keygate's share of the whole path's CPU (wrk's excluded) is the
    figure. Medians of ROUNDS interleaved rounds."""
    up, up_port = start_baseline(build)
    srv = keygate(build, "-o", "throttle.api_key=1000000/s", "-o", "server.trusted_proxies=127.0.0.1")
    _, _, key = srv.user("gate")
    script = lua(tmp, "gate.lua", 'wrk.headers["Authorization"] = "%s"\n' % key)
    with open(os.path.join(HERE, "..", "deploy", "nginx", "nginx.conf")) as f:
        gated_text = f.read()
    gated_port, plain_port = free_port(), free_port()
    for fixed, port in (("127.0.0.1:8000", srv.port), ("127.0.0.1:9000", up_port), ("127.0.0.1:8080", gated_port)):
        gated_text = gated_text.replace(fixed, "127.0.0.1:%d" % port)
    gated, _ = start_nginx(tmp, "gated", gated_text)
    plain, _ = start_nginx(tmp, "plain", PLAIN_NGINX % (up_port, plain_port))
    runs = {"plain": [], "gated": []}
    try:
        for _ in range(ROUNDS):
            for name, proc, port in (("plain", plain, plain_port), ("gated", gated, gated_port)):
                parts = {"nginx": children(proc.pid), "upstream": [up.pid], "keygate": [srv.proc.pid]}
                c0 = {k: pinned_cpu_seconds(v) for k, v in parts.items()}
                x = wrk("http://127.0.0.1:%d/api/thing" % port, seconds, script=script, pid=up.pid)
                for k, v in parts.items():
                    x["%s_cpu_us_per_req" % k] = (pinned_cpu_seconds(v) - c0[k]) * 1e6 / max(x["requests"], 1)
                runs[name].append(x)
    finally:
        for p in (gated, plain, up):
            p.terminate()
            p.wait()
        srv.stop()
        srv.cleanup()
    out = {}
    for name, xs in runs.items():
        out[name] = {k: median([x[k] or 0 for x in xs]) for k in
                     ("rps", "p50_us", "p99_us", "non_2xx", "nginx_cpu_us_per_req", "upstream_cpu_us_per_req",
                      "keygate_cpu_us_per_req")}
    g = out["gated"]
    shares = []
    for x in runs["gated"]:
        whole = x["nginx_cpu_us_per_req"] + x["upstream_cpu_us_per_req"] + x["keygate_cpu_us_per_req"]
        shares.append(x["keygate_cpu_us_per_req"] / whole if whole else 1.0)
    g["keygate_cpu_share"] = median(shares)
    g["rps_ratio_plain"] = g["rps"] / out["plain"]["rps"]
    return out


def report_end_to_end(e):
    print("\nnginx end to end, shipped deploy/nginx/nginx.conf (medians of %d rounds)" % ROUNDS)
    print("%-28s %10s %9s %9s %10s %10s %10s %8s" % ("path", "req/s", "p50 us", "p99 us", "nginx us", "keygate us",
                                                    "upstr. us", "non-2xx"))
    for name, label in (("plain", "client->nginx->upstream"), ("gated", "client->nginx->keygate->up")):
        x = e[name]
        print("%-28s %10.0f %9.0f %9.0f %10.2f %10.2f %10.2f %8d" % (
            label, x["rps"], x["p50_us"], x["p99_us"], x["nginx_cpu_us_per_req"], x["keygate_cpu_us_per_req"],
            x["upstream_cpu_us_per_req"], x["non_2xx"]))
    print("gated / plain req/s: %.2f; keygate's share of the gated path's CPU: %.0f%%" % (
        e["gated"]["rps_ratio_plain"], 100 * e["gated"]["keygate_cpu_share"]))


ROUNDS = 5
BENCH_TMP = tempfile.mkdtemp(prefix="kg-bench-")  # on disk; removed at the end


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def against_baseline(build, seconds, runs):
    """Each scenario in ROUNDS rounds, each round right after a baseline
    run: the machine is shared and noisy, so the ratios come from
    neighbouring runs, and the median round is kept."""
    rounds = {name: [] for name in runs}
    bases = []
    for _ in range(ROUNDS):
        for name, (url_of, script, conns, pid_of) in runs.items():
            base, port = start_baseline(build)
            b = wrk("http://127.0.0.1:%d/" % port, seconds, pid=base.pid)
            base.terminate()
            base.wait()
            x = wrk(url_of(), seconds, conns=conns, script=script, pid=pid_of())
            x["rps_ratio"] = x["rps"] / b["rps"]
            x["cpu_ratio"] = x["cpu_us_per_req"] / b["cpu_us_per_req"]
            rounds[name].append(x)
            bases.append(b)
    out = {"baseline": min(bases, key=lambda b: abs(b["rps"] - median([y["rps"] for y in bases])))}
    out["baseline"]["rps_ratio"] = out["baseline"]["cpu_ratio"] = 1.0
    out["baseline"]["rounds"] = len(bases)
    for name, xs in rounds.items():
        best = sorted(xs, key=lambda x: x["rps_ratio"])[len(xs) // 2]
        best["cpu_ratio"] = median([x["cpu_ratio"] for x in xs])
        best["rps_ratio_rounds"] = [round(x["rps_ratio"], 3) for x in xs]
        out[name] = best
    return out


def main():
    build = sys.argv[1]
    seconds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    tmp = BENCH_TMP
    results = {"machine": {"cpus": NCPU},
               "wrk": "wrk -t2 -c32 -d%ds --latency, loopback, %d rounds" % (seconds, ROUNDS)}
    if os.environ.get("BENCH_ONLY") == "gate":
        results["nginx_end_to_end"] = nginx_end_to_end(build, tmp, seconds)
        report_end_to_end(results["nginx_end_to_end"])
        shutil.rmtree(tmp, ignore_errors=True)
        return
    if os.environ.get("BENCH_ONLY") == "backends":
        results["backends"] = backends(build, tmp, seconds)
        results["backends"]["redis_decision"] = redis_decision_cost(build, tmp)
        report_backends(results["backends"])
        shutil.rmtree(tmp, ignore_errors=True)
        return

    srv = keygate(build, "-o", "throttle.api_key=1000000/s")
    _, _, key = srv.user("bench")
    for t in ("Dune", "Emma", "Ulysses"):
        srv.books("POST", "/books/", key, {"title": t})
    # The default access log is buffered; "per_line" servers write each line at once.
    quiet = keygate(build, "-o", "throttle.api_key=1000000/s", "-o", "server.access_log_buffer=0")
    _, _, qkey = quiet.user("quiet")
    for t in ("Dune", "Emma", "Ulysses"):
        quiet.books("POST", "/books/", qkey, {"title": t})
    # The lists each thread keeps off: every GET reads and renders its list.
    uncached = keygate(build, "-o", "throttle.api_key=1000000/s", "-o", "database.list_cache=no")
    _, _, ukey = uncached.user("uncached")
    for t in ("Dune", "Emma", "Ulysses"):
        uncached.books("POST", "/books/", ukey, {"title": t})
    refused = keygate(build, "-o", "throttle.api_key=1/hour")
    _, _, rkey = refused.user("refused")
    refused.books("GET", "/books/", rkey)
    refused_quiet = keygate(build, "-o", "throttle.api_key=1/hour", "-o", "server.access_log_buffer=0")
    _, _, rqkey = refused_quiet.user("refused")
    refused_quiet.books("GET", "/books/", rqkey)

    def header(name, value):
        return lua(tmp, name + ".lua", 'wrk.headers["Authorization"] = "%s"\n' % value)

    post = lua(tmp, "post.lua", 'wrk.method = "POST"\nwrk.body = \'{"title":"bench"}\'\n'
               'wrk.headers["Content-Type"] = "application/json"\nwrk.headers["Authorization"] = "%s"\n' % key)
    login = lua(tmp, "login.lua", 'wrk.method = "POST"\nwrk.body = \'{"username":"bench","password":"correct-horse-9"}\'\n'
                'wrk.headers["Content-Type"] = "application/json"\n')
    books = lambda s: (lambda: "http://127.0.0.1:%d/books/" % s.port)
    runs = {
        "get_books": (books(srv), header("get", key), 32, lambda: srv.proc.pid),
        "get_books_log_per_line": (books(quiet), header("qget", qkey), 32, lambda: quiet.proc.pid),
        "get_books_list_cache_off": (books(uncached), header("uget", ukey), 32, lambda: uncached.proc.pid),
        "verify": (lambda: "http://127.0.0.1:%d/verify" % srv.port, header("get", key), 32, lambda: srv.proc.pid),
        "throttled_429": (books(refused), header("rget", rkey), 32, lambda: refused.proc.pid),
        "invalid_key_401": (books(srv), header("bad", "00000000-0000-4000-8000-000000000000"), 32,
                            lambda: srv.proc.pid),
        "throttled_429_log_per_line": (books(refused_quiet), header("rqget", rqkey), 32,
                                       lambda: refused_quiet.proc.pid),
        "invalid_key_401_log_per_line": (books(quiet), header("qbad", "00000000-0000-4000-8000-000000000000"), 32,
                                         lambda: quiet.proc.pid),
    }
    if os.environ.get("BENCH_ONLY") == "verify":
        runs = {k: runs[k] for k in ("get_books", "verify", "throttled_429")}
    results.update(against_baseline(build, seconds, runs))
    if os.environ.get("BENCH_ONLY") == "verify":
        for s_ in (srv, quiet, uncached, refused, refused_quiet):
            s_.stop()
            s_.cleanup()
        for name in ("baseline", "get_books", "verify", "throttled_429"):
            x = results[name]
            print("%-16s %10.0f req/s %6.2f x base (rounds %s), %6.2f us cpu %5.2f x base" % (
                name, x["rps"], x["rps_ratio"], x.get("rps_ratio_rounds", "-"), x["cpu_us_per_req"], x["cpu_ratio"]))
        shutil.rmtree(tmp, ignore_errors=True)
        return
    # Writes (an fsync per commit) and logins (Argon2id) are bound by other
    # things than the front end: measured once, reported apart.
    base, port = start_baseline(build)
    b = wrk("http://127.0.0.1:%d/" % port, seconds, pid=base.pid)
    base.terminate()
    base.wait()
    for name, url, script, conns in (("post_books", books(srv)(), post, 32),
                                     ("login", "http://127.0.0.1:%d/users/login/" % srv.port, login, 8)):
        x = wrk(url, seconds, conns=conns, script=script, pid=srv.proc.pid)
        x["rps_ratio"] = x["rps"] / b["rps"]
        x["cpu_ratio"] = x["cpu_us_per_req"] / b["cpu_us_per_req"]
        results[name] = x
    for s_ in (srv, quiet, uncached, refused, refused_quiet):
        s_.stop()
        s_.cleanup()

    from test_redis import Redis
    redis = Redis()
    try:
        out = subprocess.run([os.path.join(build, "bench", "throttle_bench"), "/kg-bench-micro-%d" % os.getpid(),
                              "127.0.0.1:%d" % redis.port], capture_output=True, text=True, check=True).stdout
    finally:
        redis.stop()
    results["throttle"] = json.loads(out)
    results["scaling"] = scaling(build, tmp, seconds, (1000, 100000, 1000000))
    results["backends"] = backends(build, tmp, seconds)
    results["backends"]["redis_decision"] = redis_decision_cost(build, tmp)
    results["nginx_end_to_end"] = nginx_end_to_end(build, tmp, seconds)
    shutil.rmtree(tmp, ignore_errors=True)
    report(results)


def report(r):
    print("\n%-28s %10s %8s %9s %9s %8s %8s" % ("scenario", "req/s", "x base", "p50 us", "p99 us", "cpu us", "x base"))
    for name in ("baseline", "get_books", "get_books_log_per_line", "get_books_list_cache_off", "verify", "throttled_429",
                 "throttled_429_log_per_line", "invalid_key_401", "invalid_key_401_log_per_line", "post_books",
                 "login"):
        x = r[name]
        print("%-28s %10.0f %8.2f %9.0f %9.0f %8.2f %8.2f" % (name, x["rps"], x["rps_ratio"], x["p50_us"] or 0,
                                                          x["p99_us"] or 0, x["cpu_us_per_req"], x["cpu_ratio"]))
    t = r["throttle"]
    print("\nthrottle decision: one key %.0f ns, distinct keys %.0f ns (1 thread); 2 threads on distinct keys: "
          "%.2fx one; %u bytes of shared memory per tracked key (default 5/minute: %u)" % (
              t["one_key_1t_ns"], t["distinct_1t_ns"], t["distinct_2t_over_1t"], t["bytes_per_key_api_key"],
              t["bytes_per_key_default_config"]))
    print("throttle decision on two windows (5/minute, 100/day), distinct keys: %.0f ns, %.2fx one window" % (
        t["two_windows_distinct_1t_ns"], t["two_windows_distinct_1t_ns"] / max(t["distinct_1t_ns"], 1)))
    print("throttle on redis (loopback, one thread): %.0f us a decision, %.0f decisions/s; "
          "%.0fx the shm backend's time" % (t["redis_1t_ns"] / 1000, t["redis_1t_per_s"],
                                            t["redis_1t_ns"] / max(t["distinct_1t_ns"], 1)))
    s = r["scaling"]
    for n, x in s.items():
        print("scaling: %8d users: GET /books/ %8.0f req/s, %.2f us CPU a request (populated in %.1fs)" % (
            n, x["rps"], x["cpu_us_per_req"], x["populate_s"]))
    r["scaling_ratio_largest_smallest"] = round(s[1000000]["rps"] / s[1000]["rps"], 3)
    print("scaling ratio 1,000,000 / 1,000 users: %.2f" % r["scaling_ratio_largest_smallest"])
    report_backends(r["backends"])
    report_end_to_end(r["nginx_end_to_end"])
    # The targets are keygate's as shipped (buffered access log, lists
    # kept); the other rows show what access_log_buffer = 0 and
    # list_cache = no cost.
    targets = {
        "get_books_rps_ge_0.5x": r["get_books"]["rps_ratio"] >= 0.5,
        "get_books_cpu_le_2.5x": r["get_books"]["cpu_ratio"] <= 2.5,
        "throttled_429_rps_ge_0.8x": r["throttled_429"]["rps_ratio"] >= 0.8,
        "verify_rps_ge_0.8x": r["verify"]["rps_ratio"] >= 0.8,
        "nginx_gate_keygate_cpu_share_lt_30pct": r["nginx_end_to_end"]["gated"]["keygate_cpu_share"] < 0.30,
        "invalid_key_401_rps_ge_0.8x": r["invalid_key_401"]["rps_ratio"] >= 0.8,
        "throttle_decision_le_100ns": t["one_key_1t_ns"] <= 100 and t["distinct_1t_ns"] <= 100,
        "throttle_2t_ge_1.6x": t["distinct_2t_over_1t"] >= 1.6,
        "scaling_ge_0.9": r["scaling_ratio_largest_smallest"] >= 0.9,
        "pg_redis_cpu_le_2x_sqlite": r["backends"]["pg_redis"]["cpu_ratio"] <= 2.0,
        "pg_redis_rps_ge_0.35x_sqlite": r["backends"]["pg_redis"]["rps_ratio"] >= 0.35,
        "pg_shm_rps_ge_0.7x_sqlite": r["backends"]["pg_shm"]["rps_ratio"] >= 0.7,
    }
    r["targets"] = targets
    print("\ntargets: " + ", ".join("%s %s" % (k, "met" if v else "MISSED") for k, v in targets.items()))
    os.makedirs("build", exist_ok=True)
    with open("build/bench.json", "w") as f:
        json.dump(r, f, indent=1, default=str)
    print("figures in build/bench.json")


if __name__ == "__main__":
    main()
