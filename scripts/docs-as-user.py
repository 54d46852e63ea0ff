#!/usr/bin/env python3
"""Compiles every Rust block of the README and of docs/*.md as a user's crate would: a
scratch crate outside the workspace, depending on the workspace crates by path with their
default features, plus only what the README's Install section tells a user to add
(tokio, serde_json, axum for the web section). No workspace dev-dependency is there to make a block
compile that would not compile for a user. The emulator is a dev-dependency, as Install
says: a block that uses it is an example of the crate (`examples/`, which see
dev-dependencies, as the README tells the user to save it), every other block a binary
that cannot name it.

A block that names a feature-gated item gets that feature, as its section tells the user:
`RedisStore`/`RedisHandles` -> the crate `fastn-auth-redis` (and the axum crate's `redis`),
`fastn_auth::blocking` -> `blocking`,
`metrics_exporter_prometheus` -> `metrics` (and the exporter). Each feature set is its own
package, built alone, so the default set is built with default features only.

Blocks fenced `ignore` or `compile_fail` are skipped; hidden lines (`# …`) are kept, as
rustdoc compiles them. Usage: docs-as-user.py [--keep DIR]; honours CARGO_TARGET_DIR.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
# Rustdoc examples of the crates a user depends on, from their doc comments.
CRATES = ["fastn-auth", "fastn-auth-agent", "fastn-auth-axum", "fastn-auth-emulator", "fastn-auth-mcp"]

# What a user adds next to fastn-auth, as the README's Install section says.
BASE_DEPS = {
    "tokio": '{ version = "1", features = ["macros", "rt-multi-thread"] }',
    "axum": '"0.8"',
    "serde_json": '"1"',
}
FEATURES = [
    ("redis", re.compile(r"\bRedis(Store|Handles)\b")),
    ("blocking", re.compile(r"fastn_auth::blocking\b")),
    ("metrics", re.compile(r"\bmetrics_exporter_prometheus\b")),
    ("reqwest-middleware", re.compile(r"\bTokenMiddleware\b")),
    ("tower", re.compile(r"\bTokenLayer\b")),
    ("google-apis", re.compile(r"\bGoogleToken\b")),
    # Not features of fastn-auth: crates the block's crate needs beside it.
    # The workspace's manifest selects tools, whose typed calls check their input with it.
    ("agent", re.compile(r"\bfastn_auth_agent\b|\bconnectors!")),
    ("mcp", re.compile(r"\bfastn_auth_mcp\b")),
    ("octocrab", re.compile(r"\boctocrab::")),
    ("futures", re.compile(r"\bfutures_util::")),
]
# Which of those are features of fastn-auth itself.
SDK_FEATURES = {"blocking", "metrics", "reqwest-middleware", "tower", "google-apis"}
HYPER = 'hyper-util = { version = "0.1", features = ["client-legacy", "tokio", "http1"] }'
# The crates a user adds for a feature's block: the provider-SDK crates a bridge goes into.
EXTRA_DEPS = {
    "reqwest-middleware": ['reqwest-middleware = "0.5"', 'reqwest = { version = "0.13", default-features = false }'],
    "tower": ['tower = { version = "0.5", default-features = false, features = ["util"] }', HYPER,
              'http = "1"', 'http-body = "1"', 'http-body-util = "0.1"', 'bytes = "1"'],
    "google-apis": ['google-sheets4 = { version = "7", default-features = false }', HYPER],
    "octocrab": ['octocrab = { version = "0.54", default-features = false }'],
    # A stream's `next()` (the health events).
    "futures": ['futures-util = { version = "0.3", default-features = false }'],
}


def documents(path):
    """The Markdown texts of a file, each a list of (line number, text): the file itself,
    or each doc comment of a Rust file (a block never spans two)."""
    lines = path.read_text().splitlines()
    if path.suffix != ".rs":
        return [list(enumerate(lines, 1))]
    docs, current = [], []
    for number, line in enumerate(lines, 1):
        doc = re.match(r"^\s*//[/!] ?(.*)$", line)
        if doc and not line.lstrip().startswith("////"):
            current.append((number, doc.group(1)))
        elif current:
            docs.append(current)
            current = []
    if current:
        docs.append(current)
    return docs


def blocks(path):
    """(line, info, code) of each Rust block of a Markdown file or of a Rust file's docs."""
    out = []
    for document in documents(path):
        info, start, lines = None, 0, []
        for number, line in document:
            fence = re.match(r"^```(.*)$", line.strip())
            if fence and info is None:
                info, start, lines = fence.group(1).strip(), number, []
            elif fence:
                words = [word.strip() for word in info.split(",")]
                # An unlabelled block is Rust to rustdoc, and so here.
                if words[0] in ("rust", "") and not {"ignore", "compile_fail"} & set(words):
                    out.append((start, info, "\n".join(lines)))
                info = None
            elif info is not None:
                lines.append(line)
    return out


def as_source(code):
    """The block as rustdoc compiles it: hidden lines shown, wrapped in `main` if it has none."""
    shown = []
    for line in code.splitlines():
        stripped = line.lstrip()
        if stripped == "#":
            shown.append("")
        elif stripped.startswith("# "):
            shown.append(line.replace("# ", "", 1))
        elif stripped.startswith("##"):
            shown.append(line.replace("##", "#", 1))
        else:
            shown.append(line)
    text = "\n".join(shown)
    if not re.search(r"\bfn main\s*\(", text):
        text = f"fn main() {{\n{text}\n}}"
    # A doctest's unused import is no user's problem.
    return "#![allow(unused)]\n" + text + "\n"


