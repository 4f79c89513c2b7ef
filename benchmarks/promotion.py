"""Promotion decisions per second on the filesystem registry, and the policy's share of each.

Every decision is the whole gate: read the target pointer, verify the sealed model (header
signature, model.sig, every ciphertext digest), gather facts, evaluate the promotion policies,
append a signed audit record (fsync) and, when allowed, store the model and move the pointer.
Half of the requests are allowed (a newer version), half denied (a rollback).

    python benchmarks/promotion.py [--decisions N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from sealgate.promotion import _gate as gate_module
from sealgate.promotion._service import GateOptions, open_gate, push
from sealgate.sealing import (
    SealOptions,
    generate_recipient_key,
    generate_signing_key,
    load_signing_private_key,
    parse_recipient,
    seal_model,
)

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        generate_signing_key(root / "release")
        generate_signing_key(root / "gate")
        generate_recipient_key(root / "rcpt")
        (root / "policies" / "data").mkdir(parents=True)
        shutil.copytree(
            REPO / "policies" / "sealgate" / "promotion", root / "policies" / "promotion"
        )
        shutil.copy(REPO / "policies" / "data" / "promotion.yaml", root / "policies" / "data")
        model = root / "model"
        model.mkdir()
        (model / "weights.bin").write_bytes(os.urandom(64 * 1024))
        sealed = []
        for n in range(args.decisions // 2 + 1):
            out = root / f"sealed-{n}"
            seal_model(
                model,
                out,
                name="bench-model",
                version=f"1.0.{n}",
                signing_key=load_signing_private_key(root / "release.key"),
                recipients=[parse_recipient(f"local:{root / 'rcpt.pub'}")],
                options=SealOptions(workers=1),
            )
            sealed.append(out)
        context = open_gate(
            GateOptions(
                registry=f"file://{root / 'registry'}",
                trust=root / "release.pub",
                gate_key=root / "gate.key",
                policies=(root / "policies",),
            )
        )
        policy_seconds = 0.0
        decide = gate_module.decide

        def timed_decide(*call_args, **kwargs):  # type: ignore[no-untyped-def]
            nonlocal policy_seconds
            started = time.perf_counter()
            try:
                return decide(*call_args, **kwargs)
            finally:
                policy_seconds += time.perf_counter() - started

        gate_module.decide = timed_decide  # type: ignore[assignment]
        push(context, sealed[0], "bench")  # warm-up: first pointer, first record
        policy_seconds = 0.0
        allowed = denied = 0
        started = time.perf_counter()
        for n in range(1, args.decisions // 2 + 1):
            allowed += push(context, sealed[n], "bench").allowed
            denied += not push(context, sealed[n - 1], "bench").allowed  # rollback
        elapsed = time.perf_counter() - started
    decisions = allowed + denied
    print(
        f"promotion gate, filesystem registry: {decisions} decisions ({allowed} allowed, "
        f"{denied} denied) in {elapsed:.2f} s = {decisions / elapsed:.0f} decisions/s"
    )
    print(
        f"policy evaluation: {policy_seconds / decisions * 1000:.2f} ms per decision, "
        f"{policy_seconds / elapsed:.0%} of each decision"
    )


if __name__ == "__main__":
    main()
