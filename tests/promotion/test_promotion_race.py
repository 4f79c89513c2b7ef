"""Two promotions of the same model racing: exactly one wins, the loser gets a conflict, and
the audit trail records both; on the filesystem and on Azurite, in threads and processes."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import threading

from sealgate.promotion import ConflictError
from sealgate.promotion._audit import Decision, append_record, record_hash
from sealgate.promotion._audit_verify import verify_audit
from sealgate.promotion._identity import ensure_registry_id
from sealgate.promotion._service import open_gate, push
from sealgate.sealing._signing_keys import load_signing_private_key

from tests.promotion.conftest import (
    MODEL_NAME,
    RegistryTarget,
    Workspace,
    gate_options,
)


def _gate_key(workspace: Workspace):  # type: ignore[no-untyped-def]
    return load_signing_private_key(workspace.path("gate.pub").with_suffix(".key")).public_key()


def test_promotion_race_in_threads_has_one_winner(
    workspace: Workspace, registry_target: RegistryTarget
) -> None:
    first = open_gate(gate_options(workspace, registry_target.url))
    assert push(first, workspace.sealed("1.0.0"), "alice").allowed
    barrier = threading.Barrier(2, timeout=30)
    outcomes: list[str | None] = [None, None]

    def run(index: int) -> None:
        # The embedded engine belongs to the thread that compiled it: one gate per thread.
        context = open_gate(gate_options(workspace, registry_target.url))
        try:
            # Both decide against the same dev pointer, then both try to commit at once.
            result = push(context, workspace.sealed("1.1.0"), "alice", before_commit=barrier.wait)
            outcomes[index] = "allow" if result.allowed else "deny"
        except ConflictError as exc:
            # Keep only the message: a traceback's frames would keep this thread's engine alive.
            outcomes[index] = f"conflict: {exc}"
        finally:
            del context
            gc.collect()

    # Each thread's engine must be freed by that thread: collect everything else first and
    # keep the collector from running on a thread that does not own the garbage.
    gc.collect()
    gc.disable()
    try:
        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        gc.enable()
    winners = [o for o in outcomes if o == "allow"]
    losers = [o for o in outcomes if str(o).startswith("conflict: ")]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    assert "changed" in str(losers[0])
    registry = registry_target.open()
    assert registry.current("dev", MODEL_NAME).version == "1.1.0"  # type: ignore[union-attr]
    report = verify_audit(registry, _gate_key(workspace))
    assert report.ok, report.problem
    assert (report.allow, report.conflict) in {(2, 1), (3, 1)}  # push 1.0.0, the winner (+ loser)


def test_promotion_race_between_processes_has_one_winner(
    workspace: Workspace, registry_target: RegistryTarget
) -> None:
    assert push(
        open_gate(gate_options(workspace, registry_target.url)), workspace.sealed("1.0.0"), "alice"
    ).allowed
    command = [
        sys.executable, "-m", "sealgate", "push", "sealed-1.1.0", "--trust", "release.pub",
        "--registry", registry_target.url, "--gate-key", "gate.key",
        "--requester", "alice", "--json",
    ]  # fmt: skip
    import os

    env = {**os.environ, **registry_target.env}
    processes = [
        subprocess.Popen(
            command, cwd=workspace.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    results = [(p.wait(timeout=120), *p.communicate()) for p in processes]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 1], results
    loser_out, loser_err = next((o, e) for code, o, e in results if code == 1)
    # The loser either lost the compare-and-swap (conflict) or decided after the winner
    # committed, in which case 1.1.0 is no longer newer than dev (rollback rule).
    assert b"conflict" in loser_err or b"SG-PROMO-009" in loser_out, (loser_out, loser_err)
    registry = registry_target.open()
    assert registry.current("dev", MODEL_NAME).version == "1.1.0"  # type: ignore[union-attr]
    report = verify_audit(registry, _gate_key(workspace))
    assert report.ok, report.problem
    assert report.records >= 3  # push 1.0.0, the winner, and the loser's record(s)
    assert report.conflict + report.deny >= 1


def test_audit_appends_racing_in_threads_keep_one_chain(
    workspace: Workspace, registry_target: RegistryTarget
) -> None:
    key = load_signing_private_key(workspace.path("gate.key"))
    registry = registry_target.open()
    ensure_registry_id(registry, key)  # the gate makes the identity at first use
    request = {"name": MODEL_NAME, "version": "1.0.0", "digest": "sha256:" + "0" * 64}
    hashes: list[str] = []
    lock = threading.Lock()

    def run(index: int) -> None:
        own = registry_target.open()  # one client per thread, as separate gates would have
        for round_ in range(3):
            decision = Decision(f"actor-{index}", "promote", "deny", request, "sha256:x", "sha256:y",
                                (f"round {round_}",))  # fmt: skip
            record = append_record(own, decision, key)
            with lock:
                hashes.append(record)

    gc.collect()  # policy engines left by earlier tests must not be freed on these threads
    gc.disable()
    try:
        threads = [threading.Thread(target=run, args=(i,)) for i in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        gc.enable()
    lines = registry.read_audit().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == list(range(18))
    assert sorted(hashes) == sorted(record_hash(line) for line in lines)
    report = verify_audit(registry, key.public_key())
    assert report.ok, report.problem
    assert report.deny == 18


def test_moves_into_one_stage_racing_in_threads_get_distinct_increasing_counters(
    workspace: Workspace, registry_target: RegistryTarget
) -> None:
    key = load_signing_private_key(workspace.path("gate.key"))
    registry = registry_target.open()
    ensure_registry_id(registry, key)

    def run(index: int) -> None:
        own = registry_target.open()
        for round_ in range(3):
            request = {"name": f"model-{index}", "version": f"1.0.{round_}", "to": "dev",
                       "digest": "sha256:" + "0" * 64}  # fmt: skip
            decision = Decision("gate", "push", "allow", request, "sha256:x", "sha256:y", (),
                                counter_stage="dev")  # fmt: skip
            append_record(own, decision, key)

    gc.collect()
    gc.disable()
    try:
        threads = [threading.Thread(target=run, args=(i,)) for i in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        gc.enable()
    counters = [json.loads(line)["counter"] for line in registry.read_audit().splitlines()]
    assert counters == list(range(1, 19))  # one more than the stage's highest, in log order
    report = verify_audit(registry, key.public_key(), check_pointers=False)
    assert report.ok, report.problem
