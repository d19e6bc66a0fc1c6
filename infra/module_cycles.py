#!/usr/bin/env python3
"""Module cycles of a Rust crate: which top-level modules import each other in a circle.

Reads every `.rs` file under the crate's `src/`, maps it to its top-level module
(`src/replies/tests.rs` belongs to `replies`), collects the modules it names through
`crate::<module>` (in `use` lines, groups `use crate::{a, b::c}` included, and in paths),
and prints the strongly connected components of more than one module.

Test code is left out unless `--with-tests`: a `#[cfg(test)]` item and a `tests.rs` file do not
make a dependency of the module they test.

    python3 infra/module_cycles.py crates/domain            # cycles, one line each
    python3 infra/module_cycles.py crates/domain --edges    # and every edge

With `--layer NAME=a,b,c` (bottom layer first, repeated), it also prints every arrow that runs
from a layer up to a higher one; modules named in no layer form the top layer. The domain's
layers (records, then ports, then the behaviours):

    python3 infra/module_cycles.py crates/domain \
      --layer records=access,configuration,customer,delivery,events,ids,inbox,incident,integrations,message,page,report,search,sessions,sla,templates,ticket,timers,tokens,update \
      --layer ports=ports

Exits 1 when there is a cycle or an arrow upwards.
"""

import argparse
import pathlib
import re
import sys


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def strip_test_items(text):
    """Removes each `#[cfg(test)]` item (a `mod tests { ... }` or a single item)."""
    out = []
    i = 0
    marker = "#[cfg(test)]"
    while True:
        at = text.find(marker, i)
        if at < 0:
            out.append(text[i:])
            return "".join(out)
        out.append(text[i:at])
        j = at + len(marker)
        # the item ends at its first `;` before any `{`, or at the `}` closing its first `{`
        depth = 0
        while j < len(text):
            c = text[j]
            if c == ";" and depth == 0:
                j += 1
                break
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    j += 1
                    break
            j += 1
        i = j


def top_module(src, path):
    rel = path.relative_to(src)
    first = rel.parts[0]
    if first.endswith(".rs"):
        first = first[:-3]
    return first


def group_heads(body):
    """Top-level names in a `{a, b::c, d::{e, f}}` group."""
    heads, depth, current = [], 0, ""
    for c in body:
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif c == "," and depth == 0:
            heads.append(current)
            current = ""
            continue
        if depth == 0:
            current += c
    heads.append(current)
    names = []
    for h in heads:
        m = re.match(r"\s*(\w+)", h)
        if m:
            names.append(m.group(1))
    return names


def references(text):
    names = set()
    for m in re.finditer(r"crate::\{", text):
        start = m.end()
        depth, j = 1, start
        while j < len(text) and depth:
            if text[j] == "{":
                depth += 1
            elif text[j] == "}":
                depth -= 1
            j += 1
        names.update(group_heads(text[start : j - 1]))
    names.update(re.findall(r"crate::(\w+)", text))
    return names


def graph(crate, with_tests):
    src = pathlib.Path(crate) / "src"
    modules = {}
    for path in sorted(src.rglob("*.rs")):
        if path.name in ("lib.rs", "main.rs") and path.parent == src:
            continue
        if not with_tests and path.stem == "tests":
            continue
        modules.setdefault(top_module(src, path), []).append(path)
    edges = {m: set() for m in modules}
    for module, paths in modules.items():
        for path in paths:
            text = strip_comments(path.read_text())
            if not with_tests:
                text = strip_test_items(text)
            for name in references(text):
                if name in modules and name != module:
                    edges[module].add(name)
    return edges


def strongly_connected(edges):
    """Tarjan's algorithm."""
    index, low, on_stack, stack, result = {}, {}, set(), [], []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            result.append(sorted(component))

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("crate", help="the crate's directory (holding src/)")
    parser.add_argument("--with-tests", action="store_true", help="count test code too")
    parser.add_argument("--edges", action="store_true", help="print every edge")
    parser.add_argument(
        "--layer",
        action="append",
        default=[],
        metavar="NAME=a,b",
        help="a layer of modules, bottom first; unnamed modules are the top layer",
    )
    args = parser.parse_args()
    edges = graph(args.crate, args.with_tests)
    level, names = {}, []
    for i, spec in enumerate(args.layer):
        name, _, members = spec.partition("=")
        names.append(name)
        for module in members.split(","):
            if module not in edges:
                parser.error(f"layer {name}: no module {module}")
            level[module] = i
    names.append("the rest")
    top = len(args.layer)
    upwards = [
        (a, b)
        for a in sorted(edges)
        for b in sorted(edges[a])
        if level.get(a, top) < level.get(b, top)
    ]
    if args.edges:
        for module in sorted(edges):
            print(f"{module} -> {', '.join(sorted(edges[module]))}")
    cycles = [c for c in strongly_connected(edges) if len(c) > 1]
    in_cycles = sum(len(c) for c in cycles)
    print(f"{len(edges)} modules, {in_cycles} in {len(cycles)} cycle(s)")
    for c in sorted(cycles, key=len, reverse=True):
        print(f"  {len(c)}: {' '.join(c)}")
    if args.layer:
        print(f"{len(upwards)} arrow(s) from a layer up to a higher one")
        for a, b in upwards:
            print(f"  {a} ({names[level.get(a, top)]}) -> {b} ({names[level.get(b, top)]})")
    return 1 if cycles or upwards else 0


if __name__ == "__main__":
    sys.exit(main())
