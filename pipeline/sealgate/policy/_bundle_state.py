"""The bundle revisions a verifier has accepted, so that an older bundle is refused.

Revisions are digests, not versions: "older" means accepted before the latest one. The state
file lists every accepted revision, oldest first; accepting the latest again is fine, a new
revision is appended, and any earlier one is a rollback. The file is replaced atomically.
"""

from __future__ import annotations

import json
from pathlib import Path

from sealgate._files import replace_file
from sealgate._paths import read_bounded
from sealgate.errors import InputError, VerificationError

MAX_STATE_BYTES = 4 * 1024 * 1024
STATE_FORMAT = "sealgate-bundle-state/1"


def accepted_revisions(state_file: Path) -> list[str]:
    """The accepted revisions, oldest first; none when the file does not exist yet."""
    if not state_file.exists():
        return []
    raw = read_bounded(state_file, MAX_STATE_BYTES, "bundle state")
    try:
        state = json.loads(raw)
    except ValueError as exc:
        raise InputError(f"{state_file}: bundle state is not JSON: {exc}") from None
    revisions = state.get("accepted") if isinstance(state, dict) else None
    if (
        not isinstance(state, dict)
        or state.get("format") != STATE_FORMAT
        or not isinstance(revisions, list)
        or not all(isinstance(r, str) and r for r in revisions)
    ):
        raise InputError(
            f"{state_file}: bundle state must be {{format: {STATE_FORMAT}, accepted: [...]}}"
        )
    return revisions


def accept_revision(state_file: Path, revision: str) -> None:
    """Record ``revision`` as accepted; raise VerificationError for a rollback."""
    if not revision:
        raise VerificationError("bundle has no revision: cannot check it against the state")
    revisions = accepted_revisions(state_file)
    if revisions and revisions[-1] == revision:
        return
    if revision in revisions:
        raise VerificationError(
            f"bundle revision {revision} is older than the accepted {revisions[-1]} "
            f"({state_file}): rollback refused"
        )
    document = {"format": STATE_FORMAT, "accepted": [*revisions, revision]}
    try:
        replace_file(state_file, (json.dumps(document, indent=2) + "\n").encode())
    except OSError as exc:
        raise InputError(f"{state_file}: cannot write bundle state: {exc.strerror or exc}") from exc
