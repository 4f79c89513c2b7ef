"""A ``StateStore`` in an Azure Blob container: replicas agree through ETag conditions.

``create`` uploads with ``If-None-Match: *``, ``replace`` and ``delete`` with ``If-Match``
the ETag read, so of two replicas racing on one document exactly one wins; the other sees
False and re-reads. Every document lives under a prefix (``keyserver/`` by default).
"""

from __future__ import annotations

from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)

from sealgate._azure import service_failure
from sealgate.errors import InputError, SealgateError
from sealgate.keyserver._state import check_key

MAX_DOCUMENT_BYTES = 1024 * 1024


class BlobStateStore:
    def __init__(self, container: Any, prefix: str = "keyserver/") -> None:
        self._container = container
        self._prefix = prefix

    def _blob(self, key: str) -> Any:
        return self._container.get_blob_client(self._prefix + check_key(key))

    def _fail(self, key: str, exc: AzureError) -> SealgateError:
        where = f"state {self._prefix}{key}"
        failure = service_failure(where, exc, "the state is unchanged")
        if failure is not None:
            return failure
        reason = getattr(exc, "reason", None) or type(exc).__name__
        return InputError(f"{where}: {reason}")

    def read(self, key: str) -> tuple[bytes, str] | None:
        try:
            downloader = self._blob(key).download_blob()
            if downloader.size > MAX_DOCUMENT_BYTES:
                raise InputError(f"state {self._prefix}{key}: document is too large")
            data = downloader.readall()
            return data, str(downloader.properties.etag)
        except ResourceNotFoundError:
            return None
        except AzureError as exc:
            raise self._fail(key, exc) from None

    def create(self, key: str, content: bytes) -> bool:
        try:
            self._blob(key).upload_blob(content, overwrite=False)
            return True
        except ResourceExistsError:
            return False
        except AzureError as exc:
            raise self._fail(key, exc) from None

    def replace(self, key: str, content: bytes, tag: str) -> bool:
        try:
            self._blob(key).upload_blob(
                content, overwrite=True, etag=tag, match_condition=MatchConditions.IfNotModified
            )
            return True
        except (ResourceModifiedError, ResourceNotFoundError):
            return False
        except AzureError as exc:
            raise self._fail(key, exc) from None

    def delete(self, key: str, tag: str) -> bool:
        try:
            self._blob(key).delete_blob(etag=tag, match_condition=MatchConditions.IfNotModified)
            return True
        except (ResourceModifiedError, ResourceNotFoundError):
            return False
        except AzureError as exc:
            raise self._fail(key, exc) from None
