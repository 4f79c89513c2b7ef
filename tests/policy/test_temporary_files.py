"""Regression: temporary files are created, never opened through what an attacker planted.

The attack: a symlink at the temporary name ``.OUT.partial`` (``policy bundle``) or
``.REPORT.tmp-PID`` (reports) pointing at a file the runner may write; the write followed it
and overwrote the victim. Temporary names are now random and opened ``O_EXCL | O_NOFOLLOW``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import REPO, run_sealgate


def test_policy_bundle_does_not_follow_a_symlink_planted_at_its_temporary_name(
    tmp_path: Path,
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    out = tmp_path / "bundle.tar.gz"
    (tmp_path / f".{out.name}.partial").symlink_to(victim)

    (tmp_path / "k").mkdir()
    keys = run_sealgate(
        "keys", "generate", "signing", "--out", str(tmp_path / "k" / "gate"), cwd=REPO
    )
    assert keys.code == 0, keys.stderr
    key = str(tmp_path / "k" / "gate.key")
    run = run_sealgate("policy", "bundle", "--out", str(out), "--sign-key", key, cwd=REPO)

    assert run.code == 0, run.stderr
    assert victim.read_text() == "precious\n"
    assert out.is_file() and not out.is_symlink() and out.stat().st_size > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [".bundle.tar.gz.partial", "bundle.tar.gz", "k", "victim.txt"]
    )


def test_a_report_does_not_follow_a_symlink_planted_at_its_temporary_name(tmp_path: Path) -> None:
    from sealgate.cli._output import write_atomically

    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    report = tmp_path / "report.sarif"
    (tmp_path / f".{report.name}.tmp-{os.getpid()}").symlink_to(victim)

    write_atomically(report, "{}\n")

    assert victim.read_text() == "precious\n"
    assert report.read_text() == "{}\n"


def test_replace_file_refuses_a_planted_name_and_leaves_it(tmp_path: Path) -> None:
    from sealgate import _files

    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    planted = tmp_path / ".out.tmp-fixed"
    planted.symlink_to(victim)
    with pytest.raises(FileExistsError):
        _files.create_exclusive(planted)
    target = tmp_path / "out"
    _files.replace_file(target, b"new")
    assert target.read_bytes() == b"new"
    assert planted.is_symlink() and victim.read_text() == "precious\n"
