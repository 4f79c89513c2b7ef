"""Each stack's plan against a recorded fingerprint: no resource appears, disappears, moves or
changes an input unnoticed.

``plan_fingerprints.json`` holds, per stack, a short digest of every resource's new state
(type, parent, custom, inputs) by URN, and one of the stack settings the plan lists. After a
deliberate change to the platform, record the new fingerprints (and review the diff) with::

    .venv/bin/python -m tests.infra.test_plan_fingerprints
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from tests.infra.conftest import REPO, STACKS

FINGERPRINTS = Path(__file__).with_name("plan_fingerprints.json")
UPDATE = "python -m tests.infra.test_plan_fingerprints"


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def fingerprint(plan: dict[str, Any]) -> dict[str, Any]:
    """The stack's resource count, its settings' digest, and each resource's digest by URN."""
    states = [step["newState"] for step in plan["steps"]]
    return {
        "count": len(states),
        "config": _digest(plan["config"]),
        "resources": {state["urn"]: _digest(state) for state in sorted(states, key=_urn)},
    }


def _urn(state: dict[str, Any]) -> str:
    return str(state["urn"])


@pytest.fixture(scope="module")
def recorded() -> dict[str, Any]:
    return json.loads(FINGERPRINTS.read_text(encoding="utf-8"))


@pytest.mark.parametrize("stack", STACKS)
def test_plan_matches_its_fingerprint(
    stack: str, plans: dict[str, dict[str, Any]], recorded: dict[str, Any]
) -> None:
    expected, actual = recorded[stack], fingerprint(plans[stack])
    assert len(actual["resources"]) == actual["count"], "two resources share a URN"
    was, now = expected["resources"], actual["resources"]
    problems = [f"new: {urn}" for urn in sorted(now.keys() - was.keys())]
    problems += [f"gone: {urn}" for urn in sorted(was.keys() - now.keys())]
    problems += [
        f"changed: {urn}" for urn in sorted(was.keys() & now.keys()) if was[urn] != now[urn]
    ]
    if expected["config"] != actual["config"]:
        problems.append("changed: the stack settings of the plan")
    assert not problems, f"the {stack} plan changed (if deliberate, run {UPDATE}):\n" + "\n".join(
        problems
    )
    assert actual["count"] == expected["count"]


def test_a_changed_input_changes_the_fingerprint(plans: dict[str, dict[str, Any]]) -> None:
    plan = json.loads(json.dumps(plans["dev"]))
    before = fingerprint(plan)["resources"]
    vault = next(s for s in plan["steps"] if s["newState"]["type"] == "azure-native:keyvault:Vault")
    vault["newState"]["inputs"]["properties"]["softDeleteRetentionInDays"] = 7
    after = fingerprint(plan)["resources"]
    assert [urn for urn in before if before[urn] != after[urn]] == [vault["urn"]]


def main() -> None:
    from sealgate.platform._plan import build_plan

    prints = {stack: fingerprint(build_plan(REPO, stack)) for stack in STACKS}
    write(prints)
    counts = ", ".join(f"{stack} {prints[stack]['count']}" for stack in STACKS)
    print(f"{FINGERPRINTS.relative_to(REPO)}: {counts} resources")


def write(prints: dict[str, Any]) -> None:
    FINGERPRINTS.write_text(json.dumps(prints, indent=1, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
