"""CrossGuard entry point: ``pulumi preview --policy-pack policies/pack``."""

from pathlib import Path

from sealgate.platform._policy_pack import build_pack

build_pack(Path(__file__).resolve().parent.parent)
