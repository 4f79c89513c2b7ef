"""The model server's entrypoint run for real inside gVisor (``runsc``, ptrace platform).

``sealgate unseal /sealed/model ... --into /models/current --exec SERVER`` runs in an OCI
bundle with no network, a read-only root, the interpreter, the virtual environment and the
package bind-mounted read-only, the sealed model read-only and ``/models`` a sandbox tmpfs.
A random 32-byte marker sits inside the model. While the sandboxed server holds the model
(it reports the SHA-256 of every unsealed file), every host file changed since the sandbox
started is searched for the marker: none may hold it. Two canaries written to the host in
the same window must be found, so the search is shown to reach them. (A file written and
deleted again before the search is not seen.)

What this does NOT show: that the model is safe from host root. One test reads it back from
the sentry's memory file (the memfd behind the sandbox's tmpfs) and through ``runsc exec``;
``/proc/<pid>/mem``, ``runsc checkpoint`` and strace-level debug logs are other ways. Only
a trusted execution environment keeps a model from the node's administrator.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sealgate.sealing import (
    SealOptions,
    generate_recipient_key,
    generate_signing_key,
    load_signing_private_key,
    parse_recipient,
    seal_model,
)

from tests.conftest import REPO
from tests.runtime import host_scan
from tests.runtime.oci_bundle import (
    Bind,
    BundleSpec,
    Runsc,
    pod_annotations,
    pod_mount_hint,
    write_bundle,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(Runsc.available() is None, reason="runsc (gVisor) is not installed"),
    pytest.mark.skipif(os.geteuid() != 0, reason="runsc needs root to create its sandbox"),
]

SERVER_UID = 65532
MARKER_FILE = "weights/model.safetensors"
STARTUP_SECONDS = 45.0


@dataclass
class Served:
    runsc: Runsc
    container_id: str
    report: dict[str, object]
    expected: dict[str, str]
    marker: bytes
    found: dict[bytes, list[Path]]
    canaries: list[bytes]
    changed: set[Path]
    mount_points: list[str]
    stderr: bytes


def _model(marker: bytes) -> dict[str, bytes]:
    return {
        "config.json": b'{"architecture": "demo"}\n',
        MARKER_FILE: secrets.token_bytes(4096) + marker + secrets.token_bytes(4096),
        "tokenizer/vocab.txt": b"alpha\nbeta\n",
    }


def _seal(workdir: Path, files: dict[str, bytes]) -> tuple[Path, Path, Path]:
    """Seal from a private tmpfs directory and remove the plaintext: the host keeps only
    ciphertext and keys before the sandbox starts."""
    generate_signing_key(workdir / "signer")
    identity = workdir / "identity"
    identity.mkdir()
    generate_recipient_key(identity / "recipient")
    plaintext = Path("/dev/shm") / f"sealgate-sandbox-{secrets.token_hex(6)}"
    plaintext.mkdir(mode=0o700)
    try:
        for relative, content in files.items():
            (plaintext / relative).parent.mkdir(parents=True, exist_ok=True)
            (plaintext / relative).write_bytes(content)
        seal_model(
            plaintext,
            workdir / "sealed",
            name="demo",
            version="1.0",
            signing_key=load_signing_private_key(workdir / "signer.key"),
            recipients=[parse_recipient(f"local:{identity / 'recipient.pub'}")],
            options=SealOptions(workers=1),
        )
    finally:
        shutil.rmtree(plaintext)
    os.chown(identity / "recipient.key", SERVER_UID, SERVER_UID)
    return workdir / "sealed", identity, workdir / "signer.pub"


def _spec(
    sealed: Path,
    identity: Path,
    signer: Path,
    host_models: Path | None = None,
    pod: str | None = None,
) -> BundleSpec:
    """``/models`` is the sandbox's own tmpfs, or ``host_models`` bind-mounted read-write, or,
    in the pod ``pod``, the pod's shared tmpfs for the volume whose node path is
    ``host_models`` (as gVisor's containerd shim rewrites an annotated volume's mount)."""
    python = f"{sys.prefix}/bin/python"
    # The image's entrypoint and CMD (images/model-server/Dockerfile), with a local key.
    entrypoint = [
        python, "-m", "sealgate", "unseal", "/sealed/model",
        "--identity", "local:/run/sealgate/identity/recipient.key",
        "--trust", "/run/sealgate/trust/signer.pub",
        "--into", "/models/current",
        "--exec", python, "/opt/model-server/sandboxed_server.py", "--model-dir", "/models/current",
    ]  # fmt: skip
    # The interpreter the virtual environment points at, unless /usr already holds it.
    base = Path(sys.base_prefix)
    interpreter = [] if Path("/usr") in (base, *base.parents) else [Bind(base, str(base))]
    return BundleSpec(
        args=entrypoint,
        binds=[
            Bind(Path("/usr"), "/usr"),
            *interpreter,
            Bind(Path(sys.prefix), sys.prefix),
            Bind(REPO / "pipeline", "/src/pipeline"),
            Bind(REPO / "policies", "/src/policies"),
            Bind(
                Path(__file__).with_name("sandboxed_server.py"),
                "/opt/model-server/sandboxed_server.py",
            ),
            Bind(sealed, "/sealed/model"),
            Bind(identity, "/run/sealgate/identity"),
            Bind(signer, "/run/sealgate/trust/signer.pub"),
            *([Bind(host_models, "/models", readonly=False)] if host_models and not pod else []),
        ],
        tmpfs={"/tmp": "16m"} if host_models else {"/models": "64m", "/tmp": "16m"},
        shared_tmpfs={"/models": host_models} if host_models and pod else {},
        annotations=pod_annotations("container", pod) if pod else {},
        env={
            "PATH": f"{sys.prefix}/bin:/usr/bin:/bin",
            "PYTHONPATH": "/src/pipeline",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
            "HOME": "/tmp",
        },
        uid=SERVER_UID,
        gid=SERVER_UID,
    )


def _read_report(
    process: subprocess.Popen[bytes], deadline: float, *, runs_attached: bool = True
) -> tuple[dict[str, object], bytes]:
    """The server's report line, and what the container wrote to standard error so far.
    ``runs_attached``: the process lives as long as the container (``run``, not ``create``)."""
    assert process.stdout is not None and process.stderr is not None
    for stream in (process.stdout, process.stderr):
        os.set_blocking(stream.fileno(), False)
    buffered, stderr = b"", b""
    while time.monotonic() < deadline:
        stderr += process.stderr.read() or b""
        chunk = process.stdout.read()
        if chunk:
            buffered += chunk
            if b"\n" in buffered:
                report: dict[str, object] = json.loads(buffered.split(b"\n", 1)[0])
                return report, stderr
        elif runs_attached and process.poll() is not None:
            break
        time.sleep(0.1)
    pytest.fail(f"the sandboxed server did not report (exit {process.poll()}): {stderr!r}")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    workdir = tmp_path_factory.mktemp("sandbox")
    marker = secrets.token_bytes(32)
    files = _model(marker)
    expected = {name: hashlib.sha256(content).hexdigest() for name, content in files.items()}
    sealed, identity, signer = _seal(workdir, files)
    del files

    stamp = workdir / "stamp"
    stamp.touch()
    time.sleep(0.05)  # past the file system's timestamp granularity
    runsc = Runsc(root=workdir / "runsc-root", log_dir=workdir / "runsc-log")
    runsc.root.mkdir()
    runsc.log_dir.mkdir()
    bundle = write_bundle(workdir / "bundle", _spec(sealed, identity, signer))
    container_id = f"sealgate-sandbox-{secrets.token_hex(4)}"
    process = runsc.run(container_id, bundle)
    shm_canary = Path("/dev/shm") / f"sealgate-canary-{secrets.token_hex(6)}"
    try:
        report, stderr = _read_report(process, time.monotonic() + STARTUP_SECONDS)
        # Canaries written in the same window, on two host file systems, must be found.
        canaries = [secrets.token_bytes(32), secrets.token_bytes(32)]
        (workdir / "canary").write_bytes(b"x" * 100 + canaries[0])
        shm_canary.write_bytes(canaries[1])
        mount_points = host_scan.storage_mount_points()
        changed = host_scan.changed_since(stamp, mount_points)
        found = host_scan.holders(changed, [marker, marker.hex().encode(), *canaries])
        yield Served(
            runsc, container_id, report, expected, marker, found, canaries, changed,
            mount_points, stderr,
        )  # fmt: skip
    finally:
        runsc.destroy(container_id)
        process.wait(timeout=30)
        shm_canary.unlink(missing_ok=True)


def test_the_sandboxed_server_holds_the_unsealed_model_on_a_sandbox_tmpfs(served: Served) -> None:
    # unseal ran without --allow-disk: its fstatfs check accepted /models inside gVisor.
    assert served.report["fs_type"] == "tmpfs"
    assert served.report["files"] == served.expected
    assert served.report["uid"] == SERVER_UID
    assert b"unsealed demo 1.0: 3 files" in served.stderr
    assert b"-> /models/current" in served.stderr


def test_no_host_file_holds_the_plaintext_marker_while_the_server_holds_it(
    served: Served,
) -> None:
    assert all(served.found[canary] for canary in served.canaries), served.found
    assert {"/", "/dev/shm"} <= set(served.mount_points)
    # The runtime's own files were among those searched: its state and debug logs.
    assert any(served.runsc.log_dir in path.parents for path in served.changed)
    assert any(served.runsc.root in path.parents for path in served.changed)
    assert served.found[served.marker] == []
    assert served.found[served.marker.hex().encode()] == []


def test_host_root_still_reads_the_model_through_the_runtime(served: Served) -> None:
    """The boundary, documented: gVisor protects the node from the workload, not the reverse."""
    state = served.runsc.state(served.container_id)
    assert state["status"] == "running"
    # Unlike runc, the sandbox's root is not the container's file system...
    assert not Path(f"/proc/{state['pid']}/root/models/current").exists()
    # ...but the sandbox's tmpfs is the sentry's memory, a memfd host root reads...
    assert host_scan.sentry_memory_holds(state["pid"], served.marker)
    # ...and the runtime hands host root a process inside it, as any user it names.
    read = served.runsc.exec(
        served.container_id,
        "/usr/bin/cat",
        f"/models/current/{MARKER_FILE}",
        user=f"{SERVER_UID}:{SERVER_UID}",
    )
    assert read.returncode == 0, read.stderr
    assert served.marker in read.stdout


def test_a_host_tmpfs_bind_mounted_into_gvisor_is_refused_by_unseal(
    tmp_path: Path,
) -> None:
    """A memory emptyDir without gVisor's mount annotations is the node's tmpfs, bind-mounted
    through the gofer: the sandbox sees a 9p file system (not tmpfs), and the plaintext would
    live in the node's memory where host root lists it. unseal fails closed."""
    host_models = Path("/dev/shm") / f"sealgate-emptydir-{secrets.token_hex(6)}"
    host_models.mkdir(mode=0o777)
    host_models.chmod(0o777)
    try:
        sealed, identity, signer = _seal(tmp_path, _model(secrets.token_bytes(32)))
        runsc = Runsc(root=tmp_path / "runsc-root", log_dir=tmp_path / "runsc-log")
        runsc.root.mkdir()
        runsc.log_dir.mkdir()
        bundle = write_bundle(tmp_path / "bundle", _spec(sealed, identity, signer, host_models))
        container_id = f"sealgate-emptydir-{secrets.token_hex(4)}"
        process = runsc.run(container_id, bundle)
        try:
            stdout, stderr = process.communicate(timeout=STARTUP_SECONDS)
        finally:
            runsc.destroy(container_id)
        assert process.returncode == 2, stderr
        assert b"not memory-backed" in stderr
        assert b"0x1021997" in stderr  # V9FS_MAGIC: gVisor's gofer, not tmpfs
        assert stdout == b""
        assert list(host_models.iterdir()) == []
    finally:
        shutil.rmtree(host_models)


