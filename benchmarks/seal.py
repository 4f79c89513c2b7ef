"""Seal, verify and unseal throughput and peak memory on a generated model.

Baseline, measured in the same run over the same bytes: plain SHA-256 + AES-256-GCM in one
thread (what a naive one-pass sealer costs). Each phase runs in its own child process so its
peak RSS (``ru_maxrss``) is that phase's alone. Targets: seal and unseal >= 1.5 GB/s on two
cores, peak RSS < 128 MiB.

    python benchmarks/seal.py [--size 2GiB] [--files 4] [--ciphertext-digest blake3|sha256]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

CHUNK = 1024 * 1024
UNITS = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def parse_size(text: str) -> int:
    value = text.lower().removesuffix("ib").removesuffix("b")
    if value and value[-1] in UNITS:
        return int(float(value[:-1]) * UNITS[value[-1]])
    return int(value)


def make_model(root: Path, size: int, files: int) -> None:
    """Incompressible bytes from an AES-CTR keystream (much faster than os.urandom)."""
    root.mkdir(parents=True)
    per_file = size // files
    stream = Cipher(algorithms.AES(os.urandom(32)), modes.CTR(os.urandom(16))).encryptor()
    zeros = bytes(CHUNK)
    for index in range(files):
        target = root / ("weights" if index else "") / f"model-{index:05d}.safetensors"
        target.parent.mkdir(exist_ok=True)
        remaining = per_file if index < files - 1 else size - per_file * (files - 1)
        with target.open("wb") as handle:
            while remaining:
                step = min(CHUNK, remaining)
                handle.write(stream.update(zeros[:step]))
                remaining -= step


def warm(root: Path) -> None:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            with path.open("rb", buffering=0) as handle:
                while handle.read(8 * CHUNK):
                    pass


# --- phases, each run in a child process --------------------------------------------------


def phase_baseline(work: Path, _: argparse.Namespace) -> int:
    aead = AESGCM(os.urandom(32))
    nonce = os.urandom(12)
    plaintext = memoryview(bytearray(CHUNK))
    ciphertext = memoryview(bytearray(CHUNK + 16))
    total = 0
    for path in sorted((work / "model").rglob("*")):
        if path.is_file():
            digest = hashlib.sha256()
            with path.open("rb", buffering=0) as handle:
                while count := handle.readinto(plaintext):
                    digest.update(plaintext[:count])
                    aead.encrypt_into(nonce, plaintext[:count], None, ciphertext[: count + 16])
                    total += count
    return total


def phase_copy(work: Path, _: argparse.Namespace) -> int:
    """Only read and write the bytes (no crypto): the cost of new tmpfs or page-cache pages."""
    buffer = memoryview(bytearray(CHUNK))
    total = 0
    target = work / "copy"
    target.mkdir()
    for path in sorted((work / "model").rglob("*")):
        if path.is_file():
            with path.open("rb", buffering=0) as src, (target / path.name).open("wb") as dst:
                while count := src.readinto(buffer):
                    dst.write(buffer[:count])
                    total += count
    return total


def phase_seal(work: Path, args: argparse.Namespace) -> int:
    from sealgate.sealing import (
        SealOptions,
        load_signing_private_key,
        parse_recipient,
        seal_model,
    )

    summary = seal_model(
        work / "model",
        work / "sealed",
        name="bench",
        version="1",
        signing_key=load_signing_private_key(work / "signer.key"),
        recipients=[parse_recipient(f"local:{work / 'rcpt.pub'}")],
        options=SealOptions(ciphertext_digest=args.ciphertext_digest),
    )
    return summary.plaintext_bytes


def phase_verify(work: Path, _: argparse.Namespace) -> int:
    from sealgate.sealing import load_trust, verify_sealed

    return verify_sealed(work / "sealed", load_trust(work / "signer.pub")).header.total_size


def phase_unseal(work: Path, args: argparse.Namespace) -> int:
    from sealgate.runtime import unseal_model
    from sealgate.sealing import load_trust, parse_identity

    summary = unseal_model(
        work / "sealed",
        Path(args.unseal_into),
        identities=[parse_identity(f"local:{work / 'rcpt.key'}")],
        trust=load_trust(work / "signer.pub"),
        allow_disk=args.allow_disk,
    )
    return summary.plaintext_bytes


PHASES = {
    "baseline": phase_baseline,
    "copy": phase_copy,
    "seal": phase_seal,
    "verify": phase_verify,
    "unseal": phase_unseal,
}


def _reset(phase: str, work: Path, args: argparse.Namespace) -> None:
    """Remove what the previous repetition of ``phase`` wrote."""
    if phase == "seal":
        _remove(work / "sealed")
    elif phase == "copy":
        _remove(work / "copy")
    elif phase == "unseal":
        _remove(Path(args.unseal_into))


def run_child(args: argparse.Namespace) -> None:
    import sealgate.runtime
    import sealgate.sealing  # noqa: F401 - imported before the clock starts

    work = Path(args.workdir)
    runs = []
    for _ in range(args.repeat):
        _reset(args.phase, work, args)
        start = time.perf_counter()
        processed = PHASES[args.phase](work, args)
        runs.append(time.perf_counter() - start)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "seconds": min(runs),
                "first": runs[0],
                "bytes": processed,
                "peak_rss_mib": peak_kib / 1024,
            }
        )
    )


def measure(phase: str, work: Path, args: argparse.Namespace, extra: list[str]) -> dict:
    command = [
        sys.executable,
        __file__,
        "--phase",
        phase,
        "--workdir",
        str(work),
        "--ciphertext-digest",
        args.ciphertext_digest,
        "--repeat",
        str(args.repeat),
        *extra,
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def _remove(path: Path) -> None:
    for root, dirs, _ in os.walk(path):
        for name in dirs:
            Path(root, name).chmod(0o700)
    if path.exists():
        path.chmod(0o700)
        shutil.rmtree(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="2GiB", help="model size, e.g. 2GiB, 256MiB")
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--ciphertext-digest", default="blake3", choices=["blake3", "sha256"])
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs per phase; the best is reported (the first is also shown)",
    )
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    parser.add_argument("--unseal-into", help=argparse.SUPPRESS)
    parser.add_argument("--allow-disk", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        run_child(args)
        return

    from sealgate.sealing import generate_recipient_key, generate_signing_key

    size = parse_size(args.size)
    shm = Path("/dev/shm")  # noqa: S108 - unseal must target tmpfs; mkdtemp makes it private
    on_shm = shm.is_dir() and shutil.disk_usage(shm).free > 3.3 * size
    with tempfile.TemporaryDirectory(prefix="sealgate-bench-", dir=shm if on_shm else None) as tmp:
        work = Path(tmp)
        make_model(work / "model", size, args.files)
        warm(work / "model")
        generate_signing_key(work / "signer")
        generate_recipient_key(work / "rcpt")
        into = work / "unsealed"
        unseal_extra = ["--unseal-into", str(into)] + ([] if on_shm else ["--allow-disk"])
        results = {
            "baseline": measure("baseline", work, args, []),
            "copy": measure("copy", work, args, []),
            "seal": measure("seal", work, args, []),
            "verify": measure("verify", work, args, []),
            "unseal": measure("unseal", work, args, unseal_extra),
        }
        identical = (
            all(
                (into / p.relative_to(work / "model")).read_bytes() == p.read_bytes()
                for p in (work / "model").rglob("*")
                if p.is_file()
            )
            if size <= (256 << 20)
            else None
        )
        _remove(into)
        _remove(work / "copy")

    base_rate = results["baseline"]["bytes"] / results["baseline"]["seconds"] / 1e9
    print(
        f"model: {size / (1 << 30):.2f} GiB in {args.files} files on "
        f"{'tmpfs (/dev/shm)' if on_shm else 'disk (unseal with --allow-disk)'}, "
        f"{os.cpu_count()} CPUs, ciphertext digest {args.ciphertext_digest}"
    )
    print(
        f"{'phase':<10}{'seconds':>9}{'GB/s':>8}{'x baseline':>12}{'first run GB/s':>16}"
        f"{'peak RSS MiB':>14}"
    )
    for phase, result in results.items():
        rate = result["bytes"] / result["seconds"] / 1e9
        first = result["bytes"] / result["first"] / 1e9
        print(
            f"{phase:<10}{result['seconds']:>9.2f}{rate:>8.2f}{rate / base_rate:>12.2f}"
            f"{first:>16.2f}{result['peak_rss_mib']:>14.1f}"
        )
    print("baseline: SHA-256 + AES-256-GCM over the same bytes, one thread, no output written;")
    print("copy: the same bytes only read and written, one thread: the floor cost of new pages;")
    print("the first run of a phase also pays for first-touch page faults of fresh memory")
    if identical is not None:
        print(f"unsealed bytes identical to the model: {identical}")


if __name__ == "__main__":
    main()
