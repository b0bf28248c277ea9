#!/usr/bin/env python3
"""The layering check of `make test` (docs/ARCHITECTURE.md, "Layers and libraries").

Every `#include "vpipe/<folder>/..."` in a file under src/vpipe/<folder>/ must name the folder
itself or one the ```layers block of docs/ARCHITECTURE.md lets it use; the block must name every
folder and have no cycle, so that "down" means something. An arrow upward fails the test with the
file, the line and the arrow.

    layering_test.py REPO_ROOT     check the tree
    layering_test.py --self-test   check the checker on a tree with one arrow upward
"""

import re
import sys
import tempfile
from pathlib import Path

INCLUDE = re.compile(r'^\s*#\s*include\s+"vpipe/([A-Za-z0-9_/]+)/[^/"]+"')
SOURCES = {".h", ".hpp", ".cpp", ".cc", ".cu", ".cuh"}


def read_layers(architecture: Path) -> dict:
    """folder -> set of folders it may include, from the ```layers block."""
    text = architecture.read_text(encoding="utf-8")
    block = re.search(r"^```layers\n(.*?)^```", text, re.M | re.S)
    if block is None:
        raise SystemExit(f"{architecture}: no ```layers block")
    layers = {}
    for number, line in enumerate(block.group(1).splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        folder, _, uses = line.partition(":")
        layers[folder.strip()] = set(uses.split())
    for folder, uses in layers.items():
        for used in uses:
            if used not in layers:
                raise SystemExit(f"{architecture}: layer '{folder}' uses '{used}', which is not a layer")
    return layers


def find_cycle(layers: dict):
    """A list of folders forming a cycle, or None."""
    state = {}

    def visit(folder, path):
        state[folder] = "open"
        for used in sorted(layers[folder]):
            if state.get(used) == "open":
                return path[path.index(used):] + [used] if used in path else [folder, used]
            if used not in state:
                found = visit(used, path + [used])
                if found:
                    return found
        state[folder] = "done"
        return None

    for folder in sorted(layers):
        if folder not in state:
            found = visit(folder, [folder])
            if found:
                return found
    return None


def owner(path: str, layers: dict) -> str:
    """The layer a folder path (relative to src/vpipe) belongs to: the longest layer prefix."""
    best = ""
    for folder in layers:
        if (path == folder or path.startswith(folder + "/")) and len(folder) > len(best):
            best = folder
    return best


def check(root: Path) -> list:
    """The problems found under root (empty: the layering holds)."""
    layers = read_layers(root / "docs" / "ARCHITECTURE.md")
    problems = []
    cycle = find_cycle(layers)
    if cycle:
        problems.append("the layers have a cycle: " + " -> ".join(cycle))
    src = root / "src" / "vpipe"
    for folder in sorted(p for p in src.iterdir() if p.is_dir()):
        if folder.name not in layers:
            problems.append(f"src/vpipe/{folder.name}/ is not in the layers block")
    for file in sorted(src.rglob("*")):
        if file.suffix not in SOURCES or not file.is_file():
            continue
        relative = file.relative_to(src).parent.as_posix()
        mine = owner(relative, layers)
        if not mine:
            continue  # reported above as a folder missing from the block
        for number, line in enumerate(file.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            match = INCLUDE.match(line)
            if not match:
                continue
            theirs = owner(match.group(1), layers)
            if not theirs:
                problems.append(f"{file.relative_to(root)}:{number}: includes vpipe/{match.group(1)}/, "
                                "which is in no layer")
            elif theirs != mine and theirs not in layers[mine]:
                problems.append(f"{file.relative_to(root)}:{number}: {mine} -> {theirs} "
                                f"is not an allowed arrow ({mine} may use: "
                                f"{', '.join(sorted(layers[mine])) or 'nothing'})")
    return problems


def self_test() -> int:
    """The checker on a small tree: clean, then with an upward include, then with a cycle."""
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        (root / "docs").mkdir()
        for folder in ("core", "io", "io/sub", "scan"):
            (root / "src" / "vpipe" / folder).mkdir(parents=True)
        (root / "src/vpipe/io/sub/a.h").write_text('#include "vpipe/core/x.h"\n')
        (root / "src/vpipe/scan/s.cpp").write_text('#include "vpipe/io/sub/a.h"\n#include <vector>\n')
        doc = root / "docs" / "ARCHITECTURE.md"
        doc.write_text("x\n```layers\ncore:\nio: core  # a comment\nscan: core io\n```\n")
        failures = []
        if check(root):
            failures.append(f"a clean tree was reported: {check(root)}")
        (root / "src/vpipe/core/up.h").write_text('// x\n#include "vpipe/scan/s.h"\n')
        found = check(root)
        if len(found) != 1 or "src/vpipe/core/up.h:2: core -> scan" not in found[0]:
            failures.append(f"an upward include was not reported as such: {found}")
        doc.write_text("```layers\ncore: scan\nio: core\nscan: core io\n```\n")
        (root / "src/vpipe/core/up.h").unlink()
        found = check(root)
        if not any("cycle" in p for p in found):
            failures.append(f"a cycle was not reported: {found}")
        (root / "src/vpipe/newpass").mkdir()
        doc.write_text("```layers\ncore:\nio: core\nscan: core io\n```\n")
        found = check(root)
        if found != ["src/vpipe/newpass/ is not in the layers block"]:
            failures.append(f"a folder missing from the block was not reported: {found}")
    for failure in failures:
        print("layering self-test: " + failure)
    return 1 if failures else 0


def main() -> int:
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    if len(sys.argv) != 2:
        raise SystemExit("usage: layering_test.py REPO_ROOT | --self-test")
    problems = check(Path(sys.argv[1]))
    for problem in problems:
        print("layering: " + problem)
    if not problems:
        print("layering: every include points down the layers of docs/ARCHITECTURE.md")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
