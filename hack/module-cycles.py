#!/usr/bin/env python3
"""Fails if a crate's top-level modules import each other in a cycle.

A module's imports are its `crate::NAME` paths (use lines and inline
paths), comments and `mod tests` left out. Modules in a cycle cannot be
read, tested or moved one at a time, which is what issue 19 untangled;
`make lint` runs this so that no new cycle comes back unnoticed.
Usage: hack/module-cycles.py [CRATE_SRC_DIR ...] (default: crates/*/src).
"""
import glob
import os
import re
import sys


def imports(src):
    graph = {}
    for path in glob.glob(os.path.join(src, "**", "*.rs"), recursive=True):
        rel = os.path.relpath(path, src)[:-3]
        module = rel.split(os.sep)[0]
        if module in ("lib", "main"):
            continue
        text = open(path, encoding="utf-8").read()
        text = re.split(r"#\[cfg\(test\)\]\s*mod tests\s*\{", text)[0]
        text = re.sub(r"//[^\n]*", "", text)
        refs = set(re.findall(r"\bcrate::([a-z_0-9]+)", text))
        for group in re.findall(r"use crate::\{([^}]*)\}", text):
            refs |= {g.strip().split("::")[0] for g in group.split(",")}
        graph.setdefault(module, set()).update(refs - {module})
    return {m: {r for r in refs if r in graph} for m, refs in graph.items()}


def cycles(graph):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main():
    srcs = sys.argv[1:] or sorted(glob.glob("crates/*/src"))
    bad = 0
    for src in srcs:
        for comp in cycles(imports(src)):
            g = imports(src)
            edges = ", ".join(f"{a} -> {b}" for a in comp for b in sorted(g[a]) if b in comp)
            print(f"module-cycles: {src}: {' / '.join(comp)} import each other ({edges})")
            bad += 1
    if bad:
        print("module-cycles: move what both need into a module of its own", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
