#!/usr/bin/env python3
"""make check: no function in src/*/*.c is longer than MAX lines (60).

A function is found as keygate's formatting (.clang-format) writes one:
its definition starts on a line that begins at column 0 with a name and
holds a '(' but no '=' (not a prototype: no ';' before the body; not an
initialized table of function pointers), its body opens with the next '{'
at column 0 and closes with the next '}' at column 0. Its length counts the
lines from the first of the definition to the closing brace. Prints each
function over the limit (file:line, name, length) and exits 1 if there is
any. Run from the top of the tree; MAX may be given as the argument.
"""
import glob
import re
import sys

MAX = int(sys.argv[1]) if len(sys.argv) > 1 else 60
START = re.compile(r"[A-Za-z_].*\(")
NAME = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(")


def opens(line):
    """Whether line may be the first of a function definition."""
    return START.match(line) is not None and "=" not in line and not line.rstrip().endswith(";")


def functions(path):
    """(name, first line, length) of each function definition in path."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    start, in_body = None, False
    for i, line in enumerate(lines):
        if in_body:
            if line.startswith("}"):
                name = NAME.search(" ".join(lines[start:i]))
                yield name.group(1) if name else "?", start + 1, i - start + 1
                start, in_body = None, False
        elif start is not None and line.startswith("{"):
            in_body = True
        elif start is None or line.rstrip().endswith(";") or (line and not line[0].isspace()):
            # a prototype or a declaration was not a definition; this line may be
            start = i if opens(line) else None
            in_body = start is not None and line.rstrip().endswith("{")


def main():
    over, count = [], 0
    paths = sorted(glob.glob("src/*/*.c"))
    for path in paths:
        for name, first, length in functions(path):
            count += 1
            if length > MAX:
                over.append(f"{path}:{first}: {name}() is {length} lines, over {MAX}")
    for line in over:
        print(line, file=sys.stderr)
    print(f"check-function-length: {count} functions in {len(paths)} files, "
          f"{len(over) or 'none'} over {MAX} lines")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
