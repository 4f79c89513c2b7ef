"""The repository gate on the embedded engine and on a live OPA server, in one run.

OPA loads the bundle that ``sealgate policy bundle`` builds (as in production: one request
per input through the bundle's batch module) from a local ``opa`` binary: ``opa`` on PATH,
else ``.venv/bin/opa``. Both runs go through ``run_check`` and must decide the same. The
figure that matters is the ratio (the machine is shared and noisy); the target is 3x or less.

    python benchmarks/opa_gate.py [--repeat N]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sealgate.gate import CheckRequest, load_config, run_check
from sealgate.gate._config import GateConfig
from sealgate.policy._bundle import build_bundle
from sealgate.policy._decision import GateResult
from sealgate.policy._loader import load_policy_set
from sealgate.policy._opa import OpaServerEngine

ROOT = Path(__file__).resolve().parent.parent


def find_opa() -> str | None:
    return shutil.which("opa") or shutil.which("opa", path=str(ROOT / ".venv" / "bin"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_ready(server: subprocess.Popen[bytes], port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if server.poll() is not None:
                sys.exit(f"opa exited with {server.returncode} before serving")
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def gate(config: GateConfig) -> tuple[float, GateResult]:
    start = time.perf_counter()
    result = run_check(config, CheckRequest()).result
    return time.perf_counter() - start, result


def decided(result: GateResult) -> list[tuple[str, str, str]]:
    return sorted((f.rule_id, f.file, f.message) for f in result.findings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    opa = find_opa()
    if opa is None:
        sys.exit("no `opa` binary on PATH or in .venv/bin: the OPA half cannot run")
    embedded_config = load_config(ROOT)
    with tempfile.TemporaryDirectory() as folder:
        bundle = Path(folder) / "bundle.tar.gz"
        policy_set = load_policy_set(embedded_config.policy_roots)
        key = ec.generate_private_key(ec.SECP256R1())
        build_bundle(policy_set, bundle, key, key_id="benchmark")
        public = Path(folder) / "bundle-key.pem"
        public.write_bytes(
            key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        )
        port = free_port()
        server = subprocess.Popen(
            [opa, "run", "--server", f"--addr=127.0.0.1:{port}", "--log-level=error",
             "--bundle", str(bundle), "--verification-key", str(public),
             "--verification-key-id", "benchmark", "--signing-alg", "ES256", "--scope", "write"],
            cwd=folder,
        )  # fmt: skip
        try:
            wait_ready(server, port)
            opa_config = replace(embedded_config, engine="opa", opa_url=f"http://127.0.0.1:{port}")
            probe = OpaServerEngine(opa_config.opa_url or "")
            probe.evaluate_rules([p.decision for p in policy_set.packages_for("waivers")], {})
            batched = probe.batched  # the bundle's batch module answered
            probe.close()
            gate(embedded_config)  # warm: imports, the Pulumi SDK, OPA's prepared queries
            _, warm = gate(opa_config)
            embedded_times, opa_times = [], []
            for _ in range(args.repeat):
                elapsed, embedded = gate(embedded_config)
                embedded_times.append(elapsed)
                elapsed, served = gate(opa_config)
                opa_times.append(elapsed)
        finally:
            server.terminate()
            server.wait(timeout=10)
    assert decided(embedded) == decided(served) == decided(warm), "both engines must decide alike"
    embedded_time, opa_time = statistics.median(embedded_times), statistics.median(opa_times)
    print(f"one request per input (batch module): {'yes' if batched else 'NO'}")
    print(f"opa: {opa}; inputs gated: {embedded.inputs_evaluated}; checks: {len(embedded.checks)}")
    print(f"embedded engine (regorus)     : {embedded_time:6.2f} s (median of {args.repeat})")
    print(f"OPA server (bundle, 127.0.0.1): {opa_time:6.2f} s (median of {args.repeat})")
    print(f"ratio: {opa_time / embedded_time:.2f}x the embedded engine")


if __name__ == "__main__":
    main()
