"""Project habits that must not rot: one version source, a licence that matches the
package metadata, a changelog entry for the current version, the linter's rule set."""

from __future__ import annotations

import re

import tomllib
from helpers import REPO

from hanyi.version import __version__

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def test_the_version_has_one_source():
    project = PYPROJECT["project"]
    assert "version" not in project and "version" in project["dynamic"]
    attr = PYPROJECT["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    assert attr == "hanyi.version.__version__"
    assert re.fullmatch(r"\d+\.\d+\.\d+", __version__)


def test_the_changelog_starts_with_the_current_version():
    text = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    first = re.search(r"^## \[(\d+\.\d+\.\d+)\]", text, re.MULTILINE)
    assert first and first.group(1) == __version__


def test_the_licence_file_matches_the_package_metadata():
    assert PYPROJECT["project"]["license"] == {"text": "MIT"}
    assert (REPO / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")


def test_ruff_checks_the_agreed_rules_and_ci_runs_it():
    selected = set(PYPROJECT["tool"]["ruff"]["lint"]["select"])
    assert {"E", "F", "I", "B", "UP"} <= selected
    assert "ruff" in " ".join(PYPROJECT["project"]["optional-dependencies"]["dev"])
    assert "\nruff check ." in (REPO / ".ci" / "run").read_text(encoding="utf-8")
