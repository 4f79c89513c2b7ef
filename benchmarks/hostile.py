"""Cost of `sealgate check FILE` on hostile input: does it grow at most linearly?

For each hostile class (deep YAML, deep JSON, YAML aliases, a big flow list, a Dockerfile with
a long first line, many chained ARG expansions or many `&&` commands in one RUN, deep JSON in
a CMD, an IoT Edge manifest with many modules) the input size is doubled several times; each
step runs `sealgate check FILE` in a fresh process, as a user runs it, and prints its wall
time, its peak RSS (wait4), the growth ratio against the previous step and the exit code.
A class passes when every ratio is at most 2.3 and the largest step stays under 256 MiB. Each
child runs under a memory cap and a timeout, so a runaway class fails instead of the machine.

    python benchmarks/hostile.py [--steps 5] [--only CLASS ...] [--timeout 120] [--cap-mib 2048]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

MAX_RATIO = 2.3
MAX_PEAK_MIB = 256
CONFIG_MAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hostile\ndata:\n  x: "


def deep_yaml(n: int) -> str:
    return CONFIG_MAP + "[" * n + "]" * n + "\n"


def deep_json(n: int) -> str:
    return '{"apiVersion": "v1", "kind": "ConfigMap", "data": ' + "[" * n + "]" * n + "}\n"


def yaml_aliases(n: int) -> str:
    """One anchored list of ``n`` values, repeated by 300 aliases."""
    anchored = ",".join(["value"] * n)
    return CONFIG_MAP + f"&a [{anchored}]\n" + "".join(f"  k{i}: *a\n" for i in range(300))


def flow_list(n: int) -> str:
    return CONFIG_MAP + "[" + "1," * n + "1]\n"


def dockerfile_first_line(n: int) -> str:
    # A parser directive whose value has a long run of blanks inside it.
    return "# syntax=x" + " " * n + "x\nFROM alpine:3.20\nUSER app\n"


def dockerfile_args(n: int) -> str:
    """``n`` ARGs, each default doubling the previous one: 2**n bytes if expanded naively."""
    lines = ["ARG A0=xx"] + [f"ARG A{i}=${{A{i - 1}}}${{A{i - 1}}}" for i in range(1, n)]
    return "\n".join([*lines, f"FROM alpine:${{A{n - 1}}}", "USER app", ""])


def dockerfile_run_chain(n: int) -> str:
    commands = " && ".join(f"echo step{i}" for i in range(n))
    return f"FROM alpine:3.20\nRUN {commands}\nUSER app\n"


def dockerfile_deep_cmd(n: int) -> str:
    return "FROM alpine:3.20\nUSER app\nCMD " + "[" * n + '"run"' + "]" * n + "\n"


def iot_edge_modules(n: int) -> str:
    options = json.dumps({"HostConfig": {"PortBindings": {"443/tcp": [{"HostPort": "443"}]}}})
    modules = {
        f"module{i}": {
            "type": "docker",
            "status": "running",
            "restartPolicy": "always",
            "settings": {"image": f"registry.example/m{i}:1.0", "createOptions": options},
        }
        for i in range(n)
    }
    desired = {"schemaVersion": "1.1", "runtime": {"type": "docker"}, "modules": modules}
    return json.dumps({"modulesContent": {"$edgeAgent": {"properties.desired": desired}}})


@dataclass(frozen=True)
class HostileClass:
    name: str
    file: str
    make: Callable[[int], str]
    first: int  # size parameter of the first step; each step doubles it
    unit: str


CLASSES = [
    HostileClass("deep-yaml", "deep.yaml", deep_yaml, 25_000, "levels"),
    HostileClass("deep-json", "deep.json", deep_json, 25_000, "levels"),
    HostileClass("yaml-aliases", "aliases.yaml", yaml_aliases, 250, "values x 300 aliases"),
    HostileClass("flow-list", "list.yaml", flow_list, 250_000, "items"),
    HostileClass("dockerfile-first-line", "Dockerfile", dockerfile_first_line, 4_096, "bytes"),
    HostileClass("dockerfile-arg-expansion", "Dockerfile", dockerfile_args, 4, "ARGs"),
    HostileClass("dockerfile-run-chain", "Dockerfile", dockerfile_run_chain, 250, "commands"),
    HostileClass("dockerfile-deep-cmd", "Dockerfile", dockerfile_deep_cmd, 25_000, "levels"),
    HostileClass("iot-edge-modules", "deployment.json", iot_edge_modules, 250, "modules"),
]


@dataclass(frozen=True)
class Step:
    size: int
    file_bytes: int
    seconds: float
    peak_mib: float
    exit_code: int | None  # None: killed by the timeout


def run_step(kind: HostileClass, size: int, folder: Path, timeout: float, cap_mib: int) -> Step:
    content = kind.make(size).encode()
    path = folder / kind.file
    path.write_bytes(content)
    file_bytes = len(content)
    del content
    # The shell applies the memory cap and execs sealgate in its place (same pid for wait4);
    # no preexec_fn, so the child is spawned, not forked with this process's pages (which
    # would count in its peak RSS).
    capped = f'ulimit -v {cap_mib * 1024} && exec "$0" "$@"'
    argv = ["/bin/sh", "-c", capped, sys.executable, "-m", "sealgate", "check", "--no-config"]
    started = time.perf_counter()
    process = subprocess.Popen(
        [*argv, "-q", kind.file],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    timed_out = False
    while True:  # wait4 polls, so that the child's own peak RSS is read, not the children's
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() - started > timeout:
            process.kill()
            _, status, usage = os.wait4(process.pid, 0)
            timed_out = True
            break
        time.sleep(0.01)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    code = None if timed_out else process.returncode
    peak = usage.ru_maxrss / 1024
    path.unlink()
    return Step(size, file_bytes, elapsed, peak, code)


def measure(kind: HostileClass, steps: int, timeout: float, cap_mib: int) -> bool:
    print(f"\n{kind.name} ({kind.unit} per step)")
    print(f"{'size':>10} {'file':>10} {'time s':>8} {'ratio':>6} {'peak MiB':>9} {'exit':>5}")
    ok = True
    previous: Step | None = None
    with tempfile.TemporaryDirectory(prefix="sealgate-hostile-") as tmp:
        for index in range(steps):
            step = run_step(kind, kind.first * 2**index, Path(tmp), timeout, cap_mib)
            ratio = step.seconds / previous.seconds if previous else None
            shown_ratio = f"{ratio:6.2f}" if ratio is not None else f"{'':>6}"
            exit_shown = "kill" if step.exit_code is None else str(step.exit_code)
            print(
                f"{step.size:>10} {step.file_bytes:>10} {step.seconds:8.2f} {shown_ratio} "
                f"{step.peak_mib:9.1f} {exit_shown:>5}"
            )
            if step.exit_code is None or step.exit_code < 0 or step.exit_code > 2:
                ok = False  # killed (timeout, memory cap: a crash) or an internal error
            if ratio is not None and ratio > MAX_RATIO:
                ok = False
            previous = step
            if step.exit_code is None:
                break  # a larger step would only take longer
    largest = previous
    if largest is not None and largest.peak_mib >= MAX_PEAK_MIB:
        ok = False
    print(f"{kind.name}: {'PASS' if ok else 'FAIL'} (ratio <= {MAX_RATIO}, < {MAX_PEAK_MIB} MiB)")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=5, help="doublings per class")
    parser.add_argument("--only", nargs="+", choices=[c.name for c in CLASSES], default=None)
    parser.add_argument("--timeout", type=float, default=120, help="seconds per step")
    parser.add_argument("--cap-mib", type=int, default=2048, help="memory cap of each child")
    args = parser.parse_args()
    chosen = [c for c in CLASSES if args.only is None or c.name in args.only]
    results = {c.name: measure(c, args.steps, args.timeout, args.cap_mib) for c in chosen}
    print("\nsummary: " + ", ".join(f"{n} {'PASS' if ok else 'FAIL'}" for n, ok in results.items()))
    sys.exit(0 if all(results.values()) else 1)


if __name__ == "__main__":
    main()
