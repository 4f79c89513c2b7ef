"""Without the gate extra (no regorus), sealgate imports, and the embedded engine says which
extra it needs in one line, exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

PACKAGE = REPO / "pipeline" / "sealgate"
MISSING_ENGINE = (
    "sealgate: error: the embedded policy engine needs the gate extra: pip install 'sealgate[gate]'"
)
# Run with regorus made unimportable, as on a base install.
WITHOUT_REGORUS = "import sys; sys.modules['regorus'] = None\n"


def without_regorus(code: str, *args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_REGORUS + code, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def sealgate_modules() -> list[str]:
    modules = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] == "policies" or relative.name == "__main__.py":
            continue  # package data, and the module that runs the CLI
        parts = ["sealgate", *relative.with_suffix("").parts]
        modules.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return modules


def test_every_module_imports_without_regorus() -> None:
    modules = sealgate_modules()
    assert "sealgate.policy._embedded" in modules
    code = "import importlib\nfor name in sys.argv[1:]:\n    importlib.import_module(name)\n"
    result = without_regorus(code, *modules)
    assert result.returncode == 0, result.stderr


def test_the_embedded_engine_names_the_extra_it_needs() -> None:
    code = "from sealgate.cli import main\nsys.argv = ['sealgate', *sys.argv[1:]]\nmain()\n"
    for command in (["check", "images/model-server/Dockerfile"], ["policy", "test", "policies"]):
        result = without_regorus(code, *command)
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        assert result.stderr.strip() == MISSING_ENGINE, command
