"""Which rules apply in a run: ``enable`` / ``disable`` patterns over rule ids."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass

from sealgate.errors import InputError
from sealgate.policy._gate_rules import GATE_RULES


@dataclass(frozen=True)
class RuleSelection:
    """Rule ids or globs: when ``enable`` is given only matching rules apply; ``disable``
    removes rules. The gate's own rules (fail-closed outcomes) always apply."""

    enable: tuple[str, ...] = ()
    disable: tuple[str, ...] = ()

    def applies(self, rule_id: str) -> bool:
        if rule_id in GATE_RULES:
            return True
        if self.enable and not _matches_any(rule_id, self.enable):
            return False
        return not _matches_any(rule_id, self.disable)

    def validate(self, known_rules: Iterable[str]) -> None:
        """Every pattern must name a loaded rule, and none may name a gate rule: a typo that
        silently selects nothing, or a fail-closed rule switched off, is an input error."""
        known = sorted(set(known_rules))
        for option, patterns in (("enable", self.enable), ("disable", self.disable)):
            for pattern in patterns:
                gate = [rule for rule in GATE_RULES if fnmatch.fnmatchcase(rule, pattern)]
                if option == "disable" and gate:
                    raise InputError(
                        f"{option} {pattern}: the gate's rules ({', '.join(gate)}) cannot be "
                        "disabled"
                    )
                if not gate and not any(fnmatch.fnmatchcase(rule, pattern) for rule in known):
                    raise InputError(f"{option} {pattern}: matches no loaded rule")


def _matches_any(rule_id: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(rule_id, pattern) for pattern in patterns)
