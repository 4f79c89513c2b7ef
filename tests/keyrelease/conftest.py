"""Fixtures for key release: swtpm devices on 127.0.0.1, a Key Vault stand-in, policy trees."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO


def _free_port_pair() -> int:
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port >= 65535:
            continue
        with socket.socket() as second:
            try:
                second.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no two consecutive free ports on 127.0.0.1")


@dataclass
class Swtpm:
    tcti: str
    process: subprocess.Popen[bytes]
    state: Path


def start_swtpm(state: Path) -> Swtpm:
    binary = shutil.which("swtpm")
    if binary is None:
        pytest.fail("swtpm is not installed: `make test` installs Debian swtpm and swtpm-tools")
    state.mkdir(parents=True)
    return start_swtpm_on(state, binary)


def start_swtpm_on(state: Path, binary: str = "swtpm") -> Swtpm:
    """swtpm on 127.0.0.1 (free port pair) over the TPM state in ``state``, new or manufactured."""
    for _ in range(5):
        port = _free_port_pair()
        process = subprocess.Popen(
            [
                binary, "socket", "--tpm2",
                "--server", f"type=tcp,port={port},bindaddr=127.0.0.1",
                "--ctrl", f"type=tcp,port={port + 1},bindaddr=127.0.0.1",
                "--tpmstate", f"dir={state}",
                "--flags", "not-need-init,startup-clear",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return Swtpm(f"swtpm:host=127.0.0.1,port={port}", process, state)
            except OSError:
                time.sleep(0.02)
        process.kill()
        process.wait()
    pytest.fail("swtpm did not start on 127.0.0.1")


@pytest.fixture
def swtpm_factory(tmp_path: Path) -> Iterator[Callable[[str], Swtpm]]:
    """Start swtpm devices (fresh TPM state each) and stop them at teardown."""
    started: list[Swtpm] = []

    def start(name: str) -> Swtpm:
        device = start_swtpm(tmp_path / f"swtpm-{name}")
        started.append(device)
        return device

    yield start
    for device in started:
        stop_swtpm(device)


def stop_swtpm(device: Swtpm) -> None:
    device.process.terminate()
    try:
        device.process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        device.process.kill()
        device.process.wait()
    if device.process.stderr is not None:
        device.process.stderr.close()


def unseal_policy_tree(root: Path, config: dict) -> Path:
    """The repository's unseal policy with test data (devices, grants, golden values), as a
    policy tree of its own (for loading it alone)."""
    policies = root / "policies"
    shutil.copytree(REPO / "policies" / "sealgate" / "unseal", policies / "unseal")
    (policies / "lib").mkdir(parents=True, exist_ok=True)
    shutil.copy(
        REPO / "policies" / "sealgate" / "lib" / "findings" / "findings.rego", policies / "lib"
    )  # the findings helper
    (policies / "data").mkdir(parents=True)
    (policies / "data" / "unseal.yaml").write_text(yaml.safe_dump(config))
    return policies


def unseal_policy_data(root: Path, config: dict) -> Path:
    """A policy folder holding only test data for the unseal policy (devices, grants, golden
    values): what `--policies` adds over the built-in policies and their data."""
    folder = root / "unseal-data"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "unseal.yaml").write_text(yaml.safe_dump(config))
    return folder


@dataclass(frozen=True)
class Pointer:
    name: str
    version: str
    digest: str


class FakeRegistry:
    """Stage pointers in memory, shaped like the promotion registry's ``current``."""

    def __init__(self) -> None:
        self.pointers: dict[tuple[str, str], Pointer] = {}

    def promote(self, stage: str, name: str, version: str, digest: str) -> None:
        self.pointers[(stage, name)] = Pointer(name, version, digest)

    def current(self, stage: str, name: str) -> Pointer | None:
        return self.pointers.get((stage, name))
