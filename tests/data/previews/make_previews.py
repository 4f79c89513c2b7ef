"""Writes the preview files of this folder from the prod stack's offline plan.

Run by hand when the platform changes what a preview of it looks like:
``PYTHONPATH=pipeline python tests/data/previews/make_previews.py``.

The files have the shape ``pulumi preview --json`` prints (pkg/backend/display/json.go):
``config`` (secrets blinded as ``[secret]``), ``steps`` of ``{op, urn, provider, oldState,
newState, diffReasons, replaceReasons, detailedDiff}``, ``changeSummary`` and ``duration``;
URNs carry the full parent type chain; the root stack is always a step (the engine shows it
even without ``--show-sames``); default providers are resources; outputs of resources to be
created are the unknown value ``04da6b54-80e4-46f7-96ec-b56ff0331ba9``, as are inputs made
from them (resource ids); secret values are ``[secret]``. Existing resources have an ``id``
and, to keep the files small, only their ``id`` as outputs.
"""

from __future__ import annotations

import copy
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
SECRET = "[secret]"  # the placeholder a preview prints
STACK = "prod"
PROJECT = "sealgate"
ROOT = f"urn:pulumi:{STACK}::{PROJECT}::pulumi:pulumi:Stack::{PROJECT}-{STACK}"
PROVIDER = f"urn:pulumi:{STACK}::{PROJECT}::pulumi:providers:azure-native::default_3_29_0"
PROVIDER_ID = "9b1d2c3e-4f5a-4b6c-8d7e-0f1a2b3c4d5e"
SECRET_CONFIG = ("sealgate:tenant_id",)
SECRET_INPUTS = {"pulumi:providers:kubernetes": ("kubeconfig",)}

POOL = "sealgate-prod-cluster-models-pool"
DELETED = (
    "sealgate-prod-keys-vault-diagnostics",
    "sealgate-prod-storage-blob-pe",
    "sealgate-prod-storage-audit-worm",
)
REPLACED = "sealgate-prod-network-endpoints-nsg"


def _full_urns(states: list[dict[str, Any]]) -> dict[str, str]:
    """Offline URN -> the URN a real preview gives it (every ancestor's type, root excluded)."""
    by_urn = {s["urn"]: s for s in states}

    def chain(state: dict[str, Any]) -> list[str]:
        parent = by_urn.get(state.get("parent", ""))
        return [*chain(parent), parent["type"]] if parent else []

    urns = {}
    for state in states:
        name = state["urn"].split("::")[-1]
        types = "$".join([*chain(state), state["type"]])
        urns[state["urn"]] = f"urn:pulumi:{STACK}::{PROJECT}::{types}::{name}"
    return urns


