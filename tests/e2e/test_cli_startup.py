"""Commands that never read or write a model.sig do not pay for model_signing's imports
(sigstore, TUF: about 0.7 s of every start on the build machine)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sealgate.sealing import generate_recipient_key, generate_signing_key


def imported_modules(*args: str, cwd: Path) -> set[str]:
    """The modules `sealgate ARGS` imports, from the interpreter's own -X importtime log."""
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "sealgate", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in completed.stderr, completed.stderr
    return {
        line.rsplit("|", 1)[1].strip()
        for line in completed.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def test_key_registry_and_approval_commands_skip_model_signing(tmp_path: Path) -> None:
    generate_signing_key(tmp_path / "bob")
    registry = f"file://{tmp_path / 'registry'}"
    commands = [
        ("keys", "generate", "signing", "--out", "signer"),
        ("keys", "generate", "recipient", "--out", "rcpt"),
        ("status", "--registry", registry),
        ("audit", "verify", "--registry", registry, "--gate-pub", "bob.pub"),
        ("approve", "m", "1.0.0", "--to", "staging", "--digest", "sha256:" + "0" * 64,
         "--requester", "alice", "--key", "bob.key", "--out", "a.json"),
        ("trust", "add", "--file", "trust.yaml", "--name", "bob", "--key", "bob.pub"),
        ("trust", "show", "--file", "trust.yaml"),
    ]  # fmt: skip
    for command in commands:
        modules = imported_modules(*command, cwd=tmp_path)
        assert "click" in modules, command
        assert "model_signing" not in modules, command
    # Sealing writes a model.sig, built by sealgate itself: model_signing is not loaded there
    # either (the tests in tests/sealing hold that model.sig to the real model_signing).
    generate_recipient_key(tmp_path / "serving")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "weights.bin").write_bytes(b"w" * 100)
    sealing = imported_modules(
        "seal", "model", "--name", "m", "--version", "1.0.0", "--sign-key", "bob.key",
        "--recipient", "local:serving.pub", "--out", "sealed", cwd=tmp_path,
    )  # fmt: skip
    assert "click" in sealing and (tmp_path / "sealed" / "model.sig").is_file()
    assert "model_signing" not in sealing and "sigstore" not in sealing
