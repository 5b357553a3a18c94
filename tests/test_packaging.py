"""pyproject.toml declares what the code imports, so `pip install .` gives a working tool
(CI also installs it into a fresh virtual environment: .ci/run)."""

from __future__ import annotations

import re

from conftest import ROOT

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_every_pinned_requirement_is_declared_in_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {_name(r) for r in project["dependencies"]}
    for extra in ("postgres", "gpu"):
        declared |= {_name(r) for r in project["optional-dependencies"][extra]}
    pinned = {_name(line) for line in (ROOT / "requirements.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")}
    assert pinned - declared == set()
    assert {"postgres", "gpu", "dev"} <= set(project["optional-dependencies"])
    assert project["scripts"]["ytcorpus"] == "ytcorpus.cli.main:main"


def test_readme_stands_alone_and_starts_with_the_two_commands():
    text = (ROOT / "README.md").read_text()
    assert "../shared" not in text
    first, second = text.split("```")[1].strip().splitlines()[:2]
    assert first.startswith("make demo") and second.startswith("make test")
    assert "pip install ." in text
