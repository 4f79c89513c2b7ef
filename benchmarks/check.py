"""The full repository gate, next to the time of building the stacks' offline plans alone.

The gate plans every stack, then parses and evaluates everything else; what it adds on top of
plan building is the cost of the gate itself. Target: under one second on 2 cores.

    python benchmarks/check.py [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from sealgate.gate import CheckRequest, load_config, run_check
from sealgate.inputs._discovery import is_pulumi_stack
from sealgate.platform._plan import build_plan

ROOT = Path(__file__).resolve().parent.parent


def plan_all(stacks: list[str]) -> float:
    start = time.perf_counter()
    for stack in stacks:
        build_plan(ROOT, stack)
    return time.perf_counter() - start


def gate_repository() -> tuple[float, int, bool]:
    """What `sealgate check` does, through the same library call."""
    start = time.perf_counter()
    result = run_check(load_config(ROOT), CheckRequest()).result
    return time.perf_counter() - start, result.inputs_evaluated, result.passed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    stacks = sorted(
        p.name[len("Pulumi.") : -len(".yaml")]
        for p in ROOT.glob("Pulumi.*.yaml")
        if is_pulumi_stack(p)
    )
    plan_all(stacks[:1])  # warm: imports and the Pulumi SDK's first-use costs
    plans, gates = [], []
    for _ in range(args.repeat):
        plans.append(plan_all(stacks))
        elapsed, inputs, passed = gate_repository()
        gates.append(elapsed)
    plan_time, gate_time = statistics.median(plans), statistics.median(gates)
    print(
        f"stacks: {', '.join(stacks)}; inputs gated: {inputs}; verdict: {'PASS' if passed else 'FAIL'}"
    )
    print(f"baseline, building the plans alone : {plan_time:6.2f} s (median of {args.repeat})")
    print(f"full repository gate               : {gate_time:6.2f} s (median of {args.repeat})")
    print(
        f"the gate adds                      : {gate_time - plan_time:6.2f} s on top of plan building"
    )
    print(f"ratio: {gate_time / plan_time:.2f}x the plan-building baseline")


if __name__ == "__main__":
    main()
