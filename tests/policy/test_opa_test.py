"""`opa test` on the policy tree passes the same tests as `sealgate policy test`.

OPA reads data files by folder, not by name, so it is given the policy modules (tests
included) and one data document holding the policy data where the policies read it
(``data.config.<stem>``), exactly what the loader and the bundle give them.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from sealgate.policy._loader import load_policy_set

from tests.conftest import REPO, run_sealgate


def test_opa_test_passes_what_sealgate_policy_test_passes(opa_binary: str, tmp_path: Path) -> None:
    policy_set = load_policy_set([REPO / "policies"])
    data = tmp_path / "data.json"
    data.write_text(json.dumps(policy_set.data))
    modules = sorted({module.file for module in policy_set.modules})
    completed = subprocess.run(
        [opa_binary, "test", "--format=json", *modules, str(data)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=REPO,
    )
    results = json.loads(completed.stdout or "[]")
    failed = [r["name"] for r in results if r.get("fail") or r.get("error")]
    skipped = [r["name"] for r in results if r.get("skip")]
    passed = len(results) - len(failed) - len(skipped)
    assert completed.returncode == 0 and not failed, completed.stderr or failed

    run = run_sealgate("policy", "test", "policies/", cwd=REPO)
    assert run.code == 0, run.stdout + run.stderr
    counts = re.search(r"^tests: (\d+) passed, (\d+) failed;", run.stdout, re.MULTILINE)
    assert counts is not None, run.stdout
    assert (passed, len(failed)) == (int(counts[1]), int(counts[2]))
    assert not skipped, f"opa test skipped (todo_ rules): {skipped}"
