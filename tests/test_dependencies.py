"""The one-way import chain (STYLE.md §5): config -> tokenization -> data -> model ->
decoding -> inference -> {cli, serving}; nothing imports cli; the library never prints."""

from __future__ import annotations

import ast
from pathlib import Path


REPO = Path(__file__).resolve().parents[1]


SRC = REPO / "src" / "hanyi"


ORDER = ["config", "tokenization", "data", "model", "decoding", "inference", "cli"]


FORBIDDEN = {
    "model": {"data", "training", "cli", "serving", "inference", "evaluation"},
    "decoding": {"training", "cli", "serving", "inference", "data"},
    "tokenization": {"data", "model", "decoding", "inference", "training", "cli"},
    "config": {"tokenization", "data", "model", "decoding", "inference", "training", "cli"},
    "data": {"model", "decoding", "inference", "training", "cli"},
    "inference": {"cli", "serving", "training"},
}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "hanyi" and len(parts) > 1:
                found.add(parts[1])
    return found


def package_of(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py")


def test_one_way_import_chain():
    for path in SRC.rglob("*.py"):
        pkg = package_of(path)
        bad = imports_of(path) & FORBIDDEN.get(pkg, set())
        assert not bad, f"{path.relative_to(REPO)} imports {bad}"
        if pkg != "cli":
            assert "cli" not in imports_of(path) or path.name == "__main__.py", path


def test_library_never_prints():
    for path in SRC.rglob("*.py"):
        if package_of(path) in {"cli", "serving", "__main__"}:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)
                 and isinstance(n.func, ast.Name) and n.func.id == "print"]
        assert not calls, f"{path.relative_to(REPO)} calls print()"
