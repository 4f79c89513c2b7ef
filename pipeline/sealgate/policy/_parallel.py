"""Spread a gate run over the cores: parse and evaluate chunks of files in forked workers.

Each worker inherits the compiled policies (fork, no recompilation) and returns, file by file,
the findings and checks of its chunk; the parent puts them back in the order of the files and
applies waivers to everything at the end, as in a serial run. Files differ in cost by two
orders of magnitude (a long Dockerfile against a Service) and the costly ones sit side by side
(one folder of images), so the files are dealt into chunks like cards and the chunks handed
out as workers free up: the cores finish together.
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
# Chunks per worker: enough for the workers to finish together, few enough to keep the
# pickling of one task per chunk negligible.
CHUNKS_PER_WORKER = 8

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
    chunks = interleaved_chunks(len(spread), workers * CHUNKS_PER_WORKER)
    _state.update(policy_set=policy_set, context=context)
    try:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            results = pool.map(_evaluate_chunk, [[spread[i] for i in chunk] for chunk in chunks])
            yield from load_inputs(serial, context)
            by_file: list[EvaluatedChunk | None] = [None] * len(spread)
            for chunk, evaluated in zip(chunks, results, strict=True):
                for index, one in zip(chunk, evaluated, strict=True):
                    by_file[index] = one
            yield from (one for one in by_file if one is not None)
    finally:
        _state.clear()


def interleaved_chunks(count: int, chunks: int) -> list[list[int]]:
    """Indexes ``0..count-1`` dealt into ``chunks`` chunks like cards: chunk ``k`` holds
    ``k, k + chunks, k + 2 * chunks, ...``, so the costly files of one folder (a folder of
    long Dockerfiles) are spread over every chunk instead of filling one."""
    return [list(range(k, count, chunks)) for k in range(min(chunks, count))]


def _evaluate_chunk(chunk: list[Candidate]) -> list[EvaluatedChunk]:
    """Each file of the chunk evaluated on its own: its findings, checks and counts."""
    policy_set: PolicySet = _state["policy_set"]
    if "engine" not in _state:
        _state["engine"] = EmbeddedDecisions(policy_set.engine())
    evaluated = []
    for candidate in chunk:
        result: GateResult = run_gate(
            policy_set, _state["engine"], load_inputs([candidate], _state["context"])
        )
        evaluated.append(
            EvaluatedChunk(
                result.findings, result.checks, result.inputs_evaluated, result.input_errors
            )
        )
    return evaluated
