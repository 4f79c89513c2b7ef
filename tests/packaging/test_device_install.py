"""The base install resolves, from wheels alone, where the embedded engine has none: edge
devices on linux/aarch64 and hosts with an older glibc (manylinux2014 = glibc 2.17).

``pip --platform`` takes each tag literally, so the test passes every manylinux tag that pip
on such a machine accepts (glibc 2.N down to 2.17 on aarch64, to 2.5 on x86_64).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.packaging.helpers import pip, skip_if_index_unreachable

pytestmark = pytest.mark.slow

_LEGACY_ALIASES = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
_OLDEST_GLIBC = {"aarch64": 17, "x86_64": 5}


def manylinux_tags(arch: str, glibc_minor: int) -> list[str]:
    """The manylinux platform tags a glibc 2.<glibc_minor> machine accepts, newest first."""
    tags = []
    for minor in range(glibc_minor, _OLDEST_GLIBC[arch] - 1, -1):
        tags.append(f"manylinux_2_{minor}_{arch}")
        if minor in _LEGACY_ALIASES:
            tags.append(f"{_LEGACY_ALIASES[minor]}_{arch}")
    return tags


def test_the_tags_are_those_of_the_machine() -> None:
    assert manylinux_tags("aarch64", 28)[0] == "manylinux_2_28_aarch64"
    assert manylinux_tags("aarch64", 28)[-2:] == ["manylinux_2_17_aarch64", "manylinux2014_aarch64"]
    assert "manylinux1_x86_64" in manylinux_tags("x86_64", 17)
    assert not any("_2_18_" in tag for tag in manylinux_tags("x86_64", 17))


def resolve(requirement: str, tags: list[str], target: Path) -> tuple[int, str]:
    platforms = [arg for tag in tags for arg in ("--platform", tag)]
    result = pip(
        "install",
        "--dry-run",
        "--quiet",
        "--only-binary=:all:",
        *platforms,
        "--python-version",
        "3.11",
        "--implementation",
        "cp",
        "--target",
        str(target),
        requirement,
        timeout=300,
    )
    skip_if_index_unreachable(result)
    return result.returncode, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("arch", "glibc_minor"),
    [("aarch64", 28), ("x86_64", 17)],
    ids=["linux-aarch64-glibc-2.28", "manylinux2014-x86_64"],
)
def test_the_base_install_resolves_without_the_embedded_engine(
    wheel: Path, tmp_path: Path, arch: str, glibc_minor: int
) -> None:
    code, output = resolve(str(wheel), manylinux_tags(arch, glibc_minor), tmp_path / "target")
    assert code == 0, output
