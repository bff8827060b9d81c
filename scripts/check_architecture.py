#!/usr/bin/env python3
"""Architecture check run by CI: the dependency rules of docs/ARCHITECTURE.md that the compiler
does not enforce.

1. No two modules import each other, directly or through a loop, within any crate. A module's
   imports are the `crate::…`, `super::…` and `self::…` paths its file names (in `use` items and
   inline); a child naming items of its own ancestors is not counted (that is its namespace).
   Loops between sibling modules are reported as the strongly connected groups they form.
2. No adapter crate (api, web, admin) depends on the store crate: adapters reach state only
   through services.

KNOWN_DEBT lists what existed when the check was written and is being removed (issue 7). The
check fails on anything not listed, and also on a listed item that no longer exists, so the list
only ever shrinks and stays true.
"""

import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ADAPTERS = {"api", "web", "admin"}

# Each loop as "crate: a, b, c" (sorted module paths); each adapter dependency as "crate -> store".
KNOWN_DEBT = set()

PATH = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
USE_GROUP = re.compile(r"\buse\s+(crate|super|self)::((?:[A-Za-z_][A-Za-z0-9_]*::)*)\{([^;]*)\};", re.S)
COMMENT = re.compile(r"//[^\n]*")


def crate_modules(src):
    """Module path (tuple) -> file, for every .rs file under src (lib.rs/main.rs is the root)."""
    modules = {}
    for directory, _, files in os.walk(src):
        for name in files:
            if not name.endswith(".rs"):
                continue
            path = os.path.join(directory, name)
            parts = os.path.relpath(path, src)[:-3].split(os.sep)
            if parts[-1] in ("mod", "lib", "main"):
                parts = parts[:-1]
            if "tests" in parts[:-1] or parts[:1] == ["bin"]:
                continue
            modules[tuple(parts)] = path
    return modules


def strip_tests(text):
    """Drops `#[cfg(test)] mod … { … }` blocks: test modules may import what they test."""
    out, i = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{", text):
        if m.start() < i:
            continue
        out.append(text[i:m.start()])
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        i = j
    out.append(text[i:])
    return "".join(out)


def referenced_paths(text):
    """Every crate/super/self path the text names, with `use a::{b, c::d}` groups expanded."""
    text = COMMENT.sub("", text)
    paths = []
    for m in USE_GROUP.finditer(text):
        prefix = m.group(2).split("::")[:-1]
        for item in m.group(3).split(","):
            item = item.strip().split(" as ")[0].strip()
            if not item or item.startswith("{"):
                continue
            paths.append((m.group(1), prefix + [p for p in item.split("::") if p]))
    for m in PATH.finditer(text):
        paths.append((m.group(1), [p for p in m.group(2).split("::") if p]))
    return paths


def resolve(current, anchor, parts, modules, is_dir_module):
    if anchor == "crate":
        base = ()
    elif anchor == "self":
        base = current
    else:
        base = current[:-1]
        while parts and parts[0] == "super":
            base, parts = base[:-1], parts[1:]
    target = base
    for part in parts:
        if part in ("self", "super", "*"):
            break
        if target + (part,) in modules:
            target = target + (part,)
        else:
            break
    return target


def module_loops(crate, src):
    modules = crate_modules(src)
    edges = {m: set() for m in modules}
    for module, path in modules.items():
        text = strip_tests(open(path, encoding="utf-8").read())
        is_dir = path.endswith(("mod.rs", "lib.rs", "main.rs"))
        current = module + ("_",) if is_dir else module
        for anchor, parts in referenced_paths(text):
            target = resolve(current, anchor, parts, modules, is_dir)
            if target == module or module[: len(target)] == target:
                continue  # itself, or one of its ancestors
            if target[: len(module)] == module:
                continue  # its own descendants
            edges[module].add(target)
    return [sorted("::".join(m) for m in group) for group in strongly_connected(edges) if len(group) > 1]


def strongly_connected(edges):
    index, low, stack, on_stack, groups, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            groups.append(group)

    sys.setrecursionlimit(10_000)
    for v in list(edges):
        if v not in index:
            visit(v)
    return groups


def main():
    found = set()
    crates_dir = os.path.join(ROOT, "crates")
    for crate in sorted(os.listdir(crates_dir)):
        src = os.path.join(crates_dir, crate, "src")
        if not os.path.isdir(src):
            continue
        for group in module_loops(crate, src):
            found.add(f"{crate}: {', '.join(group)}")
        manifest = open(os.path.join(crates_dir, crate, "Cargo.toml"), encoding="utf-8").read()
        dependencies = manifest.split("[dependencies]", 1)[-1].split("\n[", 1)[0]
        if crate in ADAPTERS and re.search(r"^bulwark-store\b", dependencies, re.M):
            found.add(f"{crate} -> store")
    new = sorted(found - KNOWN_DEBT)
    gone = sorted(KNOWN_DEBT - found)
    for item in new:
        print(f"architecture: new violation: {item}")
    for item in gone:
        print(f"architecture: fixed, remove from KNOWN_DEBT: {item}")
    print(f"architecture: {len(found)} known violation(s) remain, {len(new)} new, {len(gone)} fixed")
    return 1 if new or gone else 0


if __name__ == "__main__":
    sys.exit(main())