AXUM_REDIS = ', features = ["redis"]'


def features_of(code):
    return tuple(name for name, pattern in FEATURES if pattern.search(code))


def manifest(name, features):
    path = lambda crate: f'{{ path = "{ROOT / crate}"'  # noqa: E731
    sdk = [f for f in features if f in SDK_FEATURES]
    wanted = lambda crate: (", features = [" + ", ".join(f'"{f}"' for f in sdk if f != "metrics" or crate == "fastn-auth") + "]") if sdk else ""  # noqa: E731
    deps = [
        f"fastn-auth = {path('fastn-auth')}{wanted('fastn-auth')} }}",
        f"fastn-auth-axum = {path('fastn-auth-axum')}{AXUM_REDIS if 'redis' in features else ''} }}",
    ]
    if "redis" in features:
        deps.append(f"fastn-auth-redis = {path('fastn-auth-redis')} }}")
    if "agent" in features:
        deps.append(f"fastn-auth-agent = {path('fastn-auth-agent')} }}")
    if "mcp" in features:
        deps.append(f"fastn-auth-mcp = {path('fastn-auth-mcp')} }}")
    extra = [dep for feature in features for dep in EXTRA_DEPS.get(feature, [])]
    deps += sorted(set(extra), key=extra.index)
    deps += [f"{crate} = {spec}" for crate, spec in BASE_DEPS.items()]
    if "metrics" in features:
        deps.append('metrics-exporter-prometheus = { version = "0.17", default-features = false, features = ["http-listener"] }')
    return "\n".join([
        "[package]", f'name = "{name}"', 'version = "0.0.0"', 'edition = "2024"', "publish = false", "",
        "[dependencies]", *deps, "",
        "[dev-dependencies]", f"fastn-auth-emulator = {path('fastn-auth-emulator')} }}", "",
    ])


def copy_manifest(directory):
    """The workspace's manifest and the tool registry it names, into `directory`."""
    shutil.copy(ROOT / "connectors.yaml", directory / "connectors.yaml")
    (directory / ".fastn").mkdir(exist_ok=True)
    shutil.copy(ROOT / ".fastn" / "registry.json", directory / ".fastn" / "registry.json")


def main():
    keep = sys.argv[2] if len(sys.argv) > 2 and sys.argv[1] == "--keep" else None
    scratch = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="fastn-auth-docs-as-user-"))
    if scratch.exists():
        shutil.rmtree(scratch)
    scratch.mkdir(parents=True)
    groups = {}
    sources = SOURCES + [path for crate in CRATES for path in sorted((ROOT / crate / "src").rglob("*.rs"))]
    for source in sources:
        for line, _info, code in blocks(source):
            groups.setdefault(features_of(code), []).append((source, line, code))
    members = []
    for index, (features, found) in enumerate(sorted(groups.items())):
        name = "docs-" + ("-".join(features) if features else "default")
        package = scratch / name
        (package / "src" / "bin").mkdir(parents=True)
        (package / "examples").mkdir()
        (package / "src" / "lib.rs").write_text("")
        (package / "Cargo.toml").write_text(manifest(name, features))
        copy_manifest(package)
        for source, line, code in found:
            stem = re.sub(r"[^a-z0-9]+", "_", f"{source.stem}_{line}".lower())
            # What uses the emulator (a dev-dependency) is an example; the rest a binary.
            home = "examples" if re.search(r"\bfastn_auth_emulator\b", code) else "src/bin"
            (package / home / f"{stem}.rs").write_text(
                as_source(code) + f"// from {source.relative_to(ROOT)}:{line}\n"
            )
        members.append((name, features, len(found)))
    # Examples inside a crate name the manifest beside the crate (`../connectors.yaml`).
    copy_manifest(scratch)
    (scratch / "Cargo.toml").write_text(
        "[workspace]\nresolver = \"3\"\nmembers = [" + ", ".join(f'"{m}"' for m, _, _ in members) + "]\n"
    )
    # The workspace's versions, so the scratch crate builds what the workspace tested.
    shutil.copy(ROOT / "Cargo.lock", scratch / "Cargo.lock")
    env = dict(os.environ)
    env.setdefault("CARGO_TARGET_DIR", str(ROOT / "target"))
    failed = []
    for name, features, count in members:
        sdk = [f for f in features if f in SDK_FEATURES]
        others = [f for f in features if f not in SDK_FEATURES]
        beside = f" (with {', '.join(others)})" if others else ""
        print(f"== {name}: {count} blocks, fastn-auth features: {', '.join(sdk) or 'default only'}{beside}", flush=True)
        # `check`, not `build`: a block is compiled (types, borrows, the macro's expansion)
        # without linking one 45 MB binary per block, which filled a CI machine's disk.
        started = time.monotonic()
        status = subprocess.run(["cargo", "check", "--quiet", "-p", name, "--bins", "--examples"], cwd=scratch, env=env)
        if status.returncode != 0:
            failed.append(name)
        print(f"   {time.monotonic() - started:.0f} s", flush=True)
    if failed:
        print(f"blocks that do not compile in a user's crate: {', '.join(failed)} (sources in {scratch})")
        return 1
    total = sum(count for _, _, count in members)
    print(f"{total} Rust blocks of the README and docs/ compile in a user's crate")
    if not keep:
        shutil.rmtree(scratch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
