"""Imports point one way: core <- video <- training <- indexing <- assistant <- app; tests/ is imported by no one.

Inside ``assistant/``: the shared types (``evidence.py``, ``fusion.py``) <- ``runtime/`` (what answering loads) <-
``analysis/``, ``zeroshot/`` <- ``answering/``, ``live/``, ``jobs/``, ``service.py`` <- ``ui/``, ``cli/``. Inside
``training/``: ``runs.py``, ``device.py`` <- ``data/``, ``distributed.py`` <- ``models/`` <- ``fit/``, ``evaluate/``,
``export/`` <- ``cli/``. Parts of one rank may import each other.

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


# The layers inside a package, by its first part (a folder, or a module at the package's top).
INNER_RANKS = {
    "assistant": {
        **dict.fromkeys(("evidence", "fusion"), 0),
        "runtime": 1,
        **dict.fromkeys(("analysis", "zeroshot"), 2),
        **dict.fromkeys(("answering", "live", "jobs", "service"), 3),
        **dict.fromkeys(("ui", "cli"), 4),
        **dict.fromkeys(("__main__", "app"), 5),
    },
    "training": {
        **dict.fromkeys(("runs", "device"), 0),
        **dict.fromkeys(("data", "distributed"), 1),
        "models": 2,
        **dict.fromkeys(("fit", "evaluate", "export"), 3),
        "cli": 4,
        "__main__": 5,
    },
}
# Known wrong-way imports, each with its reason; the test below fails once one is gone, so the list only shrinks.
KNOWN_INNER = {
    # The CLIP zero-shot scorer is loaded on first need by the resource snapshot; it reuses analysis' window embedding.
    ("assistant/runtime/resources.py", "assistant.zeroshot"),
}


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


def _imported_parts(source: str, package: str) -> set[str]:
    """The first parts of ``package`` (``runtime``, ``evidence``, ...) that ``source`` imports."""
    parts: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            dotted = [alias.name.split(".") for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            module = node.module.split(".")
            dotted = [[*module, alias.name] for alias in node.names] if len(module) == 1 else [module]
        else:
            continue
        parts.update(names[1] for names in dotted if len(names) > 1 and names[0] == package)
    return parts


def inner_layer_violations(sources: dict[Path, str]) -> list[tuple[str, str]]:
    """(module, imported part) for each import that points up the layers inside ``assistant/`` or ``training/``."""
    violations = []
    for path, source in sources.items():
        package = _package_of(path)
        ranks = INNER_RANKS.get(package)
        relative = path.relative_to(ROOT / package).with_suffix("").parts if ranks else ()
        if not relative or relative[0] not in ranks:
            continue
        for part in _imported_parts(source, package):
            if ranks.get(part, -1) > ranks[relative[0]]:
                violations.append((str(path.relative_to(ROOT)), f"{package}.{part}"))
    return sorted(set(violations))


def test_every_import_points_down_the_layers():
    modules = _project_modules()
    assert len(modules) > 150  # the walk really saw the project
    assert layer_violations({path: path.read_text(encoding="utf-8") for path in modules}) == []


@pytest.mark.parametrize(
    ("package", "line", "expected"),
    [
        ("training", "from assistant.evidence import Evidence", "imports the higher layer assistant"),
        ("core", "import video.decoding", "imports the higher layer video"),
        ("benchmarks", "from tests.synthetic import motion_frames", "imports tests"),
    ],
)
def test_a_wrong_way_import_is_reported(package, line, expected):
    [violation] = layer_violations({ROOT / package / "probe.py": f"def f():\n    {line}\n"})
    assert expected in violation


def test_every_import_inside_assistant_and_training_points_down_their_layers():
    sources = {path: path.read_text(encoding="utf-8") for path in _project_modules()}
    folders = {path.relative_to(ROOT).parts[1] for path in sources if _package_of(path) in INNER_RANKS}
    assert {"runtime", "jobs", "analysis", "models", "export", "runs.py"} <= folders  # the walk saw the layers
    assert set(inner_layer_violations(sources)) == KNOWN_INNER


@pytest.mark.parametrize(
    ("module", "line", "imported"),
    [
        ("assistant/evidence.py", "from assistant.runtime.resources import Resources", "assistant.runtime"),
        ("assistant/runtime/probe.py", "from assistant.analysis.gather import gather_evidence", "assistant.analysis"),
        ("assistant/analysis/probe.py", "import assistant.jobs.calibrate", "assistant.jobs"),
        ("assistant/jobs/probe.py", "from assistant.ui import launch_app", "assistant.ui"),
        ("assistant/live/probe.py", "from assistant import cli", "assistant.cli"),
        ("training/runs.py", "from training.data.dataset import balanced_weights", "training.data"),
        ("training/data/probe.py", "from training.models.registry import build_model", "training.models"),
        ("training/models/probe.py", "from training.export.to_onnx import export_graph", "training.export"),
        ("training/fit/probe.py", "from training.cli import train", "training.cli"),
    ],
)
def test_a_wrong_way_import_inside_a_package_is_reported(module, line, imported):
    assert inner_layer_violations({ROOT / module: f"def f():\n    {line}\n"}) == [(module, imported)]


@pytest.mark.parametrize(
    ("module", "line"),
    [
        ("assistant/ui/probe.py", "from assistant.runtime.resources import Resources"),
        ("assistant/answering/probe.py", "from assistant.live import engine"),  # one rank: siblings may import
        ("training/export/probe.py", "from training.runs import checkpoint_path"),
    ],
)
def test_an_import_down_or_across_one_rank_is_allowed(module, line):
    assert inner_layer_violations({ROOT / module: f"def f():\n    {line}\n"}) == []
