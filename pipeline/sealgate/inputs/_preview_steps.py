"""The desired state of a stack from the steps of ``pulumi preview --json``.

A preview lists one step per resource operation. Without ``--show-sames`` it leaves out
every unchanged resource (only the root stack is always shown), so a rule that requires a
resource to exist cannot tell "unchanged" from "removed": such a preview is refused when the
stack already has resources. With ``--show-replacement-steps`` a replacement is three steps
(``replace``, ``create-replacement``, ``delete-replaced``) for one URN; it counts once. A
``delete`` step of a URN that the new state no longer has is a deletion.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

ROOT_STACK_TYPE = "pulumi:pulumi:Stack"
UNKNOWN_VALUE = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
"""How a preview shows a value that is only known after the update (an output)."""
SECRET_VALUE = "[secret]"  # noqa: S105 (the placeholder, not a secret)
"""How a preview shows a secret value."""

# Operations on a resource the stack already has (any of them means the stack is not new).
EXISTING_OPS = frozenset(
    {
        "same",
        "update",
        "replace",
        "create-replacement",
        "delete-replaced",
        "delete",
        "refresh",
        "discard",
        "discard-replaced",
        "remove-pending-replace",
        "read-replacement",
    }
)
# Operations whose newState is part of the desired state.
DESIRED_OPS = frozenset(
    {"same", "create", "update", "replace", "create-replacement", "read", "import", "refresh"}
)
DELETE_OPS = frozenset({"delete", "delete-replaced", "discard", "discard-replaced"})
SHOW_SAMES = "pulumi preview --json --show-sames"


class IncompletePreview(ValueError):
    """A preview that does not hold the stack's full desired state."""


@dataclass(frozen=True)
class StepState:
    """One resource state of a preview: its step's index and op, and which state it is."""

    index: int
    op: str
    key: str  # "newState" or "oldState"
    state: dict[str, Any]

    @property
    def urn(self) -> str:
        return str(self.state.get("urn", ""))


@dataclass(frozen=True)
class DesiredState:
    """Each resource of the desired state once (the first step that declares it), and the
    resources the change deletes (each with its old state)."""

    resources: tuple[StepState, ...]
    deleted: tuple[StepState, ...]


def desired_state(steps: Sequence[dict[str, Any]], *, require_full: bool = True) -> DesiredState:
    """The desired state of ``steps`` (a preview's ``steps``, each already a dict).

    With ``require_full`` an incremental preview without unchanged resources raises
    IncompletePreview. Offline plans (``sealgate plan``) are all ``create`` steps: complete.
    """
    if require_full:
        _check_complete(steps)
    resources: dict[str, StepState] = {}
    old: dict[str, StepState] = {}
    for index, step in enumerate(steps):
        op = str(step.get("op", "create"))
        new_state = step.get("newState")
        if op in DESIRED_OPS and isinstance(new_state, dict):
            entry = StepState(index, op, "newState", new_state)
            # With --refresh a resource's refresh step (its state in the cloud) comes before
            # the step that makes it what the program declares: that one is the desired state.
            known = resources.get(entry.urn)
            if known is None or (known.op == "refresh" and op != "refresh"):
                resources[entry.urn] = entry
        old_state = step.get("oldState")
        if op in DELETE_OPS and isinstance(old_state, dict):
            entry = StepState(index, op, "oldState", old_state)
            old.setdefault(entry.urn, entry)
    deleted = tuple(entry for urn, entry in old.items() if urn not in resources)
    return DesiredState(tuple(resources.values()), deleted)


def _check_complete(steps: Sequence[dict[str, Any]]) -> None:
    if not steps:
        raise IncompletePreview(
            f"the preview has no steps (not even the stack): run `{SHOW_SAMES}`"
        )
    ops = [str(step.get("op", "create")) for step in steps]
    existing = any(op in EXISTING_OPS for op in ops) or any(
        isinstance(step.get("oldState"), dict) for step in steps
    )
    sames = [
        step
        for step, op in zip(steps, ops, strict=True)
        if op == "same" and not _is_root_stack(step)
    ]
    if existing and not sames:
        raise IncompletePreview(
            "the preview changes an existing stack but lists no unchanged resource, so "
            f"rules cannot see the full desired state: run `{SHOW_SAMES}`"
        )


def _is_root_stack(step: dict[str, Any]) -> bool:
    parts = str(step.get("urn", "")).split("::")
    return len(parts) >= 4 and parts[2] == ROOT_STACK_TYPE
