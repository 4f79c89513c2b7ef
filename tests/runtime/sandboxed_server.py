"""The "model server" the sandbox test execs after ``sealgate unseal --into DIR --exec``.

It proves it holds the model without printing it: one JSON line with the file system type
of the model directory (fstatfs, as unseal's own check) and the SHA-256 of every file, then
it keeps the model in use until the sandbox is killed (at most ``--linger`` seconds).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

from sealgate.runtime._mounts import filesystem_type


def report(model_dir: Path) -> dict[str, object]:
    fd = os.open(model_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fs_type = filesystem_type(fd)
    finally:
        os.close(fd)
    digests = {
        str(path.relative_to(model_dir)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(model_dir.rglob("*"))
        if path.is_file()
    }
    return {"fs_type": fs_type, "files": digests, "pid": os.getpid(), "uid": os.getuid()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--linger", type=float, default=60.0)
    args = parser.parse_args()
    sys.stdout.write(json.dumps(report(args.model_dir)) + "\n")
    sys.stdout.flush()
    time.sleep(args.linger)


if __name__ == "__main__":
    main()
