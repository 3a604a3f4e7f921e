"""A fresh virtual environment holding only the edge install (``pip install '.[edge]'``): no torch.

Its versions come from the project's lock (``requirements/lock.txt``), as ``make`` installs them.

The tests answer from a bundle in it, and ``benchmarks/edge.py`` measures its size. The project
is installed from a copy of its sources (what ``pip`` would get from a release), so the build
leaves nothing in the working tree.
"""

import shutil
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
LOCK = PROJECT / "requirements" / "lock.txt"
SOURCES = ("pyproject.toml", "README.md", "app.py", "core", "video", "training", "indexing", "assistant")


def project_sources(into: Path) -> Path:
    """The files a release of the project holds, copied into ``into``."""
    into.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in SOURCES:
        source = PROJECT / name
        if source.is_dir():
            shutil.copytree(source, into / name, ignore=ignore)
        else:
            shutil.copyfile(source, into / name)
    return into


def make_edge_venv(venv: Path, work: Path, *, timeout_s: float = 1200) -> Path:
    """Create ``venv`` with ``pip install --constraint <lock> '<project>[edge]'``; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    sources = project_sources(work / "project")
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--constraint", str(LOCK)]
    result = subprocess.run(
        [*pip, f"{sources}[edge]"],
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    if result.returncode != 0:
        raise RuntimeError(f"pip install '.[edge]' failed ({result.returncode}):\n{result.stderr[-4000:]}")
    return python


def installed_sizes(venv: Path) -> dict[str, int]:
    """Bytes on disk per entry of the venv's site-packages, largest first."""
    site = next((venv / "lib").glob("python*/site-packages"))
    sizes = {path.name: _bytes(path) for path in site.iterdir()}
    return dict(sorted(sizes.items(), key=lambda item: -item[1]))


def _bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def venv_bytes(venv: Path) -> int:
    return _bytes(venv)
