"""The promotion request: what approvals sign and what every audit record names."""

from __future__ import annotations

from dataclasses import dataclass

from sealgate.errors import InputError
from sealgate.promotion._digest import check_digest
from sealgate.promotion._registry import check_model_name, check_stage
from sealgate.sealing._canonical import JSONValue
from sealgate.sealing._header import name_problem


@dataclass(frozen=True)
class PromotionRequest:
    """Move ``name`` ``version`` (sealed model ``digest``) from ``source`` to ``target``.

    ``source`` is None for a push into the first stage.
    """

    name: str
    version: str
    digest: str
    source: str | None
    target: str
    requester: str

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "name": self.name,
            "version": self.version,
            "digest": self.digest,
            "from": self.source,
            "to": self.target,
            "requester": self.requester,
        }

    def check(self) -> PromotionRequest:
        """Reject a malformed request (an input error, exit 2) before anything is decided."""
        check_model_name(self.name)
        if name_problem(self.version):
            raise InputError(f"version {self.version!r}: {name_problem(self.version)}")
        check_digest(self.digest, "digest")
        check_stage(self.target)
        if self.source is not None:
            check_stage(self.source)
        if not self.requester or len(self.requester) > 200 or not self.requester.isprintable():
            raise InputError("requester: give who requests the promotion (1-200 characters)")
        return self


def stage_names(policy_data: dict[str, object]) -> list[str]:
    """Stage order from the promotion policy data (``data.config.promotion.stages``)."""
    config = policy_data.get("config")
    promotion = config.get("promotion") if isinstance(config, dict) else None
    stages = promotion.get("stages") if isinstance(promotion, dict) else None
    if not isinstance(stages, list) or not stages:
        raise InputError("policy data has no promotion stages (policies/data/promotion.yaml)")
    names = [s.get("name") for s in stages if isinstance(s, dict)]
    if len(names) != len(stages) or not all(isinstance(n, str) for n in names):
        raise InputError("policies/data/promotion.yaml: every stage needs a name")
    return names  # type: ignore[return-value]


def previous_stage(stages: list[str], target: str) -> str | None:
    """The stage a promotion into ``target`` comes from (None if ``target`` is first/unknown)."""
    if target not in stages:
        return None
    position = stages.index(target)
    return stages[position - 1] if position > 0 else None
