"""Offline plans of the real stacks, built once per session (the mock runtime takes seconds)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
STACKS = ("dev", "staging", "prod")


@pytest.fixture(scope="session")
def plans() -> dict[str, dict[str, Any]]:
    from sealgate.platform._plan import build_plan

    return {stack: build_plan(REPO, stack) for stack in STACKS}


@pytest.fixture(scope="session")
def plan_files(
    plans: dict[str, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("plans")
    files = {}
    for stack, plan in plans.items():
        files[stack] = folder / f"{stack}.json"
        files[stack].write_text(json.dumps(plan, indent=2), encoding="utf-8")
    return files


def resources(plan: dict[str, Any], type_token: str) -> list[dict[str, Any]]:
    """The inputs of every resource of a type, as the provider would receive them."""
    return [
        step["newState"]["inputs"]
        for step in plan["steps"]
        if step["newState"]["type"] == type_token
    ]


def only(plan: dict[str, Any], type_token: str) -> dict[str, Any]:
    found = resources(plan, type_token)
    assert len(found) == 1, f"{len(found)} resources of {type_token}"
    return found[0]
