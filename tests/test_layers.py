"""Imports point one way: core <- video <- training <- indexing <- assistant <- app; tests/ is imported by no one.

A lower layer importing a higher one is how cycles and "which package owns this?" start; the
check reads every module's imports with ``ast`` (no importing), so it also covers imports inside
functions.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = {"core": 0, "video": 1, "training": 2, "indexing": 3, "assistant": 4, "app": 5}
# Above every product layer: they may import any of it, and nothing in the product imports them.
TOOLING = {"testkit": 6, "benchmarks": 6, "tests": 7}
RANKS = LAYERS | TOOLING


def _package_of(path: Path) -> str:
    relative = path.relative_to(ROOT)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def _imported_packages(source: str) -> set[str]:
    tree = ast.parse(source)
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names & set(RANKS)


def _project_modules() -> list[Path]:
    return [
        path
        for path in sorted(ROOT.rglob("*.py"))
        if not any(part.startswith(".") for part in path.relative_to(ROOT).parts) and _package_of(path) in RANKS
    ]


def layer_violations(sources: dict[Path, str]) -> list[str]:
    violations = []
    for path, source in sources.items():
        package = _package_of(path)
        for imported in _imported_packages(source):
            if imported == "tests" and package != "tests":
                violations.append(f"{path.relative_to(ROOT)} imports tests (test helpers live in testkit/)")
            elif RANKS[imported] > RANKS[package]:
                violations.append(f"{path.relative_to(ROOT)} ({package}) imports the higher layer {imported}")
    return violations


def test_every_import_points_down_the_layers():
    modules = _project_modules()
    assert len(modules) > 150  # the walk really saw the project
    assert layer_violations({path: path.read_text(encoding="utf-8") for path in modules}) == []


@pytest.mark.parametrize(
    ("package", "line", "expected"),
    [
        ("training", "from assistant.analysis.evidence import Evidence", "imports the higher layer assistant"),
        ("core", "import video.decoding", "imports the higher layer video"),
        ("benchmarks", "from tests.synthetic import motion_frames", "imports tests"),
    ],
)
def test_a_wrong_way_import_is_reported(package, line, expected):
    [violation] = layer_violations({ROOT / package / "probe.py": f"def f():\n    {line}\n"})
    assert expected in violation
