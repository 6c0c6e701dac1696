#!/usr/bin/env python3
"""make check: the layering of src/ stays true.

src/ holds one folder per layer, lowest first in LAYERS (the Makefile's
list). Code in a folder may include headers of its own folder and of the
folders below it, never above; a private header (*_int.h) only from its own
folder; and no two modules (a .c with its .h) may depend on each other,
directly or round a longer circle. Prints every breach and exits 1 if any.
Two .c files that share one header are one module here; check-calls.py
reads the calls between them from the built objects.
"""
import os
import re
import sys

from circles import circles

LAYERS = sys.argv[1].split() if len(sys.argv) > 1 else []
SRC = "src"
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def sources():
    for layer in LAYERS:
        folder = os.path.join(SRC, layer)
        for name in sorted(os.listdir(folder)):
            if name.endswith((".c", ".h")):
                yield layer, name, os.path.join(folder, name)


def main():
    rank = {layer: i for i, layer in enumerate(LAYERS)}
    problems = []
    deps = {}  # module "layer/name" -> modules it includes
    for layer, name, path in sources():
        module = layer + "/" + name[:-2]
        deps.setdefault(module, set())
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for inc in INCLUDE.findall(text):
            where, _, header = inc.rpartition("/")
            if where not in rank:
                if not os.path.exists(os.path.join("build", inc)):  # generated
                    problems.append(f"{path}: #include \"{inc}\" names no layer (write \"<layer>/{inc}\")")
                continue
            if rank[where] > rank[layer]:
                problems.append(f"{path}: includes {inc}, a layer above {layer}/")
            if header.endswith("_int.h") and where != layer:
                problems.append(f"{path}: includes {inc}, private to {where}/")
            target = where + "/" + header[:-2]
            if target != module:
                deps[module].add(target)
    problems += ["modules in a circle: " + " <-> ".join(scc) for scc in circles(deps)]
    for p in problems:
        print("check-layers: " + p)
    if problems:
        return 1
    print(f"check-layers: {len(deps)} modules in {len(LAYERS)} layers, no upward include, no circle")
    return 0


if __name__ == "__main__":
    sys.exit(main())
