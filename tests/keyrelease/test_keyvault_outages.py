"""Key Vault (and managed HSM, the same client) when the service is down: exit code 3, distinct
from a refusal (403: a denial, exit code 1). A local HTTPS server stands in for a vault that
answers every request with 503, 500 or 429; the SDK retries before giving up."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from azure.core.credentials import AccessToken
from sealgate.errors import DeniedError, UnavailableError
from sealgate.sealing.recipients import _keyvault as keyvault

from tests.failing_service import FailingService
from tests.keyrelease.keyvault_standin import self_signed_certificate


class _Credential:
    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        return AccessToken("a.b.c", int(time.time()) + 3600)


def _access(certificate: Path) -> keyvault.KeyVaultAccess:
    return keyvault.KeyVaultAccess(
        credential_factory=_Credential,
        client_options={
            "connection_verify": str(certificate),
            "verify_challenge_resource": False,
            "retry_total": 2,
        },
    )


@pytest.mark.parametrize(
    ("status", "code"), [(503, "ServiceUnavailable"), (500, "InternalError"), (429, "Throttled")]
)
def test_a_vault_that_keeps_failing_is_unavailable(tmp_path: Path, status: int, code: str) -> None:
    certificate = self_signed_certificate(tmp_path)
    with FailingService(status, code, certificate=certificate) as vault:
        url = f"https://127.0.0.1:{vault.port}/keys/model-kek/v1"
        with pytest.raises(UnavailableError) as failed:
            keyvault.KeyVaultRecipient(url, _access(certificate[0]))
        with pytest.raises(UnavailableError):  # the Secure Key Release path, likewise
            keyvault.release_key(keyvault.parse_key_url(url), "token", _access(certificate[0]))
    message = str(failed.value)
    assert message.startswith(
        f"Key Vault https://127.0.0.1:{vault.port}: cannot read the public key of key model-kek "
        f"version v1: the service (or its token endpoint) did not answer usably (HTTP {status}: "
    ), message
    assert message.endswith("retry later") and "\n" not in message
    assert vault.requests >= 2 * 3  # both calls: the first request and two retries each


def test_a_refusing_vault_is_a_denial_not_an_outage(tmp_path: Path) -> None:
    certificate = self_signed_certificate(tmp_path)
    with FailingService(403, "Forbidden", certificate=certificate) as vault:
        url = f"https://127.0.0.1:{vault.port}/keys/model-kek/v1"
        with pytest.raises(DeniedError) as denied:
            keyvault.release_key(keyvault.parse_key_url(url), "token", _access(certificate[0]))
    assert not isinstance(denied.value, UnavailableError)
    assert "(HTTP 403)" in str(denied.value)