def _rewrite(value: Any, urns: dict[str, str], unknown_ids: bool) -> Any:
    if isinstance(value, dict):
        return {k: _rewrite(v, urns, unknown_ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_rewrite(v, urns, unknown_ids) for v in value]
    if isinstance(value, str):
        if value in urns:
            return urns[value]
        if unknown_ids and value.startswith(("/subscriptions/", "https://plan.")):
            return UNKNOWN  # an id or endpoint of a resource not created yet
    return value


def _state(offline: dict[str, Any], urns: dict[str, str], existing: bool) -> dict[str, Any]:
    urn = urns[offline["urn"]]
    inputs = _rewrite(offline.get("inputs", {}), urns, unknown_ids=not existing)
    for key in SECRET_INPUTS.get(offline["type"], ()):
        if key in inputs:
            inputs[key] = SECRET
    state: dict[str, Any] = {"urn": urn, "custom": offline.get("custom", True)}
    if existing and state["custom"]:
        state["id"] = f"{offline['type'].split(':')[-1].lower()}-{urn.split('::')[-1]}"
    state["type"] = offline["type"]
    state["inputs"] = inputs
    if existing and state["custom"]:
        state["outputs"] = {"id": state["id"]}
    elif state["custom"]:
        state["outputs"] = {"id": UNKNOWN}
    state["parent"] = urns.get(offline.get("parent", ""), ROOT)
    if state["custom"] and offline["type"].startswith("azure-native:"):
        state["provider"] = f"{PROVIDER}::{PROVIDER_ID if existing else UNKNOWN}"
    return state


def _root(existing: bool) -> dict[str, Any]:
    return {"urn": ROOT, "custom": False, "type": "pulumi:pulumi:Stack", "inputs": {}}


def _provider_state(existing: bool) -> dict[str, Any]:
    return {
        "urn": PROVIDER,
        "custom": True,
        **({"id": PROVIDER_ID} if existing else {}),
        "type": "pulumi:providers:azure-native",
        "inputs": {"location": "westeurope", "version": "3.29.0"},
        "outputs": {"location": "westeurope", "version": "3.29.0"},
    }


def _step(op: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any]:
    state = new or old
    assert state is not None
    step: dict[str, Any] = {"op": op, "urn": state["urn"]}
    if state.get("provider"):
        step["provider"] = state["provider"]
    if old is not None:
        step["oldState"] = old
    if new is not None:
        step["newState"] = new
    return step


def _preview(config: dict[str, str], steps: list[dict[str, Any]]) -> dict[str, Any]:
    shown = {k: (SECRET if k in SECRET_CONFIG else v) for k, v in config.items()}
    counts = Counter(
        s["op"] for s in steps if s["op"] not in ("create-replacement", "delete-replaced")
    )
    return {
        "config": shown,
        "steps": steps,
        "changeSummary": dict(sorted(counts.items())),
        "duration": 41_250_000_000,
    }


def _name(state: dict[str, Any]) -> str:
    return str(state["urn"].split("::")[-1])


def build(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    offline = [s["newState"] for s in plan["steps"]]
    urns = _full_urns(offline)
    # The mock runtime records resources in thread order: sort them, parents first.
    offline.sort(key=lambda s: (urns[s["urn"]].count("$"), urns[s["urn"]]))
    config = plan.get("config", {})
    new_states = [_state(s, urns, existing=False) for s in offline]
    old_states = [_state(s, urns, existing=True) for s in offline]

    create = [_step("create", None, _root(False)), _step("create", None, _provider_state(False))]
    create += [_step("create", None, s) for s in new_states]

    def existing_steps(change: Any) -> list[dict[str, Any]]:
        steps = [
            _step("same", _root(True), _root(True)),
            _step("same", _provider_state(True), _provider_state(True)),
        ]
        for old in old_states:
            steps += change(old, copy.deepcopy(old))
        return steps

    def node_count(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
        if _name(old) != POOL:
            return [_step("same", old, new)]
        new["inputs"].update(minCount=4, maxCount=16)
        step = _step("update", old, new)
        step["diffReasons"] = ["maxCount", "minCount"]
        step["detailedDiff"] = {
            "maxCount": {"kind": "update", "inputDiff": False},
            "minCount": {"kind": "update", "inputDiff": False},
        }
        return [step]

    def deletions(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
        if _name(old) in DELETED or old["parent"] in deleted_urns:
            return [_step("delete", old, None)]
        return [_step("same", old, new)]

    deleted_urns = {s["urn"] for s in old_states if _name(s) in DELETED}

    def replacement(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
        if _name(old) != REPLACED:
            return [_step("same", old, new)]
        new["inputs"]["location"] = "northeurope"
        new.pop("id", None)
        new["outputs"] = {"id": UNKNOWN}
        steps = []
        for op, o, n in (
            ("create-replacement", old, new),
            ("replace", old, new),
            ("delete-replaced", old, None),
        ):
            step = _step(op, o, n)
            if n is not None:
                step["diffReasons"] = ["location"]
                step["replaceReasons"] = ["location"]
                step["detailedDiff"] = {"location": {"kind": "update-replace", "inputDiff": False}}
            steps.append(step)
        return steps

    node_steps = existing_steps(node_count)
    return {
        "create.json": _preview(config, create),
        "node-count-show-sames.json": _preview(config, node_steps),
        "node-count.json": _preview(
            config, [s for s in node_steps if s["op"] != "same" or s["urn"] == ROOT]
        ),
        "delete-show-sames.json": _preview(config, existing_steps(deletions)),
        "replace-show-sames.json": _preview(config, existing_steps(replacement)),
    }


def main() -> None:
    sys.path.insert(0, str(REPO / "pipeline"))
    from sealgate.platform._plan import build_plan

    for name, preview in build(build_plan(REPO, STACK)).items():
        (HERE / name).write_text(json.dumps(preview, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
