"""The project's own installs come from the committed lock, and the lock covers what pyproject.toml asks for.

If `make test` resolved the newest releases instead of installing from requirements/lock.txt, the
first test fails and names the packages that drifted; the second fails when a dependency was added
or changed in pyproject.toml without `make lock`.
"""

import tomllib
from importlib import metadata
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PROJECT = Path(__file__).resolve().parents[1]
LOCK = PROJECT / "requirements" / "lock.txt"


def locked() -> dict[str, str]:
    """Package name -> pinned version, for the lines whose environment markers hold on this machine."""
    pins = {}
    for line in LOCK.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        requirement, _, marker = line.partition(";")
        name, _, version = requirement.strip().partition("==")
        assert version, f"an unpinned line in the lock: {line!r}"
        if marker.strip() and not Marker(marker.strip()).evaluate():
            continue
        pins[canonicalize_name(name)] = version.strip()
    return pins


def project_requirements() -> list[Requirement]:
    project = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    return [Requirement(text) for text in project["dependencies"] + [r for e in extras.values() for r in e]]


def test_every_locked_package_is_installed_at_its_locked_version():
    drifted = {}
    for name, version in locked().items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = "not installed"
        if installed != version:
            drifted[name] = f"locked {version}, installed {installed}"
    assert drifted == {}, "installed without the lock (make test installs from requirements/lock.txt)"


def test_the_lock_satisfies_every_requirement_of_every_extra():
    pins = locked()
    missing = [str(r) for r in project_requirements() if canonicalize_name(r.name) not in pins]
    unsatisfied = [
        f"{r} (locked {pins[canonicalize_name(r.name)]})"
        for r in project_requirements()
        if canonicalize_name(r.name) in pins and not r.specifier.contains(pins[canonicalize_name(r.name)])
    ]
    assert (missing, unsatisfied) == ([], []), "pyproject.toml changed without `make lock`"
