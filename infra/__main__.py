"""Pulumi entry point (``Pulumi.yaml``: ``main: infra/``): the platform for the selected stack."""

from __future__ import annotations

from pathlib import Path

from sealgate.platform import deploy

deploy(Path(__file__).resolve().parent.parent)
