#!/usr/bin/env python3
"""Fails when a module of a workspace crate imports one that imports it back.

docs/architecture.md's rule, checked: in each crate under the workspace root, a module (a
file: `src/a.rs` or `src/a/mod.rs` is `a`, `src/a/b.rs` is `a::b`) depends on every module
it names through `crate::…`, `super::…` or its own child's name, in a `use` or in a path,
outside comments and
outside its `#[cfg(test)]` module. The crate root (`lib.rs`, `main.rs`) is the facade that
declares modules and re-exports their items, so a path to an item re-exported there counts
as a dependency on the module that defines it only when named through that module; the
root itself is no node. A module is part of its parent (it sees the parent's private
items by design), so a child naming an ancestor is no edge; a parent naming its child is. A cycle among the rest is printed, as `a -> b -> a`, and the exit
status is 1.

Usage: module-cycles.py [CRATE_DIR ...] (default: every crate of the workspace).
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PATH = re.compile(r"\b(crate|super)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
# A path from a module to its own child (`use output::ToolOutput;` in `tools/mod.rs`).
RELATIVE = re.compile(r"(?<![:\w])([a-z_][a-z0-9_]*)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
USE_GROUP = re.compile(r"\buse\s+(crate|super)((?:::[A-Za-z_][A-Za-z0-9_]*)*)::\{([^;]*)\};", re.S)


def modules(src):
    """{module path (tuple): file} of a crate's `src`."""
    found = {}
    for file in src.rglob("*.rs"):
        parts = list(file.relative_to(src).with_suffix("").parts)
        if parts[0] == "bin":
            continue
        if parts[-1] == "mod":
            parts.pop()
        if parts in (["lib"], ["main"]):
            parts = []
        found[tuple(parts)] = file
    return found


def code_of(text):
    """The text without comments and without the `#[cfg(test)]` module at its end."""
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    test = re.search(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{", text)
    return text[: test.start()] if test else text


def resolve(known, base, segments):
    """The longest module of `known` that `base` + `segments` names, or None."""
    path = list(base)
    best = tuple(base) if tuple(base) in known else None
    for segment in segments:
        if segment == "super":
            path = path[:-1]
            continue
        path.append(segment)
        if tuple(path) in known:
            best = tuple(path)
        else:
            break
    return best


def edges(known):
    graph = {module: set() for module in known if module}
    for module, file in known.items():
        if not module:
            continue
        code = code_of(file.read_text())
        named = []
        for head, rest in PATH.findall(code):
            named.append((head, rest.split("::")[1:]))
        for first, rest in RELATIVE.findall(code):
            if module + (first,) in known:
                named.append(("self", [first] + rest.split("::")[1:]))
        for head, prefix, group in USE_GROUP.findall(code):
            for item in re.split(r"[,\s]+", group):
                item = item.split("::")[0].strip()
                if item and item not in ("self", "*"):
                    named.append((head, prefix.split("::")[1:] + [item]))
        for head, segments in named:
            # `super` from `a::b` is `a`; `crate` is the root; a child's path starts here.
            base = {"super": module[:-1], "crate": (), "self": module}[head]
            target = resolve(known, base, segments)
            # A module is part of its parent (it sees the parent's private items by design):
            # naming an ancestor is no dependency; naming a child or any other module is.
            if target and target in graph and target != module[: len(target)]:
                graph[module].add(target)
    return graph


def cycles(graph):
    """Each cycle once, as a list of modules from its smallest."""
    found, seen = [], set()
    for start in sorted(graph):
        stack = [(start, [start])]
        while stack:
            node, path = stack.pop()
            for nxt in sorted(graph[node]):
                if nxt == start:
                    key = frozenset(path)
                    if key not in seen:
                        seen.add(key)
                        found.append(path + [start])
                elif nxt not in path and nxt > start:
                    stack.append((nxt, path + [nxt]))
    return found


def crates():
    for manifest in sorted(ROOT.glob("**/Cargo.toml")):
        if "target" in manifest.parts or ".git" in manifest.parts:
            continue
        if (manifest.parent / "src").is_dir():
            yield manifest.parent


def main(args):
    dirs = [Path(arg) for arg in args] or list(crates())
    bad = 0
    for crate in dirs:
        graph = edges(modules(crate / "src"))
        for cycle in cycles(graph):
            bad += 1
            print(f"{crate.name}: " + " -> ".join("::".join(m) for m in cycle))
    if bad:
        print(f"{bad} module cycle(s): a module imports one that imports it back (docs/architecture.md)")
        return 1
    print(f"no module cycles in {len(dirs)} crates")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
