"""Pulumi entry point (``Pulumi.yaml``: ``main: infra/``): the program for the selected stack."""

from __future__ import annotations

from pathlib import Path

import pulumi
from sealgate.platform._config import load_stack_config
from sealgate.platform._program import build

config = load_stack_config(Path(__file__).resolve().parent.parent, pulumi.get_stack())
for name, value in build(config).items():
    pulumi.export(name, value)
