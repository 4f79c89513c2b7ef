"""Sealgate platform stacks: planning them offline, and what a change to them touches.

The gate's core (``sealgate.inputs``) only knows a planner callable; this module supplies
the platform program's, importing it (and the Pulumi SDKs of the ``infra`` extra) only when
a stack is actually planned.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from sealgate.errors import InputError
from sealgate.inputs._structured import load_structured_documents

# Top-level modules of the `infra` extra: an ImportError naming one means the extra is missing.
INFRA_MODULES = ("pulumi", "pulumi_azure_native", "pulumi_kubernetes", "pulumi_policy")


def infra_extra_error(what: str, exc: ImportError) -> InputError | None:
    """The one-line error for a missing ``infra`` extra, or None for another import failure."""
    if (exc.name or "").split(".")[0] in INFRA_MODULES:
        return InputError(f"{what} needs the infra extra: pip install 'sealgate[infra]'")
    return None


def plan_platform_stack(project_dir: Path, stack: str) -> dict[str, Any]:
    """The offline plan of a sealgate platform stack (see ``sealgate.platform``)."""
    try:
        from sealgate.platform._plan import build_plan

        return build_plan(project_dir, stack)
    except ImportError as exc:
        error = infra_extra_error(f"planning stack {stack} offline", exc)
        if error is None:
            raise
        raise error from None


def program_folders(project_dirs: set[Path]) -> list[Path]:
    """Folders whose changes change the plans: each project's ``main`` program folder, and
    the platform package itself when it is part of the repository (this repository)."""
    folders: list[Path] = []
    for project in sorted(project_dirs):
        main = _project_main(project / "Pulumi.yaml")
        folders.append((project / main).resolve() if main else project.resolve())
    spec = importlib.util.find_spec("sealgate.platform")
    for location in (spec.submodule_search_locations or []) if spec else []:
        folders.append(Path(location).resolve())
    return folders


def _project_main(project_file: Path) -> str | None:
    try:
        documents = load_structured_documents(project_file)
    except InputError:
        return None
    value = documents[0].value if documents else None
    main = value.get("main") if isinstance(value, dict) else None
    return main if isinstance(main, str) and main else None
