"""Each image installs, hash-pinned, everything its entrypoint imports: the project's
dependencies with the extras the image needs, and their dependencies in turn."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import REPO

IMAGES = REPO / "images"
# The extras each image's entrypoint needs (pyproject.toml's optional-dependencies).
EXTRAS = {
    "model-server": {"gate"},
    "edge-module": {"gate", "tpm"},
    # The service decides with the embedded engine, serves under Flask/gunicorn and parses
    # TPM structures for device attestation.
    "keyserver": {"gate", "tpm", "keyserver"},
}
# The image's interpreter (azurelinux python:3.12, linux x86_64).
TARGET = {"python_version": "3.12", "python_full_version": "3.12.9", "sys_platform": "linux"}
_PINNED = re.compile(r"^([A-Za-z0-9._-]+)==(\S+)\s+\\?$")
_HASH = re.compile(r"^\s*--hash=sha256:[0-9a-f]{64}\s*\\?$")
_REQUIREMENTS = re.compile(r"images/[\w-]+/requirements[\w-]*\.txt")


def instructions(dockerfile: Path) -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    joined, current = [], ""
    for line in dockerfile.read_text().splitlines():
        if line.lstrip().startswith("#"):
            continue
        current += line.rstrip().removesuffix("\\") + " "
        if not line.rstrip().endswith("\\"):
            if current.strip():
                joined.append(current.strip())
            current = ""
    return joined


def pinned(path: Path) -> dict[str, str]:
    """name -> version of a hash-pinned requirements file; every entry must carry a hash."""
    found: dict[str, str] = {}
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    name = None
    for line in lines:
        if match := _PINNED.match(line):
            name = canonicalize_name(match.group(1))
            assert name not in found, f"{path.name}: {name} twice"
            found[name] = match.group(2)
        else:
            assert _HASH.match(line) and name is not None, f"{path.name}: {line!r}"
    assert lines and all(
        any(_HASH.match(line) for line in block.splitlines()[1:])
        for block in re.split(r"\n(?=\S)", "\n".join(lines))
    ), f"{path.name}: a requirement without a hash"
    return found


def image_requirements(image: str) -> dict[str, str]:
    dockerfile = IMAGES / image / "Dockerfile"
    files = sorted(set(_REQUIREMENTS.findall(dockerfile.read_text())))
    assert files, f"{image} installs no requirements file"
    union: dict[str, str] = {}
    for name in files:
        for dist, version in pinned(REPO / name).items():
            assert union.setdefault(dist, version) == version, f"{dist}: two versions"
    return union


def wanted(extras: set[str]) -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"])
    for extra in sorted(extras):
        specs += project["optional-dependencies"][extra]
    return [Requirement(spec) for spec in specs]


def closure(roots: list[Requirement]) -> set[str]:
    """The distributions the roots need on the image's interpreter (as installed here)."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if requirement.marker and not requirement.marker.evaluate({**TARGET, "extra": ""}):
            continue
        if name in seen:
            continue
        seen.add(name)
        for spec in metadata.requires(name) or []:
            todo.append(Requirement(spec))
    return seen


@pytest.mark.parametrize("image", sorted(EXTRAS))
def test_every_pip_install_of_a_requirements_file_requires_hashes(image: str) -> None:
    installs = [
        i
        for i in instructions(IMAGES / image / "Dockerfile")
        if i.startswith("RUN") and " -r " in i
    ]
    assert installs
    for instruction in installs:
        for command in instruction.split("&&"):
            if "pip install" in command and " -r " in command:
                assert "--require-hashes" in command, command


@pytest.mark.parametrize("image", sorted(EXTRAS))
def test_the_image_pins_every_dependency_of_what_it_runs(image: str) -> None:
    installed = image_requirements(image)
    roots = wanted(EXTRAS[image])
    for root in roots:
        name = canonicalize_name(root.name)
        assert name in installed, f"{image}: {name} is not installed"
        assert root.specifier.contains(installed[name], prereleases=True), (
            f"{image}: {name}=={installed[name]} does not satisfy {root}"
        )
    missing = closure(roots) - set(installed)
    assert not missing, f"{image}: not pinned: {sorted(missing)}"


def test_the_keyserver_image_ships_the_tss_runtime_libraries() -> None:
    steps = instructions(IMAGES / "keyserver" / "Dockerfile")
    final = steps[max(i for i, s in enumerate(steps) if s.startswith("FROM")) :]
    assert any(s.startswith("COPY --from=build /opt/tss2/") for s in final)
    assert any("cp -a /usr/lib/libtss2-" in s for s in steps)


def test_a_missing_dependency_is_seen(tmp_path: Path) -> None:
    """The check is real: without the keyserver's own file Flask and gunicorn are missing."""
    roots = wanted(EXTRAS["keyserver"])
    installed = pinned(IMAGES / "model-server" / "requirements.txt")
    assert {"flask", "gunicorn", "tpm2-pytss"} <= closure(roots) - set(installed)
