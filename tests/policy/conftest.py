"""Live OPA fixtures: signing keys, the repository's signed bundle, and an OPA server on it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO, run_sealgate
from tests.opa_server import LiveOpa, live_opa_server
from tests.rego_tools import tool


@dataclass(frozen=True)
class PolicyKeys:
    """Two signing key pairs: the configured policy signer and another one."""

    folder: Path

    @property
    def signer(self) -> Path:
        return self.folder / "signer.key"

    @property
    def signer_pub(self) -> Path:
        return self.folder / "signer.pub"

    @property
    def other(self) -> Path:
        return self.folder / "other.key"


def build_bundle(keys: PolicyKeys, out: Path, *extra: str, key: Path | None = None) -> str:
    """`sealgate policy bundle` of the repository's policies; returns the revision."""
    run = run_sealgate(
        "policy",
        "bundle",
        str(REPO / "policies"),
        "--out",
        str(out),
        "--sign-key",
        str(key or keys.signer),
        *extra,
        cwd=REPO,
    )
    assert run.code == 0, run.stderr
    return run.stdout.split("revision ", 1)[1].split(",", 1)[0]


@pytest.fixture(scope="session")
def opa_binary() -> str:
    return tool("opa")


@pytest.fixture(scope="session")
def policy_keys(tmp_path_factory: pytest.TempPathFactory) -> PolicyKeys:
    folder = tmp_path_factory.mktemp("policy-keys")
    for name in ("signer", "other"):
        run = run_sealgate("keys", "generate", "signing", "--out", str(folder / name), cwd=REPO)
        assert run.code == 0, run.stderr
    return PolicyKeys(folder)


@pytest.fixture(scope="session")
def repo_bundle(
    policy_keys: PolicyKeys, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str]:
    """(path, revision) of the repository's policies bundled and signed by the policy signer."""
    out = tmp_path_factory.mktemp("repo-bundle") / "sealgate.tar.gz"
    return out, build_bundle(policy_keys, out)


@pytest.fixture(scope="module")
def live_opa(
    opa_binary: str,
    policy_keys: PolicyKeys,
    repo_bundle: tuple[Path, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveOpa]:
    """OPA serving decisions from the repository's signed bundle (activated before use)."""
    bundle, revision = repo_bundle
    with live_opa_server(
        opa_binary,
        tmp_path_factory.mktemp("live-opa"),
        bundle.read_bytes(),
        policy_keys.signer_pub.read_text(),
    ) as live:
        live.server.wait_for_revision(revision)
        yield live
