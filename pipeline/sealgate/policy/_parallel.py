"""Spread a gate run over the cores: parse and evaluate chunks of files in forked workers.

Each worker inherits the compiled policies (fork, no recompilation) and returns its chunk's
findings and checks; the parent applies waivers to everything at the end, as in a serial run.
Pulumi stacks stay in the parent: planning them starts the Pulumi SDK, which must not be
forked half-way through.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from sealgate._cores import usable_cores
from sealgate.inputs._discovery import Candidate, load_inputs
from sealgate.inputs._kinds import ParseContext
from sealgate.inputs._model import InputProblem, PolicyInput
from sealgate.inputs._pulumi_plan import PULUMI_STACK_KIND
from sealgate.policy._decision import GateResult
from sealgate.policy._engine import EmbeddedDecisions
from sealgate.policy._gate import EvaluatedChunk, run_gate
from sealgate.policy._loader import PolicySet

# Below this many files a worker costs more to start than it saves.
MIN_FILES_PER_WORKER = 32

_state: dict[str, Any] = {}


def default_workers() -> int:
    return usable_cores()


def gate_items(
    policy_set: PolicySet, candidates: list[Candidate], context: ParseContext, *, workers: int
) -> Iterator[PolicyInput | InputProblem | EvaluatedChunk]:
    """What ``run_gate`` consumes: parsed inputs, or chunks already evaluated by workers."""
    serial = [c for c in candidates if c.kind == PULUMI_STACK_KIND]
    spread = [c for c in candidates if c.kind != PULUMI_STACK_KIND]
    workers = min(workers, len(spread) // MIN_FILES_PER_WORKER)
    if workers < 2:
        yield from load_inputs(candidates, context)
        return
    chunk_size = -(-len(spread) // (workers * 4))
    chunks = [spread[i : i + chunk_size] for i in range(0, len(spread), chunk_size)]
    _state.update(policy_set=policy_set, context=context)
    try:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            results = pool.map(_evaluate_chunk, chunks)
            yield from load_inputs(serial, context)
            yield from results
    finally:
        _state.clear()


def _evaluate_chunk(chunk: list[Candidate]) -> EvaluatedChunk:
    policy_set: PolicySet = _state["policy_set"]
    if "engine" not in _state:
        _state["engine"] = EmbeddedDecisions(policy_set.engine())
    result: GateResult = run_gate(
        policy_set, _state["engine"], load_inputs(chunk, _state["context"])
    )
    return EvaluatedChunk(
        result.findings, result.checks, result.inputs_evaluated, result.input_errors
    )
