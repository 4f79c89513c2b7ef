"""The repository gate as a library: configuration, ``check`` and ``review``.

``load_config(find_root(Path.cwd()))`` gives the effective configuration (defaults, then
``.sealgate.yaml``, then overrides); ``run_check`` and ``run_review`` do what the commands of
the same name do, without printing or exiting. Unlike the core (``sealgate.policy``,
``sealgate.inputs``, ``sealgate.report``), this package may use the platform program, to plan
sealgate platform stacks offline.
"""

from sealgate.gate._check import CheckOutcome, CheckRequest, load_policies, run_check
from sealgate.gate._config import CONFIG_FILE, GateConfig, Override, find_root, load_config
from sealgate.gate._review import ReviewOutcome, ReviewRequest, run_review

__all__ = [
    "CONFIG_FILE",
    "CheckOutcome",
    "CheckRequest",
    "GateConfig",
    "Override",
    "ReviewOutcome",
    "ReviewRequest",
    "find_root",
    "load_config",
    "load_policies",
    "run_check",
    "run_review",
]
