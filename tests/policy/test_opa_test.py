"""`opa test` on the policy tree passes the same tests as `sealgate policy test`.

OPA loads every JSON and YAML file under a folder as data at that folder's path, so the samples
(documents that would collide) and the YAML policy data (which it would put at ``data.data``) are
ignored, and the policy data is given as one document where the policies read it
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
    completed = subprocess.run(
        [
            opa_binary,
            "test",
            "--format=json",
            "policies/",
            "--ignore=samples",
            "--ignore=*.yaml",
            "--ignore=*.yml",
            str(data),
        ],
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
    assert {r["location"]["file"].split("/", 1)[0] for r in results} == {"policies"}

    run = run_sealgate("policy", "test", "policies/", cwd=REPO)
    assert run.code == 0, run.stdout + run.stderr
    counts = re.search(r"^tests: (\d+) passed, (\d+) failed;", run.stdout, re.MULTILINE)
    assert counts is not None, run.stdout
    assert (passed, len(failed)) == (int(counts[1]), int(counts[2]))
    assert not skipped, f"opa test skipped (todo_ rules): {skipped}"
