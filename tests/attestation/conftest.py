"""Fixtures for the service's device attestation: a shared in-memory state store, swtpm
devices with and without an EK certificate, and a registry clock the tests move."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sealgate.attestation import DeviceRegistry

from tests.keyrelease.conftest import Swtpm, start_swtpm, start_swtpm_on, stop_swtpm


class MemoryStateStore:
    """The ``StateStore`` contract in memory: tags are content hashes, every change is a
    compare-and-swap under one lock (as a Blob container's ETag conditions are)."""

    def __init__(self) -> None:
        self.documents: dict[str, bytes] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _tag(content: bytes) -> str:
        return hashlib.sha256(content).hexdigest()

    def read(self, key: str) -> tuple[bytes, str] | None:
        with self._lock:
            content = self.documents.get(key)
        return None if content is None else (content, self._tag(content))

    def create(self, key: str, content: bytes) -> bool:
        with self._lock:
            if key in self.documents:
                return False
            self.documents[key] = content
            return True

    def replace(self, key: str, content: bytes, tag: str) -> bool:
        with self._lock:
            current = self.documents.get(key)
            if current is None or self._tag(current) != tag:
                return False
            self.documents[key] = content
            return True

    def delete(self, key: str, tag: str) -> bool:
        with self._lock:
            current = self.documents.get(key)
            if current is None or self._tag(current) != tag:
                return False
            del self.documents[key]
            return True

    def keys(self, prefix: str) -> list[str]:
        return sorted(k for k in self.documents if k.startswith(prefix))


class Clock:
    """The real time plus whatever the test moved it on by."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


@pytest.fixture
def state() -> MemoryStateStore:
    return MemoryStateStore()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def registry_factory(state: MemoryStateStore, clock: Clock) -> Callable[..., DeviceRegistry]:
    """Registries (replicas) sharing the test's state store and clock."""

    def make(**options: object) -> DeviceRegistry:
        return DeviceRegistry(state, clock=clock, nonce_ttl=timedelta(seconds=60), **options)  # type: ignore[arg-type]

    return make


@pytest.fixture
def swtpm_factory(tmp_path: Path) -> Iterator[Callable[[str], Swtpm]]:
    started: list[Swtpm] = []

    def start(name: str) -> Swtpm:
        device = start_swtpm(tmp_path / f"swtpm-{name}")
        started.append(device)
        return device

    yield start
    for device in started:
        stop_swtpm(device)


@dataclass(frozen=True)
class ManufacturedTpm:
    """A swtpm manufactured by swtpm_setup: its EK certificate is issued by a local CA
    (root -> intermediate -> EK), as a TPM vendor's would be."""

    tpm: Swtpm
    root: Path
    intermediate: Path


@pytest.fixture
def manufactured_swtpm(tmp_path: Path) -> Iterator[ManufacturedTpm]:
    if shutil.which("swtpm_setup") is None or shutil.which("swtpm_localca") is None:
        pytest.fail("swtpm_setup is not installed: `make test` installs Debian swtpm-tools")
    ca = tmp_path / "localca"
    ca.mkdir()
    localca_conf = tmp_path / "swtpm-localca.conf"
    localca_conf.write_text(
        f"statedir = {ca}\nsigningkey = {ca}/signkey.pem\n"
        f"issuercert = {ca}/issuercert.pem\ncertserial = {ca}/certserial\n"
    )
    options = tmp_path / "swtpm-localca.options"
    options.write_text("--platform-manufacturer sealgate-tests\n--platform-model swtpm\n")
    setup_conf = tmp_path / "swtpm_setup.conf"
    setup_conf.write_text(
        "create_certs_tool = /usr/bin/swtpm_localca\n"
        f"create_certs_tool_config = {localca_conf}\n"
        f"create_certs_tool_options = {options}\n"
        "active_pcr_banks = sha256\n"
    )
    manufactured = tmp_path / "manufactured"
    manufactured.mkdir()
    subprocess.run(
        [
            "swtpm_setup", "--tpm2", "--tpmstate", str(manufactured), "--create-ek-cert",
            "--config", str(setup_conf), "--overwrite",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    tpm = start_swtpm_on(manufactured)
    try:
        yield ManufacturedTpm(tpm, ca / "swtpm-localca-rootca-cert.pem", ca / "issuercert.pem")
    finally:
        stop_swtpm(tpm)
