"""The wheel holds one import package, the built-in policies, the type marker and the licence,
and its metadata declares what SARIF reports and installers read from it."""

from __future__ import annotations

import hashlib
import subprocess
import zipfile
from email.message import Message
from email.parser import HeaderParser
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.packaging.helpers import PYPROJECT, VERSION

pytestmark = pytest.mark.slow

DIST_INFO = f"sealgate-{VERSION}.dist-info"
# SHA-256 of the Apache License 2.0 exactly as the Apache Software Foundation publishes it
# (LICENSE-2.0.txt, 11358 bytes).
APACHE_2_0_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"


def names(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


def metadata(wheel: Path) -> Message:
    with zipfile.ZipFile(wheel) as archive:
        return HeaderParser().parsestr(archive.read(f"{DIST_INFO}/METADATA").decode())


def tracked(folder: str) -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "-z", folder], cwd=REPO, capture_output=True, check=True
    ).stdout.decode()
    return [name for name in listed.split("\0") if name and (REPO / name).is_file()]


def test_the_wheel_holds_one_import_package_and_its_metadata(wheel: Path) -> None:
    assert {name.split("/")[0] for name in names(wheel)} == {"sealgate", DIST_INFO}


def test_every_tracked_policy_file_ships_as_package_data(wheel: Path) -> None:
    shipped = set(names(wheel))
    policies = tracked("policies")
    assert policies, "git ls-files policies lists nothing"
    missing = [name for name in policies if f"sealgate/{name}" not in shipped]
    assert not missing, f"policy files missing from the wheel: {missing}"


def test_every_tracked_module_ships(wheel: Path) -> None:
    shipped = set(names(wheel))
    modules = [name for name in tracked("pipeline/sealgate") if name.endswith(".py")]
    missing = [
        name
        for name in modules
        if "sealgate/" + name.removeprefix("pipeline/sealgate/") not in shipped
    ]
    assert not missing, f"modules missing from the wheel: {missing}"


def test_the_wheel_is_typed_and_carries_no_bytecode(wheel: Path) -> None:
    shipped = names(wheel)
    assert "sealgate/py.typed" in shipped
    assert [n for n in shipped if "__pycache__" in n or n.endswith((".pyc", ".pyo"))] == []


def test_the_licence_is_the_apache_2_0_text_and_ships_in_the_dist_info(wheel: Path) -> None:
    text = (REPO / "LICENSE").read_bytes()
    assert hashlib.sha256(text).hexdigest() == APACHE_2_0_SHA256
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read(f"{DIST_INFO}/licenses/LICENSE") == text
    meta = metadata(wheel)
    assert meta["License-Expression"] == "Apache-2.0"
    assert meta.get_all("License-File") == ["LICENSE"]


def test_project_urls_name_the_home_page_sarif_reports(wheel: Path) -> None:
    urls = dict(entry.split(", ", 1) for entry in metadata(wheel).get_all("Project-URL") or [])
    assert urls == {
        "Homepage": "https://github.com/sealgate/sealgate",
        "Documentation": "https://github.com/sealgate/sealgate/tree/main/docs",
        "Issues": "https://github.com/sealgate/sealgate/issues",
    }


def test_the_embedded_engine_is_required_only_by_the_gate_extra(wheel: Path) -> None:
    meta = metadata(wheel)
    requirements = meta.get_all("Requires-Dist") or []
    regorus = [r for r in requirements if r.startswith("celine-regorus")]
    [pin] = PYPROJECT["project"]["optional-dependencies"]["gate"]
    assert regorus == [f'{pin}; extra == "gate"']
    assert {"gate", "infra", "tpm", "test"} <= set(meta.get_all("Provides-Extra") or [])


def test_the_command_is_declared(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        entry_points = archive.read(f"{DIST_INFO}/entry_points.txt").decode()
    assert "sealgate = sealgate.cli:main" in entry_points
