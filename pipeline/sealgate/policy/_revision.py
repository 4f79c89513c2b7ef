"""The revision of a loaded policy set: one digest that names exactly what decides.

Every place that records which policies decided names them with this one function: the
promotion audit trail, the unseal decision log and the default revision of an OPA bundle, so
the same tree has the same revision everywhere.

It covers what a decision depends on and nothing else: the source of each policy module (not
the tests) and the policy data. File names are left out on purpose: the loader names files
relative to the working directory (or absolutely, for the built-in policies in an installed
package), so the same policies would get a different revision per checkout, virtualenv or
working directory, while a Rego decision does not depend on a module's file name. Sources
are taken in the order of their own SHA-256, so the order in which folders were scanned does
not matter, and each is framed by its length. The data is hashed as canonical JSON (keys
sorted, no whitespace); values YAML gives that JSON has no type for (dates, timestamps) are
hashed by their text.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the loader needs the embedded engine; computing a revision does not
    from sealgate.policy._loader import PolicySet

REVISION_PREFIX = "sha256:"
_FORMAT = b"sealgate.policy-revision/v1\n"


def canonical_data(data: Any) -> bytes:
    """The policy data as canonical JSON bytes."""
    return json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    ).encode("utf-8")


def policy_revision(policy_set: PolicySet) -> str:
    """``sha256:<hex>`` over the policy module sources (tests excluded) and the policy data."""
    sources = sorted(
        (m.source.encode("utf-8") for m in policy_set.modules if not m.is_test),
        key=lambda source: hashlib.sha256(source).digest(),
    )
    digest = hashlib.sha256(_FORMAT)
    digest.update(len(sources).to_bytes(8, "big"))
    for source in sources:
        digest.update(len(source).to_bytes(8, "big"))
        digest.update(source)
    data = canonical_data(policy_set.data)
    digest.update(len(data).to_bytes(8, "big"))
    digest.update(data)
    return REVISION_PREFIX + digest.hexdigest()
