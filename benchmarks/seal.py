"""Whole-process sealing cost against a plain copy and against ``model_signing``, in one run.

Every command runs as its own process over the same model on tmpfs, the way a user runs it:
interpreter start, imports, hashing, encryption, writing. Repetitions alternate the commands
(so load on a shared machine hits them alike); the median is reported, with CPU time (user +
system) and peak RSS from ``wait4``. Commands:

- ``cp -r`` of the model (the floor: every byte read and written once);
- ``model_signing sign key`` and ``model_signing verify key`` (SHA-256 per file, its CLI);
- ``sealgate seal --hashing H`` (hash + encrypt + sign + write) and ``sealgate unseal``.

Targets (2 GiB, 4 files, 2 cores, default hashing): seal and unseal within 1.15x of ``cp -r``,
seal within 1.2x of ``model_signing sign key``, peak RSS < 128 MiB. The single-file case
repeats the comparison for one file with a hashing two cores can share.

    python benchmarks/seal.py [--size 2GiB] [--files 4] [--hashing sha256] [--repeat 3]
                              [--single-file-hashing blake3 | --no-single-file]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

CHUNK = 8 << 20
UNITS = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
HASHINGS = ("sha256", "sha256-shards", "blake3")
COPY_RATIO = 1.15
SIGN_RATIO = 1.2
RSS_LIMIT_MIB = 128


def parse_size(text: str) -> int:
    value = text.lower().removesuffix("ib").removesuffix("b")
    if value and value[-1] in UNITS:
        return int(float(value[:-1]) * UNITS[value[-1]])
    return int(value)


def tool(name: str) -> str:
    """A console script beside this interpreter (the venv's), else on PATH."""
    beside = Path(sys.executable).with_name(name)
    return str(beside) if beside.exists() else (shutil.which(name) or name)


def make_model(root: Path, size: int, files: int) -> None:
    """Incompressible bytes from an AES-CTR keystream (much faster than os.urandom)."""
    root.mkdir(parents=True)
    per_file = size // files
    keystream = Cipher(algorithms.AES(os.urandom(32)), modes.CTR(os.urandom(16))).encryptor()
    zeros = bytes(CHUNK)
    for index in range(files):
        target = root / ("weights" if index else "") / f"model-{index:05d}.safetensors"
        target.parent.mkdir(exist_ok=True)
        remaining = per_file if index < files - 1 else size - per_file * (files - 1)
        with target.open("wb") as handle:
            while remaining:
                step = min(CHUNK, remaining)
                handle.write(keystream.update(zeros[:step]))
                remaining -= step


def remove(path: Path) -> None:
    """Remove a tree, including unsealed directories (0500) and files (0400)."""
    if not path.exists() and not path.is_symlink():
        return
    if path.is_dir() and not path.is_symlink():
        path.chmod(0o700)
        for root, dirs, _ in os.walk(path):
            for name in dirs:
                Path(root, name).chmod(0o700)
        shutil.rmtree(path)
    else:
        path.unlink()


@dataclass(frozen=True)
class Run:
    seconds: float
    cpu_seconds: float
    peak_rss_mib: float


@dataclass(frozen=True)
class Step:
    label: str
    argv: list[str]
    outputs: tuple[Path, ...]

    def run(self) -> Run:
        for output in self.outputs:
            remove(output)
        start = time.perf_counter()
        process = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
        if process.returncode != 0:
            raise SystemExit(f"{self.label} failed ({process.returncode}): {stderr.strip()}")
        return Run(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def steps(work: Path, hashing: str) -> list[Step]:
    model, sealed, unsealed = work / "model", work / "sealed", work / "unsealed"
    sealgate, model_signing = tool("sealgate"), tool("model_signing")
    signer_key, signer_pub = str(work / "signer.key"), str(work / "signer.pub")
    oms_sig = work / "model_signing.sig"
    return [
        Step("cp -r", ["cp", "-r", str(model), str(work / "copy")], (work / "copy",)),
        Step(
            "model_signing sign key",
            [
                model_signing,
                "sign",
                "key",
                "--private_key",
                signer_key,
                "--signature",
                str(oms_sig),
                str(model),
            ],
            (oms_sig,),
        ),
        Step(
            f"sealgate seal --hashing {hashing}",
            [
                sealgate,
                "seal",
                str(model),
                "--name",
                "bench",
                "--version",
                "1",
                "--sign-key",
                signer_key,
                "--recipient",
                f"local:{work / 'rcpt.pub'}",
                "--out",
                str(sealed),
                "--hashing",
                hashing,
                "--json",
            ],
            (sealed,),
        ),
        Step(
            "model_signing verify key",
            [
                model_signing,
                "verify",
                "key",
                "--signature",
                str(oms_sig),
                "--public_key",
                signer_pub,
                str(model),
            ],
            (),
        ),
        Step(
            "sealgate unseal",
            [
                sealgate,
                "unseal",
                str(sealed),
                "--into",
                str(unsealed),
                "--identity",
                f"local:{work / 'rcpt.key'}",
                "--trust",
                signer_pub,
                "--json",
            ],
            (unsealed,),
        ),
    ]


def load() -> str:
    return "load average " + ", ".join(f"{value:.2f}" for value in os.getloadavg())


def measure(work: Path, hashing: str, repeat: int) -> dict[str, list[Run]]:
    plan = steps(work, hashing)
    runs: dict[str, list[Run]] = {step.label: [] for step in plan}
    for _ in range(repeat):
        for step in plan:  # alternating: every command once per round
            runs[step.label].append(step.run())
    return runs


def identical(left: Path, right: Path) -> bool:
    for path in left.rglob("*"):
        if path.is_file():
            other = right / path.relative_to(left)
            with path.open("rb") as a, other.open("rb") as b:
                while block := a.read(CHUNK):
                    if block != b.read(CHUNK):
                        return False
    return True


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def report(title: str, runs: dict[str, list[Run]], load_before: str, load_after: str) -> None:
    median = {label: statistics.median(r.seconds for r in rs) for label, rs in runs.items()}
    cpu = {label: statistics.median(r.cpu_seconds for r in rs) for label, rs in runs.items()}
    copy = median["cp -r"]
    sign = median["model_signing sign key"]
    print(f"\n{title}\n  {load_before} before, {load_after} after")
    print(
        f"  {'command':<36}{'median s':>9}{'min s':>8}{'x cp -r':>9}{'x ms sign':>11}"
        f"{'CPU s':>7}{'CPU x cp':>10}{'CPU x ms':>10}{'RSS MiB':>9}"
    )
    for label, rs in runs.items():
        print(
            f"  {label:<36}{median[label]:>9.2f}{min(r.seconds for r in rs):>8.2f}"
            f"{median[label] / copy:>9.2f}{median[label] / sign:>11.2f}"
            f"{cpu[label]:>7.2f}{cpu[label] / cpu['cp -r']:>10.2f}"
            f"{cpu[label] / cpu['model_signing sign key']:>10.2f}"
            f"{max(r.peak_rss_mib for r in rs):>9.1f}"
        )
    print(
        "  (CPU s = user + system of the whole process; on a loaded machine it is the steadier"
        " figure, and CPU s / cores bounds the wall time a quiet machine can reach)"
    )
    seal = next(label for label in runs if label.startswith("sealgate seal"))
    rss = max(r.peak_rss_mib for label in (seal, "sealgate unseal") for r in runs[label])
    checks = [
        (f"seal <= {COPY_RATIO}x cp -r", median[seal] / copy, median[seal] <= COPY_RATIO * copy),
        (
            f"seal <= {SIGN_RATIO}x model_signing sign",
            median[seal] / sign,
            median[seal] <= SIGN_RATIO * sign,
        ),
        (
            f"unseal <= {COPY_RATIO}x cp -r",
            median["sealgate unseal"] / copy,
            median["sealgate unseal"] <= COPY_RATIO * copy,
        ),
        (f"peak RSS < {RSS_LIMIT_MIB} MiB", rss, rss < RSS_LIMIT_MIB),
    ]
    for name, value, ok in checks:
        print(f"  target {name:<36} {value:>7.2f}  {verdict(ok)}")


def run_case(base: Path, size: int, files: int, hashing: str, repeat: int) -> None:
    with tempfile.TemporaryDirectory(prefix="sealgate-bench-", dir=base) as tmp:
        work = Path(tmp)
        make_model(work / "model", size, files)
        sealgate = tool("sealgate")
        for kind, prefix in (("signing", "signer"), ("recipient", "rcpt")):
            subprocess.run(
                [sealgate, "keys", "generate", kind, "--out", str(work / prefix)],
                check=True,
                stdout=subprocess.DEVNULL,
            )
        load_before = load()
        runs = measure(work, hashing, repeat)
        load_after = load()
        same = identical(work / "model", work / "unsealed")
        report(
            f"{size / (1 << 30):.2f} GiB in {files} file(s) on tmpfs ({base}), "
            f"{len(os.sched_getaffinity(0))} usable cores, hashing {hashing}, "
            f"{repeat} alternating rounds; unsealed bytes identical: {same}",
            runs,
            load_before,
            load_after,
        )
        for path in (work / "unsealed", work / "copy", work / "sealed"):
            remove(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="2GiB", help="model size, e.g. 2GiB, 256MiB")
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--hashing", default="sha256", choices=HASHINGS)
    parser.add_argument("--single-file-hashing", default="blake3", choices=HASHINGS)
    parser.add_argument("--no-single-file", action="store_true", help="skip the 1-file case")
    parser.add_argument("--repeat", type=int, default=3, help="alternating rounds (median)")
    shm = Path("/dev/shm")  # noqa: S108 - a tmpfs; mkdtemp makes the work directory private
    parser.add_argument("--dir", type=Path, default=shm, help="a tmpfs directory")
    args = parser.parse_args()
    size = parse_size(args.size)
    if shutil.disk_usage(args.dir).free < 4.2 * size:
        raise SystemExit(f"{args.dir}: needs {4.2 * size / (1 << 30):.1f} GiB free")
    run_case(args.dir, size, args.files, args.hashing, args.repeat)
    if not args.no_single_file:
        run_case(args.dir, size, 1, args.single_file_hashing, args.repeat)


if __name__ == "__main__":
    main()
