"""pyproject.toml declares what the code imports, so `pip install .` gives a working tool
(CI also installs it into a fresh virtual environment: .ci/run)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
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


def _pip_installed(tmp_path) -> Path:
    """`pip install .` of a copy of the package files (no checkout around it) into a fresh
    virtual environment that borrows this one's dependencies (no downloads)."""
    pkg = tmp_path / "pkg"
    shutil.copytree(ROOT / "src", pkg / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, pkg / name)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python*/site-packages"))
    (site / "borrowed.pth").write_text("\n".join(sysconfig.get_paths()[k]
                                                 for k in ("purelib", "platlib")) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"),
                    "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
                    str(pkg)], check=True, capture_output=True, timeout=300)
    shutil.rmtree(pkg)
    return venv / "bin"


def test_pip_installed_package_launches_and_monitors_from_an_empty_directory(tmp_path):
    bin_dir = _pip_installed(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "YTCORPUS_DB")}

    def ytcorpus(*args):
        return subprocess.run([str(bin_dir / "ytcorpus"), *args], cwd=empty, env=env,
                              capture_output=True, text=True, timeout=120)

    where = subprocess.run([str(bin_dir / "python"), "-c", "import ytcorpus; "
                            "print(ytcorpus.__file__)"], cwd=empty, env=env,
                           capture_output=True, text=True)
    assert where.stdout.startswith(str(tmp_path / "venv")), where  # not the checkout's
    out = ytcorpus("launch", "--help")
    assert out.returncode == 0 and "ytcorpus launch stop" in out.stdout, out.stderr
    out = ytcorpus("launch", "status")
    assert out.returncode == 0 and "no workers" in out.stdout, out.stderr
    db = str(tmp_path / "queue.db")
    assert ytcorpus("--db", db, "init").returncode == 0
    out = ytcorpus("monitor", "--once", "--db", db)
    assert out.returncode == 0 and "pending" in out.stdout.lower(), out.stdout + out.stderr
    assert sorted(p.name for p in empty.iterdir()) == []  # nothing written where it ran
