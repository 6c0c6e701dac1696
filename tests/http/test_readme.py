"""The README's walkthrough runs as written: its sh blocks that talk to
localhost:8000 are run, in order, as one script against a fresh keygate
started as `sh bootstrap.sh run` starts it (config.example.ini), and each
command's output is compared with the `# ...` lines written under it."""
import os
import re
import subprocess

from harness import Server  # noqa: E402

ONLY = ('sqlite-shm',)  # what bootstrap.sh run starts

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# What differs from one run to the next, on both sides of the comparison.
VARIES = [
    (re.compile(r"eyJ[A-Za-z0-9_.-]*"), "eyJ..."),
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<uuid>"),
    (re.compile(r"\d{4}-\d{2}-\d{2}"), "<date>"),
    (re.compile(r"(Retry-After: |t=|available in )\d+"), r"\1<s>"),
]


def normal(line):
    for rx, rep in VARIES:
        line = rx.sub(rep, line)
    return line.rstrip("\r")


def walkthrough_steps():
    """[(command lines, expected output lines)] of the README's blocks that
    use localhost:8000. Comment lines right under a command are its output
    ("#  " continues the line above); other comments describe."""
    with open(os.path.join(ROOT, "README.md")) as f:
        blocks = re.findall(r"^```sh\n(.*?)^```", f.read(), re.M | re.S)
    blocks = [b for b in blocks if "localhost:8000" in b]
    assert len(blocks) >= 2, "no walkthrough in README.md"
    steps = []
    for block in blocks:
        after_cmd = False
        for line in block.splitlines():
            if line.startswith("#") and after_cmd:
                out = line[2:] if line.startswith("# ") else line[1:]
                if line.startswith("#  ") and steps[-1][1]:
                    steps[-1][1][-1] += line[3:]
                else:
                    steps[-1][1].append(out)
            elif line.startswith("#") or not line.strip():
                after_cmd = False
            elif steps and after_cmd and not steps[-1][1] and steps[-1][0][-1].endswith("\\"):
                steps[-1][0].append(line)
            else:
                steps.append(([line], []))
                after_cmd = True
    return steps


def run_walkthrough(port):
    """Run the walkthrough against 127.0.0.1:port; raise AssertionError on
    the first command whose output differs from the README's."""
    steps = walkthrough_steps()
    assert sum(1 for _, want in steps if want) >= 10, steps
    script = ["set -eu"]
    for i, (cmd, _) in enumerate(steps):
        script.append("echo '@@step %d'" % i)
        script += [l.replace("localhost:8000", "127.0.0.1:%d" % port) for l in cmd]
    r = subprocess.run(["sh", "-c", "\n".join(script)], capture_output=True, text=True, timeout=60,
                       env={"PATH": os.environ["PATH"]})
    assert r.returncode == 0 and r.stderr == "", (r.returncode, r.stderr, r.stdout[-2000:])
    outputs = re.split(r"^@@step \d+\n", r.stdout, flags=re.M)[1:]
    assert len(outputs) == len(steps), r.stdout
    checked = 0
    for (cmd, want), got in zip(steps, outputs):
        if not want:
            continue
        want = [normal(l) for l in want]
        got = [normal(l) for l in got.splitlines()]
        if want[0].startswith("HTTP/"):  # headers: the README shows some, in order
            it = iter(got)
            missing = [w for w in want if not any(w == g for g in it)]
            assert missing == [], (cmd, missing, got)
        else:
            assert got == want, (cmd, want, got)
        checked += 1
    return len(steps), checked


def test_walkthrough_runs_as_written():
    srv = Server(args=["-c", os.path.join(ROOT, "config.example.ini")])
    srv.start()
    run_walkthrough(srv.port)
    srv.stop()


if __name__ == "__main__":  # make docker-check: against a running container
    import sys
    n, checked = run_walkthrough(int(sys.argv[1]))
    print("walkthrough: %d commands run, %d outputs as the README shows" % (n, checked))
