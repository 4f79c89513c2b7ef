"""One request per input: a small Rego module that evaluates several packages' decisions.

OPA's REST API evaluates one document per request, and its ad-hoc query endpoint ignores
``strict-builtin-errors`` (a builtin error there would silently drop a finding). So the
bundle (and ``push``) carries this module under its own root: ``POST /v1/data/sealgate_batch/
decisions`` with ``{"packages": {name: path}, "document": <policy input>}`` returns each named
package's ``deny`` set, evaluated on the document, in one answer. A package whose decision is
undefined is absent from the answer.

The module reads ``data.sealgate[...]`` with ground keys only at evaluation time; it lives
outside ``data.sealgate`` so that OPA's recursion check cannot see it reading itself. Only
packages under ``sealgate.`` can be batched (the bundle's policy root); others are queried
one by one.
"""

from __future__ import annotations

from collections.abc import Sequence

BATCH_ROOT = "sealgate_batch"
BATCH_FILE = f"{BATCH_ROOT}/batch.rego"
BATCH_PATH = f"/v1/data/{BATCH_ROOT}/decisions"
BATCHED_PREFIX = "sealgate"
DECISION_SUFFIX = ".deny"
MAX_DEPTH = 5  # package path segments after "sealgate."


def _rule(depth: int) -> str:
    keys = "".join(f"[path[{i}]]" for i in range(depth))
    return f"""
decisions[name] := result if {{
\tsome name, path in input.packages
\tcount(path) == {depth}
\tresult := data.{BATCHED_PREFIX}{keys}.deny with input as input.document
}}
"""


BATCH_MODULE = (
    "# METADATA\n"
    "# title: Batched decisions\n"
    "# description: >-\n"
    "#   The deny set of every requested package, evaluated on input.document, so that a\n"
    "#   client needs one request per input. Written by sealgate; not a policy.\n"
    f"package {BATCH_ROOT}\n" + "".join(_rule(depth) for depth in range(1, MAX_DEPTH + 1))
)


def batch_key(rule: str) -> list[str] | None:
    """The package path (after ``sealgate.``) of a ``<package>.deny`` rule, if batchable."""
    if not rule.endswith(DECISION_SUFFIX):
        return None
    parts = rule.removesuffix(DECISION_SUFFIX).split(".")
    if parts[0] != BATCHED_PREFIX or not 1 < len(parts) <= MAX_DEPTH + 1:
        return None
    return parts[1:]


def batch_request(rules: Sequence[str]) -> dict[str, list[str]]:
    """``input.packages`` for the batchable rules: package name -> path after ``sealgate``."""
    packages: dict[str, list[str]] = {}
    for rule in rules:
        key = batch_key(rule)
        if key is not None:
            packages[rule.removesuffix(DECISION_SUFFIX)] = key
    return packages
