"""What every Azure client of sealgate shares: the credential, bounded retries, and how an
SDK failure maps to an exit code.

- An outage (no connection, a timeout, HTTP 5xx, 408 or 429 still failing after the SDK's
  retries; also of the Entra token endpoint) is ``UnavailableError``: exit code 3, retry
  later.
- A refusal (HTTP 401/403, or no credential that could get a token) is ``DeniedError``:
  exit code 1. Retrying does not help; the identity or its role assignment must change.
- Anything else (404, 400, 409...) is left to the caller, which knows what it asked.

The credential is AKS workload identity (``WorkloadIdentityCredential``) when its
environment is present, else ``DefaultAzureCredential``. The chained credential turns every
failure into one ``ClientAuthenticationError`` without its cause, so only the direct one
lets an unreachable token endpoint be told from a refused login: elsewhere (a developer's
login) that stays a refusal.
"""

from __future__ import annotations

import os
from typing import Any

from sealgate.errors import DeniedError, SealgateError, UnavailableError

# Retry settings for the Storage SDK's ExponentialRetry: waits of about 1 s and 3 s (plus
# jitter), so an outage is reported within seconds, not the SDK default's minute.
STORAGE_RETRY: dict[str, Any] = {"retry_total": 2, "initial_backoff": 1, "increment_base": 2}
OUTAGE_STATUS = frozenset({408, 429})
REFUSAL_STATUS = frozenset({401, 403})
_WORKLOAD_IDENTITY_ENV = ("AZURE_FEDERATED_TOKEN_FILE", "AZURE_CLIENT_ID", "AZURE_TENANT_ID")


def azure_credential() -> Any:
    """Workload identity where AKS injected it, otherwise the default chain."""
    if all(os.environ.get(name) for name in _WORKLOAD_IDENTITY_ENV):
        from azure.identity import WorkloadIdentityCredential

        return WorkloadIdentityCredential()
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "reason", None) or getattr(exc, "message", None) or str(exc)
    return " ".join(str(text).split())[:200] or type(exc).__name__


def is_outage(exc: BaseException) -> bool:
    from azure.core.exceptions import ServiceRequestError, ServiceResponseError

    if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
        return True
    status = getattr(exc, "status_code", None)
    return isinstance(status, int) and (status >= 500 or status in OUTAGE_STATUS)


def service_failure(where: str, exc: BaseException, unchanged: str) -> SealgateError | None:
    """``UnavailableError`` for an outage, ``DeniedError`` for a refusal, else None.

    ``where`` names the service (``registry azblob://a/c``, ``Key Vault https://...``);
    ``unchanged`` says what the failed operation left as it was.
    """
    from azure.core.exceptions import ClientAuthenticationError

    status = getattr(exc, "status_code", None)
    code = getattr(exc, "error_code", None)
    code = getattr(code, "value", code)  # the Storage SDK gives an enum member
    answer = f"HTTP {status}{f' {code}' if code else ''}: " if isinstance(status, int) else ""
    if is_outage(exc):
        return UnavailableError(
            f"{where}: the service did not answer usably ({answer}{_reason(exc)}); "
            f"{unchanged}; retry later"
        )
    if status in REFUSAL_STATUS or (isinstance(exc, ClientAuthenticationError) and status is None):
        return DeniedError(
            f"{where}: refused ({answer}{_reason(exc)}): this identity may not do this; {unchanged}"
        )
    return None
