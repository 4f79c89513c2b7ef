"""Time and peak memory to produce and gate the offline plans of all three stacks.

Run: ``.venv/bin/python benchmarks/plan.py``. Imports (Pulumi SDKs, the policy engine) are
timed separately from the plans and the gate.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
STACKS = ("dev", "staging", "prod")


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    import json

    started = time.perf_counter()
    import sealgate.platform._program  # noqa: F401 (the Pulumi SDK imports, outside the plan timings)
    from sealgate.inputs._kinds import parse_file
    from sealgate.platform._plan import build_plan
    from sealgate.policy._engine import create_engine
    from sealgate.policy._gate import run_gate
    from sealgate.policy._loader import load_policy_set

    policy_set = load_policy_set([REPO / "policies"])
    engine = create_engine("embedded", policy_set)
    setup = time.perf_counter() - started
    print(f"imports and policy load: {setup:.2f} s")
    total_plan = total_gate = 0.0
    with tempfile.TemporaryDirectory() as folder:
        for stack in STACKS:
            t0 = time.perf_counter()
            plan = build_plan(REPO, stack)
            path = Path(folder) / f"{stack}.json"
            path.write_text(json.dumps(plan), encoding="utf-8")
            t1 = time.perf_counter()
            result = run_gate(
                policy_set, engine, parse_file("pulumi-plan", path), waivers_file=None
            )
            t2 = time.perf_counter()
            total_plan += t1 - t0
            total_gate += t2 - t1
            verdict = "PASS" if result.passed else "FAIL"
            print(
                f"{stack:8s} {len(plan['steps']):3d} resources  plan {t1 - t0:5.2f} s  "
                f"gate {t2 - t1:5.2f} s ({result.inputs_evaluated} inputs, {verdict})"
            )
    print(
        f"all stacks: plan {total_plan:.2f} s + gate {total_gate:.2f} s = "
        f"{total_plan + total_gate:.2f} s; peak RSS {peak_rss_mib():.0f} MiB"
    )


if __name__ == "__main__":
    main()
