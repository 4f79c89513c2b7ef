"""Parse and policy time per RUN command of long Dockerfiles, doubling the number of RUN chains.

Each chain is one RUN of 10 commands (pinned apt and pip installs and echoes with
redirections). The built-in policies decide on the embedded engine, as `sealgate check` does;
the figures to read are the milliseconds per command and the growth ratio per doubling (at
most ~2 is linear).

    python benchmarks/dockerfile_policy.py [--chains 125] [--steps 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sealgate.inputs._dockerfile import DOCKERFILE_KIND, parse_dockerfile
from sealgate.policy import builtin_policy_root
from sealgate.policy._engine import EmbeddedDecisions
from sealgate.policy._evaluate import evaluate_input
from sealgate.policy._loader import load_policy_set

COMMANDS_PER_CHAIN = 10
DIGEST = "sha256:" + "ab" * 32


def dockerfile(chains: int) -> str:
    lines = [f"FROM mcr.microsoft.com/azurelinux/base/core:3.0@{DIGEST}"]
    for chain in range(chains):
        commands = [
            f"apt-get install -y --no-install-recommends pkg{chain}-{n}=1.{n} > /dev/null"
            if n % 3 == 0
            else f"pip install lib{n}=={chain}.0"
            if n % 3 == 1
            else f"echo step{n} >> /tmp/log 2>&1"
            for n in range(COMMANDS_PER_CHAIN)
        ]
        lines.append("RUN " + " \\\n && ".join(commands))
    lines += ["USER 10001", 'HEALTHCHECK CMD ["/app/health"]']
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, default=125, help="RUN chains at the first step")
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    policy_set = load_policy_set([builtin_policy_root()])
    decisions = EmbeddedDecisions(policy_set.engine())
    previous = None
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "Dockerfile"
        for step in range(args.steps):
            chains = args.chains * 2**step
            path.write_text(dockerfile(chains))
            start = time.perf_counter()
            [policy_input] = parse_dockerfile(DOCKERFILE_KIND, path)
            parsed = time.perf_counter()
            findings = evaluate_input(policy_set, decisions, policy_input)
            decided = time.perf_counter()
            commands = chains * COMMANDS_PER_CHAIN
            ratio = f"{(decided - start) / previous:4.2f}x" if previous else "   - "
            previous = decided - start
            print(
                f"{chains:6d} RUN, {commands:6d} commands: parse {1000 * (parsed - start):7.0f} ms, "
                f"policy {1000 * (decided - parsed):7.0f} ms, "
                f"{1000 * (decided - start) / commands:6.3f} ms per command, growth {ratio}, "
                f"{len(findings)} findings"
            )


if __name__ == "__main__":
    main()
