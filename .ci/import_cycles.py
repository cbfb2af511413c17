#!/usr/bin/env python3
"""Fails when the modules of a crate import each other in a cycle.

For each crate root given (default: every crate of the workspace), it walks the `mod x;`
declarations to find the crate's module files, reads every `crate::…`, `super::…` and
`self::…` path in them (in `use` trees and inline), resolves each to the module file that
defines it (the longest module prefix), and looks for strongly connected components in the
resulting file graph. Inline `#[cfg(test)]` modules are left out (their `super::` is the
file they sit in). Prints every cycle and exits 1 if there is one.

    .ci/import_cycles.py                 # the whole workspace
    .ci/import_cycles.py src/lib.rs      # one crate
"""
import os
import re
import sys

ROOTS = [
    "src/lib.rs",
    "src/main.rs",
    "entity/src/lib.rs",
    "migration/src/lib.rs",
    "bench/src/lib.rs",
    "bench/src/main.rs",
    "bench/src/bin/fault/main.rs",
]

MOD_DECL = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+([a-z_][a-z0-9_]*)\s*;", re.M)
PATH = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
USE = re.compile(r"\buse\s+([^;]+);", re.S)


def strip(text):
    """The source without comments, string literals and inline test modules."""
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r'r#*"(?:.|\n)*?"#*|"(?:\\.|[^"\\])*"', '""', text)
    cut = re.search(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{", text)
    return text[: cut.start()] if cut else text


def expand(tree):
    """The flat paths of a `use` tree: `a::{b, c::{d, e}}` → a::b, a::c::d, a::c::e."""
    tree = re.sub(r"\s+", "", tree)
    out = []

    def walk(prefix, rest):
        depth, items, start = 0, [], 0
        for i, ch in enumerate(rest):
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            elif ch == "," and depth == 0:
                items.append(rest[start:i])
                start = i + 1
        items.append(rest[start:])
        for item in filter(None, items):
            brace = item.find("{")
            if brace >= 0 and item.endswith("}"):
                walk(prefix + item[:brace], item[brace + 1 : -1])
            else:
                out.append(prefix + re.sub(r"as\w+$", "", item))

    walk("", tree)
    return out


def modules(root):
    """Module path (tuple) → file, for the crate whose root file is `root`."""
    found = {}

    def visit(path, file):
        found[path] = file
        text = strip(open(file, encoding="utf-8").read())
        base = os.path.dirname(file)
        own = os.path.basename(file) in ("lib.rs", "main.rs", "mod.rs")
        folder = base if own else os.path.join(base, os.path.basename(file)[:-3])
        for name in MOD_DECL.findall(text):
            for candidate in (os.path.join(folder, name + ".rs"), os.path.join(folder, name, "mod.rs")):
                if os.path.exists(candidate):
                    visit(path + (name,), candidate)
                    break

    visit((), root)
    return found


def edges(mods):
    files = {f: p for p, f in mods.items()}
    graph = {f: set() for f in files}
    for file, path in files.items():
        text = strip(open(file, encoding="utf-8").read())
        paths = []
        for tree in USE.findall(text):
            paths += [p.split("::") for p in expand(tree) if re.match(r"(crate|super|self)::", p)]
        paths += [[head] + rest.split("::")[1:] for head, rest in PATH.findall(text)]
        for parts in paths:
            head, rest = parts[0], [p for p in parts[1:] if p and p != "*"]
            if head == "crate":
                base = ()
            elif head == "super":
                base = path[:-1]
                while rest and rest[0] == "super":
                    base, rest = base[:-1], rest[1:]
            else:
                base = path
            full = base + tuple(rest)
            while full not in mods and full:
                full = full[:-1]
            target = mods.get(full)
            if target and target != file:
                graph[file].add(target)
    return graph


def cycles(graph):
    """Strongly connected components with more than one file (Tarjan)."""
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]

    def connect(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in sorted(graph):
        if v not in index:
            connect(v)
    return out


def main():
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    roots = sys.argv[1:] or ROOTS
    failed = False
    for root in roots:
        mods = modules(root)
        graph = edges(mods)
        found = cycles(graph)
        arrows = sum(len(t) for t in graph.values())
        print(f"{root}: {len(mods)} modules, {arrows} imports between them, {len(found)} cycles")
        for component in found:
            failed = True
            print("  cycle:", " ↔ ".join(component))
            for f in component:
                print(f"    {f} → {', '.join(sorted(t for t in graph[f] if t in component))}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
