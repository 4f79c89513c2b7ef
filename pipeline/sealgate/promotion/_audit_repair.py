"""``audit repair``: show a torn final record and, when asked, cut exactly it.

Only the torn tail ``split_log`` finds is ever cut (bytes after the last newline, or a
final line that is not a JSON record): never a complete record. The cut is conditioned on
the log still having the size that was examined.
"""

from __future__ import annotations

from dataclasses import dataclass

from sealgate.promotion._audit_log import TornTail, split_log
from sealgate.promotion._registry import Registry


@dataclass(frozen=True)
class Repair:
    torn: TornTail | None  # None: nothing to repair
    size: int  # the log's size when examined
    cut: bool  # True when the torn tail was removed


def repair_audit(registry: Registry, *, apply: bool) -> Repair:
    """Find the torn tail; with ``apply``, truncate the log at its offset."""
    log = registry.read_audit()
    _, torn = split_log(log)
    if torn is None or not apply:
        return Repair(torn, len(log), False)
    registry.truncate_audit(torn.offset, len(log))
    return Repair(torn, len(log), True)
