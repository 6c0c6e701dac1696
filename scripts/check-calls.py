#!/usr/bin/env python3
"""make layers, make check: the built objects of src/ call one way.

check-layers.py reads the #include lines; two .c files that share one
header can still call each other without it seeing. This reads what the
linker sees instead: for each object BUILD/src/<layer>/<name>.o, the global
symbols it defines and the ones it leaves undefined (nm -P). An object that
uses a symbol another defines depends on that file. Fails, listing each
breach, when a file uses a symbol defined in a layer above its own, or when
files depend on each other in a circle (Tarjan's SCCs, as check-layers.py
does for includes). Symbols from outside src/ (libc, the libraries, the
generated migrations) are not edges.

usage: check-calls.py "LAYERS" [BUILD]
"""
import os
import subprocess
import sys

from circles import circles

LAYERS = sys.argv[1].split() if len(sys.argv) > 1 else []
BUILD = sys.argv[2] if len(sys.argv) > 2 else "build"
SRC = "src"


def objects():
    """(layer, "layer/name", path of its object) for every .c of src/."""
    for layer in LAYERS:
        folder = os.path.join(SRC, layer)
        for name in sorted(os.listdir(folder)):
            if name.endswith(".c"):
                yield layer, layer + "/" + name[:-2], os.path.join(BUILD, folder, name[:-2] + ".o")


def symbols(path):
    """The global symbols an object defines and those it leaves undefined."""
    out = subprocess.run(["nm", "-P", path], check=True, capture_output=True, text=True).stdout
    defined, undefined = set(), set()
    for line in out.splitlines():
        fields = line.split()
        if len(fields) < 2:
            continue
        name, kind = fields[0], fields[1]
        if kind == "U":
            undefined.add(name)
        elif kind.isupper() or kind in "vw":  # global or weak, not a static
            defined.add(name)
    return defined, undefined


def main():
    rank = {layer: i for i, layer in enumerate(LAYERS)}
    layer_of, defined_by, uses, missing = {}, {}, {}, []
    for layer, module, path in objects():
        if not os.path.exists(path):
            missing.append(path)
            continue
        defined, undefined = symbols(path)
        layer_of[module] = layer
        uses[module] = undefined
        for sym in defined:
            defined_by[sym] = module
    if missing:
        for path in missing:
            print(f"check-calls: {path} is not built (make all first)")
        return 1
    problems, deps = [], {}
    for module in sorted(uses):
        deps[module] = {}
        for sym in sorted(uses[module]):
            target = defined_by.get(sym)
            if target is None or target == module:
                continue
            deps[module].setdefault(target, []).append(sym)
            if rank[layer_of[target]] > rank[layer_of[module]]:
                problems.append(f"{module}.c uses {sym} of {target}.c, a layer above {layer_of[module]}/")
    problems += [describe(scc, deps) for scc in circles(deps)]
    for p in problems:
        print("check-calls: " + p)
    if problems:
        return 1
    edges = sum(len(d) for d in deps.values())
    print(f"check-calls: {len(deps)} objects, {edges} file-to-file uses, none upward, no circle")
    return 0


def describe(scc, deps):
    """"files in a circle: a.c <-> b.c" and, indented, who uses what inside it."""
    lines = ["files in a circle: " + " <-> ".join(m + ".c" for m in scc)]
    members = set(scc)
    for m in scc:
        for d in sorted(set(deps[m]) & members):
            syms = deps[m][d]
            shown = ", ".join(syms[:6]) + (f", ... ({len(syms)} in all)" if len(syms) > 6 else "")
            lines.append(f"    {m}.c -> {d}.c: {shown}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