def test_in_a_pod_the_annotated_memory_volume_is_the_sandbox_tmpfs_not_the_node_tmpfs(
    tmp_path: Path,
) -> None:
    """The pod path: a sandbox (pause) container carries gVisor's mount hint for the
    `models` volume, and the model server is a container of that pod whose mount of the
    volume is a tmpfs (what gVisor's containerd shim makes of it). The server unseals into
    the pod's sentry tmpfs; the node's directory for the volume stays empty."""
    node_volume = Path("/dev/shm") / f"sealgate-pod-volume-{secrets.token_hex(6)}"
    node_volume.mkdir(mode=0o777)
    node_volume.chmod(0o777)
    runsc = Runsc(root=tmp_path / "runsc-root", log_dir=tmp_path / "runsc-log")
    runsc.root.mkdir()
    runsc.log_dir.mkdir()
    pod_id = f"sealgate-pod-{secrets.token_hex(4)}"
    server_id = f"sealgate-server-{secrets.token_hex(4)}"  # no id may prefix another
    processes: list[subprocess.Popen[bytes]] = []
    try:
        marker = secrets.token_bytes(32)
        files = _model(marker)
        expected = {name: hashlib.sha256(content).hexdigest() for name, content in files.items()}
        sealed, identity, signer = _seal(tmp_path, files)
        pause = BundleSpec(
            args=["/usr/bin/sleep", "120"],
            binds=[Bind(Path("/usr"), "/usr")],
            tmpfs={},
            annotations={
                **pod_annotations("sandbox", pod_id),
                **pod_mount_hint("models", node_volume),
            },
        )
        runsc.create(pod_id, write_bundle(tmp_path / "pause", pause))
        processes.append(runsc.start(pod_id))
        server = _spec(sealed, identity, signer, host_models=node_volume, pod=pod_id)
        runsc.create(server_id, write_bundle(tmp_path / "server", server))
        processes.append(runsc.start(server_id))
        report, stderr = _read_report(
            processes[-1], time.monotonic() + STARTUP_SECONDS, runs_attached=False
        )
        assert report["fs_type"] == "tmpfs"
        assert report["files"] == expected
        assert b"unsealed demo 1.0: 3 files" in stderr
        assert list(node_volume.iterdir()) == []
        state = runsc.state(pod_id)
        assert host_scan.sentry_memory_holds(state["pid"], marker)
    finally:
        runsc.destroy(server_id)
        runsc.destroy(pod_id)
        for process in processes:
            process.wait(timeout=30)
            for stream in (process.stdout, process.stderr):
                if stream is not None:
                    stream.close()
        shutil.rmtree(node_volume)
