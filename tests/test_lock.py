"""The install is reproducible: constraints.txt pins every dependency, inside pyproject's ranges, and the
environment running this suite was installed from it (the README's commands and .ci/run use `-c`)."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def _lock() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not an exact pin (name==version)"
            pins[canonicalize_name(name)] = Version(version)
    return pins


def _project_requirements() -> list[tuple[Requirement, str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    found = [(Requirement(r), "") for r in project["dependencies"]]
    for extra, requirements in project.get("optional-dependencies", {}).items():
        found += [(Requirement(r), extra) for r in requirements]
    return found


def _applies(requirement: Requirement, extra: str) -> bool:
    return requirement.marker is None or requirement.marker.evaluate({**default_environment(), "extra": extra})


def test_every_requirement_is_pinned_inside_its_range() -> None:
    lock = _lock()
    for requirement, extra in _project_requirements():
        if not _applies(requirement, extra):
            continue
        name = canonicalize_name(requirement.name)
        assert name in lock, f"{requirement.name} ({extra or 'core'}) has no pin: run .ci/refresh-lock"
        assert requirement.specifier.contains(lock[name], prereleases=True), (
            f"constraints.txt pins {name}=={lock[name]}, outside pyproject's {requirement}: run .ci/refresh-lock")


def _installed_closure(root: str, extras: tuple[str, ...]) -> set[str]:
    """The distributions `root[extras]` pulls in, as installed here (markers evaluated)."""
    seen: set[str] = set()
    pending = [(root, extras)]
    while pending:
        name, wanted = pending.pop()
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        for text in dist.requires or []:
            requirement = Requirement(text)
            marker_ok = requirement.marker is None or any(
                requirement.marker.evaluate({**default_environment(), "extra": e}) for e in ("", *wanted))
            child = canonicalize_name(requirement.name)
            if marker_ok and child not in seen:
                seen.add(child)
                pending.append((child, tuple(requirement.extras)))
    return seen


def test_this_environment_was_installed_from_the_lock() -> None:
    lock = _lock()
    try:
        metadata.distribution("pinelab")
    except metadata.PackageNotFoundError:
        pytest.skip("pinelab is not installed (running from a source tree)")
    drifted = []
    for name in sorted(_installed_closure("pinelab", ("dev",))):
        if name in lock:
            installed = Version(metadata.version(name))
            if Version(installed.public) != lock[name]:
                drifted.append(f"{name} {installed} (lock: {lock[name]})")
    assert not drifted, ("installed versions differ from constraints.txt; install with "
                         "`pip install -c constraints.txt -e \".[dev]\"`: " + ", ".join(drifted))
