"""Evaluations per second of a 10-rule policy over 10,000 inputs on the embedded engine.

Baseline, measured in the same run: the naive loop that compiles the policy again for every
input. The figure that matters is the ratio (this machine is shared and noisy).

    python benchmarks/policy_eval.py [--inputs N]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from sealgate.inputs._model import PolicyInput
from sealgate.policy._embedded import EmbeddedEngine
from sealgate.policy._engine import EmbeddedDecisions
from sealgate.policy._evaluate import evaluate_input
from sealgate.policy._loader import load_policy_set

RULES = 10


def policy_source() -> str:
    rules = []
    for n in range(RULES):
        rules.append(f"""
# METADATA
# title: Check {n}
# description: Field f{n} must stay below its limit.
# custom:
#   id: SG-BENCH-{n:03d}
#   severity: medium
#   remediation: Lower f{n}.
deny contains finding if {{
	some i, item in input.items
	item.f{n} > {50 + n}
	finding := {{
		"id": "SG-BENCH-{n:03d}",
		"msg": sprintf("item %d: f{n} is %d", [i, item.f{n}]),
		"severity": "medium",
		"path": ["items", i, "f{n}"],
	}}
}}
""")
    header = "# METADATA\n# title: Benchmark\n# custom:\n#   input: bench\npackage sealgate.bench.limits\n\nimport rego.v1\n"
    return header + "".join(rules)


def make_inputs(count: int) -> list[PolicyInput]:
    rng = random.Random(7)
    return [
        PolicyInput(
            kind="bench",
            target=f"input-{i}",
            file=f"input-{i}.yaml",
            document={
                "items": [{f"f{n}": rng.randint(0, 60) for n in range(RULES)} for _ in range(3)]
            },
        )
        for i in range(count)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=10_000)
    parser.add_argument("--baseline-inputs", type=int, default=1_000, help="naive loop sample size")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        policy_file = Path(folder) / "bench" / "policy.rego"
        policy_file.parent.mkdir()
        policy_file.write_text(policy_source())
        policy_set = load_policy_set([Path(folder)])
        inputs = make_inputs(args.inputs)

        decisions = EmbeddedDecisions(policy_set.engine())
        start = time.perf_counter()
        compiled_findings = [evaluate_input(policy_set, decisions, item) for item in inputs]
        compiled_rate = len(inputs) / (time.perf_counter() - start)

        sample = inputs[: args.baseline_inputs]
        module = [(str(policy_file), policy_file.read_text())]
        start = time.perf_counter()
        naive_findings = []
        for item in sample:
            engine = EmbeddedDecisions(EmbeddedEngine(module, policy_set.data))
            naive_findings.append(evaluate_input(policy_set, engine, item))
        naive_rate = len(sample) / (time.perf_counter() - start)

    assert naive_findings == compiled_findings[: len(sample)], "both loops must decide the same"
    total = sum(len(f) for f in compiled_findings)
    print(f"policy: {RULES} rules; inputs: {len(inputs)}; findings: {total}")
    print(f"compile once, evaluate many : {compiled_rate:10.0f} evaluations/s")
    print(f"baseline, compile per input : {naive_rate:10.0f} evaluations/s ({len(sample)} inputs)")
    print(f"ratio: {compiled_rate / naive_rate:.1f}x the baseline")


if __name__ == "__main__":
    main()
