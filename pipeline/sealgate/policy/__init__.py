"""The Rego policy core: loading policy trees, engines, decisions and the gate.

The built-in policies ship inside the package (``builtin_policy_root()``); users add their
own policy folders beside them.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

__all__ = ["builtin_policy_root"]


def builtin_policy_root() -> Path:
    """The folder of the policies and data that ship with sealgate (package data).

    An installed wheel and an editable checkout both keep package data as plain files, so the
    folder is a real path that the engines, ``opa`` and the bundle builder can read.
    """
    return Path(str(files("sealgate") / "policies"))
