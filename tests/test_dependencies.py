"""The one-way import chain (STYLE.md §5): config -> tokenization -> data -> model ->
decoding -> inference -> {cli, serving}; nothing imports cli; the library never prints,
parses argv, exits or configures logging (the CLI and the server do)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src" / "hanyi"

# Each layer may import the layers before it, never those after it.
CHAIN = ["errors", "config", "tokenization", "data", "model", "decoding", "inference"]
SHELLS = {"cli", "serving"}
FORBIDDEN = {layer: set(CHAIN[i + 1:]) | SHELLS | {"training", "evaluation"}
             for i, layer in enumerate(CHAIN)}
FORBIDDEN["checkpoint"] = {"data", "decoding", "inference", "training", "evaluation"} | SHELLS
FORBIDDEN["training"] = set(SHELLS)  # it uses model, data and, for dev BLEU, inference
FORBIDDEN["evaluation"] = {"training"} | SHELLS
FORBIDDEN["runtime"] = set(CHAIN[1:]) | SHELLS | {"training", "evaluation", "checkpoint"}
LIBRARY = sorted(p for p in SRC.rglob("*.py")
                 if p.relative_to(SRC).parts[0].removesuffix(".py") not in SHELLS | {"__main__"})


def imports_of(path: Path) -> set[str]:
    """Top-level hanyi modules a file imports (``hanyi.model.x`` -> "model")."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module == "hanyi":
            names = [f"hanyi.{a.name}" for a in node.names]  # from hanyi import checkpoint
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        else:
            continue
        found |= {n.split(".")[1] for n in names if n.startswith("hanyi.")}
    return found


def package_of(path: Path) -> str:
    return path.relative_to(SRC).parts[0].removesuffix(".py")


def test_one_way_import_chain():
    for path in SRC.rglob("*.py"):
        pkg = package_of(path)
        bad = imports_of(path) & FORBIDDEN.get(pkg, set())
        assert not bad, f"{path.relative_to(REPO)} ({pkg}) imports {sorted(bad)}"


def test_nothing_imports_the_cli():
    for path in SRC.rglob("*.py"):
        if package_of(path) != "cli" and path != SRC / "__main__.py":
            assert "cli" not in imports_of(path), path.relative_to(REPO)


def calls(path: Path) -> list[str]:
    """Dotted names of every call in a file: ``print``, ``sys.exit``, ``logging.basicConfig``."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            func, parts = node.func, []
            while isinstance(func, ast.Attribute):
                parts.append(func.attr)
                func = func.value
            if isinstance(func, ast.Name):
                out.append(".".join([func.id, *reversed(parts)]))
    return out


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: str(p.relative_to(SRC)))
def test_library_never_prints_exits_or_parses_argv(path):
    found = set(calls(path)) & {"print", "exit", "sys.exit", "input", "breakpoint"}
    assert not found, f"{path.relative_to(REPO)} calls {sorted(found)}"
    text = path.read_text(encoding="utf-8")
    assert "argparse" not in text and "sys.argv" not in text, path.relative_to(REPO)
    if path.name != "runtime.py":  # only the CLI/server set up logging, through runtime
        assert "logging.basicConfig" not in calls(path), path.relative_to(REPO)
