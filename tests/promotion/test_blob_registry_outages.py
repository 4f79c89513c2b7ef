"""The Blob registry when Azure Storage is down: exit code 3 (retry later), distinct from a
refusal (403: exit code 1) and from input errors (2), with one line naming the registry and
what was left unchanged.

Outages are real network conditions: a port nothing listens on, a local server that answers
every request with 503 ServerBusy, 500 or 429 (after the SDK's retries), and AKS workload
identity whose token endpoint does not answer. Against Azurite, a promotion that loses the
service half-way leaves the registry as it was.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.failing_service import FailingService, closed_port
from tests.promotion.conftest import (
    AZURITE_ACCOUNT,
    AZURITE_KEY,
    Azurite,
    RegistryTarget,
    Workspace,
    make_cli,
    snapshot,
)

GATE = ("--trust", "release.pub")
URL = f"azblob://{AZURITE_ACCOUNT}/registry"


def _target(connection_string: str, url: str = URL) -> RegistryTarget:
    return RegistryTarget(url, {"AZURE_STORAGE_CONNECTION_STRING": connection_string})


def _connection_string(port: int) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
        f"BlobEndpoint=http://127.0.0.1:{port}/{AZURITE_ACCOUNT};"
    )


def test_a_registry_nothing_listens_on_is_unavailable(workspace: Workspace) -> None:
    run = make_cli(workspace, _target(_connection_string(closed_port())))("status")
    assert run.code == 3, run.stderr
    line = run.stderr.strip()
    assert line.startswith(f"sealgate: error: status: registry {URL}: the service did not answer")
    assert line.endswith("; the registry is unchanged; retry later")
    assert "Connection refused" in line and "\n" not in line and "Traceback" not in line


# Azure Storage throttles with 503 ServerBusy, and its SDK retries 408 and 5xx only; a 429
# (from a proxy in front of it) is an outage too, reported without retries.
@pytest.mark.parametrize(
    ("status", "code", "attempts"),
    [(503, "ServerBusy", 3), (500, "InternalError", 3), (429, "TooManyRequests", 1)],
)
def test_a_service_that_keeps_failing_is_unavailable_after_the_retries(
    workspace: Workspace, status: int, code: str, attempts: int
) -> None:
    with FailingService(status, code) as service:
        run = make_cli(workspace, _target(service.blob_connection_string()))(
            "push", "sealed-1.0.0", *GATE
        )
    assert run.code == 3, run.stderr
    assert f"registry {URL}: the service did not answer usably (HTTP {status} {code}: " in (
        run.stderr
    )
    assert "retry later" in run.stderr and run.stderr.count("\n") == 1
    assert service.requests >= attempts  # with 5xx: the first request and two retries


def test_a_refusal_is_a_denial_not_an_outage(workspace: Workspace) -> None:
    with FailingService(403, "AuthorizationPermissionMismatch") as service:
        run = make_cli(workspace, _target(service.blob_connection_string()))("status")
    assert run.code == 1, run.stderr
    assert f"registry {URL}: refused (HTTP 403 AuthorizationPermissionMismatch: " in run.stderr
    assert service.requests == 1  # a refusal is not retried


def test_an_unreachable_token_endpoint_is_unavailable(workspace: Workspace, tmp_path: Path) -> None:
    """AKS workload identity whose Entra endpoint does not answer: an outage, not a refusal."""
    token = tmp_path / "federated-token"
    token.write_text("a.b.c")
    target = RegistryTarget(
        f"{URL}?endpoint=https://127.0.0.1:{closed_port()}/{AZURITE_ACCOUNT}",
        {
            "AZURE_STORAGE_CONNECTION_STRING": "",
            "AZURE_FEDERATED_TOKEN_FILE": str(token),
            "AZURE_CLIENT_ID": "00000000-0000-0000-0000-000000000001",
            "AZURE_TENANT_ID": "00000000-0000-0000-0000-000000000002",
            "AZURE_AUTHORITY_HOST": f"https://127.0.0.1:{closed_port()}",
        },
    )
    run = make_cli(workspace, target)("status")
    assert run.code == 3, run.stderr
    assert "the service did not answer usably" in run.stderr
    assert "Connection refused" in run.stderr and run.stderr.count("\n") == 1


def test_losing_azurite_half_way_leaves_the_registry_unchanged(
    workspace: Workspace, azurite: Azurite, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Push 1.0.0 to Azurite; then push 1.1.0 through a connection that fails: Azurite still
    holds exactly what it held."""
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    url = f"azblob://{AZURITE_ACCOUNT}/{azurite.new_container()}"
    real = _target(azurite.connection_string, url)
    assert make_cli(workspace, real)("push", "sealed-1.0.0", *GATE).code == 0
    before = snapshot(real)
    with FailingService(503, "ServerBusy") as service:
        run = make_cli(workspace, _target(service.blob_connection_string(), url))(
            "push", "sealed-1.1.0", *GATE
        )
    assert run.code == 3, run.stderr
    assert snapshot(real) == before
