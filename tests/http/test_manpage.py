"""keygate(8) keeps up with the binary: every command `keygate --help`
lists, every option, and every key of every section `--check-config`
prints, each in its section of the rendered page."""
import os
import re
import subprocess

from harness import BIN

ONLY = ('sqlite-shm',)  # the backends these tests are about

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PAGE = os.path.join(ROOT, "docs/man/man8/keygate.8")
ENV = {"PATH": os.environ["PATH"]}


def rendered():
    r = subprocess.run(["man", "--warnings", "-l", PAGE], capture_output=True, text=True,
                       env=dict(ENV, MANWIDTH="120", MAN_KEEP_FORMATTING="", LANG="C.UTF-8"))
    assert r.returncode == 0 and r.stderr == "", r.stderr
    # man's hyphens and quotes, as typed
    return r.stdout.replace("\u2010", "-").replace("\u2212", "-")


def help_items():
    r = subprocess.run([BIN, "--help"], capture_output=True, text=True, env=ENV)
    assert r.returncode == 0, r.stderr
    commands, options = [], []
    for line in r.stdout.splitlines():
        m = re.match(r"^  (\S.*?)(?:  |$)", line)
        if not m:
            continue
        item = m.group(1).strip()
        if item.startswith("-"):
            options += re.findall(r"--?[a-z][a-z-]*", item)
        else:
            words = [w for w in item.split() if not w.isupper() and not w.startswith("[")]
            commands.append(" ".join(words).replace(" (default)", ""))
    return commands, options


def config_sections():
    r = subprocess.run([BIN, "--check-config", "-o", "server.admin_listen="], capture_output=True, text=True,
                       env=ENV)
    assert r.returncode == 0, r.stderr
    sections, cur = {}, None
    for line in r.stdout.splitlines():
        m = re.match(r"^\[(\w+)\]$", line)
        if m:
            cur = sections.setdefault(m.group(1), [])
        elif cur is not None and "=" in line:
            cur.append(line.split("=", 1)[0].strip())
    return sections


def test_every_command_and_option_documented():
    page = rendered()
    commands, options = help_items()
    assert "user disable" in commands and "routes" in commands, commands
    missing = [c for c in commands if not re.search(r"^ {4,}%s\b" % re.escape(c), page, re.M)]
    assert missing == [], "commands of --help without their entry in keygate(8): %s" % missing
    assert "user enable" in page
    missing = [o for o in options if o not in page]
    assert missing == [], "options missing from keygate(8): %s" % missing


def test_every_config_key_documented_in_its_section():
    page = rendered()
    sections = config_sections()
    assert set(sections) >= {"server", "database", "auth", "throttle"}, sections
    heads = {s: page.find("   [%s]\n" % s) for s in sections}
    assert all(v >= 0 for v in heads.values()), "sections missing from keygate(8): %s" % heads
    order = sorted(heads.values()) + [page.find("\nMETRICS")]
    missing = []
    for section, keys in sections.items():
        start = heads[section]
        body = page[start:min(o for o in order if o > start)]
        missing += ["[%s] %s" % (section, k) for k in keys if not re.search(r"\b%s\b" % k, body)]
    assert missing == [], "keys missing from keygate(8): %s" % missing
    for word in ("PostgreSQL", "Redis", "Prometheus"):
        assert word in page, word
