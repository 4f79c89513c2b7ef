"""A gate run spread over worker processes decides exactly like a serial one."""

from __future__ import annotations

import shutil
from pathlib import Path

from sealgate.inputs._discovery import discover, load_inputs
from sealgate.inputs._kinds import ParseContext
from sealgate.inputs._model import InputProblem
from sealgate.policy._engine import create_engine
from sealgate.policy._gate import EvaluatedChunk, run_gate
from sealgate.policy._loader import load_policy_set
from sealgate.policy._parallel import gate_items, interleaved_chunks

from tests.conftest import REPO


def test_parallel_gate_matches_serial(tmp_path: Path) -> None:
    samples = sorted((REPO / "policies" / "sealgate" / "containers").glob("*/samples/*/*"))
    assert len(samples) > 20
    for copy in range(4):
        for sample in samples:
            target = (
                tmp_path / f"copy{copy}" / sample.parent.parent.parent.name / sample.parent.name
            )
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy(sample, target / sample.name)
    (tmp_path / "broken.yaml").write_text("apiVersion: v1\nkind: Pod\nspec: [\n")
    policy_set = load_policy_set([REPO / "policies"])
    candidates = discover([tmp_path]).candidates
    context = ParseContext()

    def gate(workers: int) -> tuple[list, int, int, list, list]:
        items = list(gate_items(policy_set, candidates, context, workers=workers))
        result = run_gate(policy_set, create_engine("embedded", policy_set), iter(items))
        chunks = [i for i in items if isinstance(i, EvaluatedChunk)]
        findings = [(f.rule_id, f.file, f.line, f.message) for f in result.findings]
        return findings, result.inputs_evaluated, result.input_errors, result.checks, chunks

    serial, parallel = gate(1), gate(2)
    assert serial[4] == [] and len(parallel[4]) >= 2  # the second run really used workers
    # Same findings and checks in the same order: the workers' results are put back in the
    # order of the files (JUnit lists the checks in that order).
    assert serial[:4] == parallel[:4]
    # broken.yaml, and the objects that samples show to be unreadable (a null List item).
    unreadable = sum(
        isinstance(item, InputProblem)
        for item in load_inputs(discover([tmp_path / "copy0"]).candidates, context)
    )
    assert serial[2] == 1 + 4 * unreadable and len(serial[0]) > 100


def test_interleaved_chunks_deal_every_file_once_and_spread_a_costly_folder() -> None:
    chunks = interleaved_chunks(100, 16)
    assert sorted(i for chunk in chunks for i in chunk) == list(range(100))
    assert len(chunks) == 16
    # Files 40-59, side by side in one folder, land in every chunk, one or two in each.
    assert all(1 <= sum(40 <= i < 60 for i in chunk) <= 2 for chunk in chunks)
    assert interleaved_chunks(3, 16) == [[0], [1], [2]]
    assert interleaved_chunks(0, 16) == []
