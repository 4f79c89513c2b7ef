"""The OPA client's limits: per decision, per run, per answer (no HTTP imports, so that
configuration can name them cheaply)."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_DECISION_TIMEOUT = 5.0
DEFAULT_RUN_DEADLINE = 120.0
DEFAULT_MAX_ANSWER_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class OpaLimits:
    """How long one decision and the whole run may take, and how large an answer may be.

    ``run_deadline`` counts from the engine's creation; ``None`` means no overall deadline
    (a long-running service, where every decision still has ``decision_timeout``).
    """

    decision_timeout: float = DEFAULT_DECISION_TIMEOUT
    run_deadline: float | None = DEFAULT_RUN_DEADLINE
    max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES

    def __post_init__(self) -> None:
        if not self.decision_timeout > 0:
            raise ValueError("the decision timeout must be positive")
        if self.run_deadline is not None and not self.run_deadline > 0:
            raise ValueError("the run deadline must be positive")
        if self.max_answer_bytes < 1:
            raise ValueError("the answer size cap must be positive")
