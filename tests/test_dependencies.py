"""The one-way import chain (STYLE.md §5): config -> tokenization -> data -> model ->
decoding -> inference -> {cli, serving}, with training, export and evaluation beside it;
no import loops, not even through lazy imports; nothing imports cli or the package face;
the library never prints, parses argv, exits or configures logging (the CLI and the server
do)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src" / "hanyi"

# The floors of the building: a module may import only from floors below its own (and from
# its own package). Floor 0 holds leaves that import nothing from hanyi; training, export and
# documents stand beside each other on one floor above inference; evaluation (which scores
# what `hanyi translate` outputs, through documents) and serving above them; the CLI on top. The
# package face (``hanyi/__init__.py``) is imported by users only: no module imports it.
FLOORS = {
    "version": 0, "errors": 0, "files": 0, "metrics": 0,
    "config": 1, "runtime": 1, "rundir": 1,
    "tokenization": 2,
    "data": 3,
    "model": 4,
    "checkpoint": 5, "decoding": 5,
    "inference": 6,
    "training": 7, "export": 7, "documents": 7,
    "evaluation": 8, "serving": 8,
    "cli": 9, "__main__": 10,
}
SHELLS = {"cli", "serving"}
LIBRARY = sorted(p for p in SRC.rglob("*.py")
                 if p.relative_to(SRC).parts[0].removesuffix(".py") not in SHELLS | {"__main__"})


def imports_of(path: Path) -> set[str]:
    """Top-level hanyi modules a file imports (``hanyi.model.x`` -> "model")."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module == "hanyi":
            # from hanyi import checkpoint (a module) / from hanyi import Translator (the face)
            names = [f"hanyi.{a.name}" if (SRC / a.name).exists()
                     or (SRC / f"{a.name}.py").exists() else "hanyi" for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        else:
            continue
        found |= {n.split(".")[1] for n in names if n.startswith("hanyi.")}
        found |= {"__init__" for n in names if n == "hanyi"}  # import hanyi: the package face
    return found


def package_of(path: Path) -> str:
    return path.relative_to(SRC).parts[0].removesuffix(".py")


def test_every_module_has_a_floor():
    packages = {package_of(p) for p in SRC.rglob("*.py")} - {"__init__"}
    assert packages <= set(FLOORS), f"add to FLOORS: {sorted(packages - set(FLOORS))}"


def test_one_way_import_chain():
    """Every import, lazy ones included, goes down the floors (or stays in its package)."""
    wrong = []
    for path in sorted(SRC.rglob("*.py")):
        pkg = package_of(path)
        floor = FLOORS.get(pkg, 99)  # the package face may import anything
        for target in sorted(imports_of(path) - {pkg}):
            if target == "__init__":
                wrong.append(f"{path.relative_to(REPO)} imports the package face (import hanyi)")
            elif FLOORS[target] >= floor:
                wrong.append(f"{path.relative_to(REPO)} ({pkg}, floor {floor}) imports "
                             f"{target} (floor {FLOORS[target]})")
    assert not wrong, "\n".join(wrong)


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


# --- The module graph: every import, lazy ones included --------------------------------------
# A lazy import inside a function is still a dependency: hoist it and a loop that the lazy
# import was hiding becomes a circular-import error. So the graph below counts every import
# statement, wherever it is, and importing ``hanyi.a.b`` from outside package ``a`` also runs
# ``hanyi/a/__init__.py`` (and ``import hanyi`` runs the package face).

def module_name(path: Path) -> str:
    parts = ["hanyi", *path.relative_to(SRC).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in SRC.rglob("*.py")}


def imported_modules(path: Path) -> set[str]:
    """Every hanyi module a file imports, resolved to files (``from hanyi.x import name``
    counts ``hanyi.x``, or ``hanyi.x.name`` when that is a module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in MODULES else node.module)
    return {name for name in found if name == "hanyi" or name.startswith("hanyi.")}


def module_graph() -> dict[str, set[str]]:
    """module -> modules whose code runs when it is imported (package faces included)."""
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        edges = set()
        for target in imported_modules(path):
            parts = target.split(".")
            for i in range(1, len(parts) + 1):  # hanyi, hanyi.a, hanyi.a.b: each __init__ runs
                package = ".".join(parts[:i])
                inside = name == package or name.startswith(package + ".")
                if package in MODULES and package != name and (not inside or i == len(parts)):
                    edges.add(package)
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_loops_even_through_lazy_imports():
    loops = cycles(module_graph())
    assert not loops, "import loops:\n" + "\n".join(" <-> ".join(c) for c in loops)


def _fresh_python(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep
           + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120)


def test_bare_import_is_cheap_and_the_face_resolves():
    """`import hanyi` loads no torch (the CLI's --help stays fast); the public names resolve."""
    out = _fresh_python("import sys, hanyi\n"
                        "assert 'torch' not in sys.modules, 'import hanyi loaded torch'\n"
                        "from hanyi.version import __version__\n"
                        "assert hanyi.__version__ == __version__\n"
                        "assert hanyi.Translator.__name__ == 'Translator'\n"
                        "assert callable(hanyi.build_model)\n")
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("module", ["hanyi.export.quantize_auto", "hanyi.evaluation.evaluate",
                                    "hanyi.checkpoint", "hanyi.training.validation"])
def test_modules_import_first_in_a_fresh_interpreter(module):
    """The entry points that used to sit on an import loop, each imported first."""
    out = _fresh_python(f"import {module}")
    assert out.returncode == 0, out.stderr
