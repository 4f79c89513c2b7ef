"""The Azure Blob Storage registry: ETag conditions make concurrent promotions safe.

``azblob://ACCOUNT/CONTAINER[?endpoint=URL&audit_container=NAME]``

- pointers move with ``upload_blob(..., etag=TAG, match_condition=IfNotModified)`` (or
  ``IfMissing`` for a first pointer), so of two racing promotions exactly one wins;
- the audit log is an append blob; each record is one block appended with
  ``appendpos_condition`` (the size that was read) and ``if_match`` (its ETag), so no record
  can land between reading and checking the log and appending the next: a loser re-reads
  the log and chains again. A block is committed whole or not at all, so records are never
  torn here. In production the audit container is made immutable by the infrastructure
  (time-based retention with protected append writes), so the log can only grow;
- credentials: ``AZURE_STORAGE_CONNECTION_STRING`` when set (e.g. Azurite), otherwise
  workload identity in AKS, ``DefaultAzureCredential`` elsewhere (``sealgate._azure``);
- failures: an outage (no connection, 5xx, 429 after the retries) is exit code 3, a refusal
  (401/403) exit code 1, and the message says what the operation left unchanged.
  The endpoint is ``https://ACCOUNT.blob.core.windows.net`` unless ``?endpoint=`` or
  ``SEALGATE_BLOB_ENDPOINT`` names another (Azurite: ``http://127.0.0.1:10000/ACCOUNT``).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.storage.blob import BlobServiceClient, ContainerClient

from sealgate._azure import STORAGE_RETRY, azure_credential, service_failure
from sealgate.errors import InputError, SealgateError
from sealgate.promotion._registry import (
    AUDIT_HEAD,
    AUDIT_LOG,
    STAGES,
    ConflictError,
    Registry,
    StagePointer,
    head_count,
    model_prefix,
    name_from_pointer_key,
    pointer_key,
)
from sealgate.promotion._sealed_source import open_sealed_source
from sealgate.sealing._header import HEADER_FILE

ENDPOINT_ENV = "SEALGATE_BLOB_ENDPOINT"
CONNECTION_STRING_ENV = "AZURE_STORAGE_CONNECTION_STRING"
APPEND_ATTEMPTS = 200


UNCHANGED = "the registry is unchanged"


def _storage_error(url: str, exc: AzureError, unchanged: str = UNCHANGED) -> SealgateError:
    failure = service_failure(f"registry {url}", exc, unchanged)
    if failure is not None:
        return failure
    reason = getattr(exc, "reason", None) or type(exc).__name__
    code = getattr(exc, "error_code", None)
    return InputError(f"registry {url}: {reason}{f' ({code})' if code else ''}")


def blob_service(
    url: str, parameters: Collection[str] = ()
) -> tuple[BlobServiceClient, str, dict[str, str]]:
    """The service client, container name and query of ``azblob://ACCOUNT/CONTAINER[?...]``
    (``endpoint`` and ``parameters`` allowed in the query)."""
    parts = urlsplit(url)
    account, container = parts.netloc, parts.path.strip("/")
    if not account or not container or "/" in container:
        raise InputError(f"{url}: use azblob://ACCOUNT/CONTAINER")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    unknown = set(query) - {"endpoint", *parameters}
    if unknown:
        raise InputError(f"{url}: unknown parameter(s) {', '.join(sorted(unknown))}")
    endpoint = (
        query.get("endpoint")
        or os.environ.get(ENDPOINT_ENV)
        or f"https://{account}.blob.core.windows.net"
    )
    connection_string = os.environ.get(CONNECTION_STRING_ENV)
    if connection_string:
        service = BlobServiceClient.from_connection_string(connection_string, **STORAGE_RETRY)
        if service.account_name != account:
            raise InputError(
                f"{url}: {CONNECTION_STRING_ENV} is for account "
                f"{service.account_name!r}, not {account!r}"
            )
        if query.get("endpoint") or os.environ.get(ENDPOINT_ENV):
            service = BlobServiceClient(endpoint, credential=service.credential, **STORAGE_RETRY)
    else:
        service = BlobServiceClient(endpoint, credential=azure_credential(), **STORAGE_RETRY)
    return service, container, query


class BlobRegistry(Registry):
    def __init__(self, url: str, container: ContainerClient, audit: ContainerClient) -> None:
        self.url = url
        self._container = container
        self._audit = audit

    @classmethod
    def from_url(cls, url: str) -> BlobRegistry:
        service, container, query = blob_service(url, ("audit_container",))
        audit_name = query.get("audit_container", container)
        return cls(
            url, service.get_container_client(container), service.get_container_client(audit_name)
        )

    @contextlib.contextmanager
    def _errors(self, unchanged: str = UNCHANGED) -> Iterator[None]:
        try:
            yield
        except ResourceNotFoundError as exc:
            if getattr(exc, "error_code", None) == "ContainerNotFound":
                raise InputError(f"registry {self.url}: the container does not exist") from None
            raise
        except SealgateError:
            raise
        except AzureError as exc:
            raise _storage_error(self.url, exc, unchanged) from None

    # pointers ---------------------------------------------------------------------------

    def read_pointer(self, stage: str, name: str) -> tuple[StagePointer | None, str | None]:
        key = pointer_key(stage, name)
        with self._errors():
            try:
                downloader = self._container.get_blob_client(key).download_blob()
            except ResourceNotFoundError as exc:
                if getattr(exc, "error_code", None) == "ContainerNotFound":
                    raise
                return None, None
            data = downloader.readall()
            return StagePointer.from_json(data, key), downloader.properties.etag

    def set_pointer(self, stage: str, pointer: StagePointer, expected_tag: str | None) -> None:
        key = pointer_key(stage, pointer.name)
        blob = self._container.get_blob_client(key)
        conflict = ConflictError(
            f"conflict: {pointer.name} in {stage} was changed by another promotion "
            "while this one was decided; nothing was changed, decide again"
        )
        with self._errors():
            try:
                if expected_tag is None:
                    blob.upload_blob(pointer.to_json(), overwrite=False)
                else:
                    blob.upload_blob(
                        pointer.to_json(),
                        overwrite=True,
                        etag=expected_tag,
                        match_condition=MatchConditions.IfNotModified,
                    )
            except (ResourceExistsError, ResourceModifiedError):
                raise conflict from None
            except HttpResponseError as exc:
                if exc.status_code in (409, 412):
                    raise conflict from None
                raise

    def pointers(self) -> list[tuple[str, StagePointer]]:
        found = []
        with self._errors():
            for item in self._container.list_blobs(name_starts_with=f"{STAGES}/"):
                parts = item.name.split("/")
                if len(parts) != 3 or not parts[2].endswith(".json"):
                    continue
                pointer, _ = self.read_pointer(parts[1], name_from_pointer_key(parts[2]))
                if pointer is not None:
                    found.append((parts[1], pointer))
        return found

    # models -----------------------------------------------------------------------------

    def has_model(self, digest: str) -> bool:
        with self._errors():
            blob = self._container.get_blob_client(f"{model_prefix(digest)}/{HEADER_FILE}")
            return bool(blob.exists())

    def store_model(self, digest: str, sealed_dir: Path) -> None:
        if self.has_model(digest):
            return
        prefix = model_prefix(digest)
        stored_nothing = "no model was stored and no pointer moved"
        with open_sealed_source(sealed_dir, digest) as source, self._errors(stored_nothing):
            for entry in source.entries:
                with source.open(entry) as stream:
                    # Not seekable and one connection: the SDK reads it once, in order, and
                    # the read that would complete a changed file raises before it is committed.
                    self._container.upload_blob(
                        f"{prefix}/{entry.name}",
                        stream,
                        length=stream.size,
                        overwrite=True,
                        max_concurrency=1,
                    )
                    stream.check_complete()
            # seal.json last: a model whose header is present is complete.
            self._container.upload_blob(
                f"{prefix}/{HEADER_FILE}", source.header_bytes, overwrite=True
            )

    @contextlib.contextmanager
    def open_model(self, digest: str) -> Iterator[Path]:
        prefix = f"{model_prefix(digest)}/"
        with tempfile.TemporaryDirectory(prefix="sealgate-registry-") as scratch:
            root = Path(scratch) / "sealed"
            root.mkdir()
            with self._errors():
                names = [b.name for b in self._container.list_blobs(name_starts_with=prefix)]
                if f"{prefix}{HEADER_FILE}" not in names:
                    raise InputError(f"registry: no sealed model {digest} in {self.url}")
                for name in names:
                    relative = name[len(prefix) :]
                    if not relative or relative.startswith("/") or ".." in relative.split("/"):
                        raise InputError(f"registry: unsafe blob name {name!r}")
                    target = root / relative
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with target.open("wb") as handle:
                        self._container.download_blob(name).readinto(handle)
            yield root

    # audit ------------------------------------------------------------------------------

    def append_audit(self, make_line: Callable[[bytes, bytes | None], bytes]) -> bytes:
        blob = self._audit.get_blob_client(AUDIT_LOG)
        with self._errors("nothing was recorded and no pointer moved"):
            with contextlib.suppress(ResourceExistsError, ResourceModifiedError):
                blob.create_append_blob(match_condition=MatchConditions.IfMissing)
            for _ in range(APPEND_ATTEMPTS):
                head = self.read_audit_head()  # before the log: it counts no record not in it
                properties = blob.get_blob_properties()
                size, etag = properties.size, properties.etag
                try:
                    log = (
                        blob.download_blob(
                            offset=0,
                            length=size,
                            etag=etag,
                            match_condition=MatchConditions.IfNotModified,
                        ).readall()
                        if size
                        else b""
                    )
                except ResourceModifiedError:
                    continue
                record = make_line(log, head)
                try:
                    blob.append_block(
                        record + b"\n",
                        appendpos_condition=size,
                        etag=etag,
                        match_condition=MatchConditions.IfNotModified,
                    )
                except (ResourceModifiedError, HttpResponseError) as exc:
                    if getattr(exc, "status_code", None) != 412:
                        raise
                    continue  # another record landed first: chain to it instead
                return record
        raise ConflictError(f"registry {self.url}: the audit log is too busy; try again")

    def truncate_audit(self, size: int, expected_size: int) -> None:
        raise InputError(
            f"registry {self.url}: an append blob cannot be cut (and its blocks are never "
            "torn); a damaged Blob audit log is examined with `sealgate audit verify`"
        )

    # documents --------------------------------------------------------------------------

    def read_document(self, key: str) -> bytes | None:
        with self._errors():
            try:
                return bytes(self._container.download_blob(key).readall())
            except ResourceNotFoundError as exc:
                if getattr(exc, "error_code", None) == "ContainerNotFound":
                    raise
                return None

    def create_document(self, key: str, data: bytes) -> bool:
        with self._errors(f"{key} was not written; nothing was recorded and no pointer moved"):
            try:
                self._container.upload_blob(key, data, overwrite=False)
            except ResourceExistsError:
                return False
            return True

    def read_audit(self) -> bytes:
        with self._errors():
            try:
                return self._audit.download_blob(AUDIT_LOG).readall()
            except ResourceNotFoundError as exc:
                if getattr(exc, "error_code", None) == "ContainerNotFound":
                    raise
                return b""

    def read_audit_head(self) -> bytes | None:
        with self._errors():
            try:
                return self._audit.download_blob(AUDIT_HEAD).readall()
            except ResourceNotFoundError as exc:
                if getattr(exc, "error_code", None) == "ContainerNotFound":
                    raise
                return None

    def write_audit_head(self, head: bytes, count: int) -> None:
        blob = self._audit.get_blob_client(AUDIT_HEAD)
        with self._errors("the audit record was appended but the audit head was not updated"):
            for _ in range(APPEND_ATTEMPTS):
                try:
                    downloader = blob.download_blob()
                    existing, etag = downloader.readall(), downloader.properties.etag
                except ResourceNotFoundError:
                    existing, etag = None, None
                if existing is not None and head_count(existing) >= count:
                    return
                try:
                    if etag is None:
                        blob.upload_blob(head, overwrite=False)
                    else:
                        blob.upload_blob(
                            head,
                            overwrite=True,
                            etag=etag,
                            match_condition=MatchConditions.IfNotModified,
                        )
                    return
                except (ResourceExistsError, ResourceModifiedError):
                    continue

    def close(self) -> None:
        self._container.close()
        self._audit.close()
