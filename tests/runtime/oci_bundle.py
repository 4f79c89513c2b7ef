"""OCI bundles for gVisor's ``runsc``: a read-only root of bind mounts, run and inspected.

The root file system is an empty directory (read-only) holding only the usrmerge links;
everything the sandboxed process needs is bind-mounted read-only from the host, and the
writable paths are the sandbox's own tmpfs mounts (memory of the sentry, not a host file).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RUNSC = "runsc"
USRMERGE_LINKS = {"bin": "usr/bin", "lib": "usr/lib", "lib64": "usr/lib64", "sbin": "usr/sbin"}


@dataclass(frozen=True)
class Bind:
    source: Path
    destination: str
    readonly: bool = True


@dataclass(frozen=True)
class BundleSpec:
    args: list[str]
    binds: list[Bind]
    tmpfs: dict[str, str]  # mount point -> size, e.g. {"/models": "64m"}
    env: dict[str, str] = field(default_factory=dict)
    # mount point -> host source of a tmpfs that a pod's mount hint shares (pod_mount_hint)
    shared_tmpfs: dict[str, Path] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    uid: int = 65532
    gid: int = 65532
    cwd: str = "/"


def _mount(bind: Bind) -> dict[str, Any]:
    options = ["rbind", "ro" if bind.readonly else "rw"]
    return {
        "destination": bind.destination,
        "type": "bind",
        "source": str(bind.source),
        "options": options,
    }


def config_for(spec: BundleSpec) -> dict[str, Any]:
    """The runtime spec (config.json): no network namespace to share, no capabilities."""
    mounts: list[dict[str, Any]] = [{"destination": "/proc", "type": "proc", "source": "proc"}]
    mounts += [_mount(bind) for bind in spec.binds]
    mounts += [
        {
            "destination": target,
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["nosuid", "nodev", "mode=1777", f"size={size}"],
        }
        for target, size in spec.tmpfs.items()
    ]
    mounts += [
        {"destination": target, "type": "tmpfs", "source": str(source), "options": ["rw"]}
        for target, source in spec.shared_tmpfs.items()
    ]
    return {
        "ociVersion": "1.0.2",
        "process": {
            "user": {"uid": spec.uid, "gid": spec.gid},
            "args": spec.args,
            "env": [f"{name}={value}" for name, value in spec.env.items()],
            "cwd": spec.cwd,
            "noNewPrivileges": True,
            "capabilities": {"bounding": [], "effective": [], "permitted": []},
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "model-server",
        "annotations": spec.annotations,
        "mounts": mounts,
        "linux": {"namespaces": [{"type": t} for t in ("pid", "ipc", "uts", "mount", "network")]},
    }


def pod_annotations(role: str, sandbox_id: str) -> dict[str, str]:
    """What containerd's CRI plugin sets: the pod's sandbox (pause) container, or a container
    of that pod (runsc then runs it inside the sandbox's sentry)."""
    return {"io.kubernetes.cri.container-type": role, "io.kubernetes.cri.sandbox-id": sandbox_id}


def pod_mount_hint(volume: str, source: Path, share: str = "pod") -> dict[str, str]:
    """gVisor's mount hint for a pod volume (on the sandbox container): runsc mounts one
    tmpfs of its own for it, shared by the pod's containers, instead of the host ``source``."""
    prefix = f"dev.gvisor.spec.mount.{volume}."
    return {
        prefix + "source": str(source),
        prefix + "type": "tmpfs",
        prefix + "share": share,
        prefix + "options": "rw",
    }


def write_bundle(directory: Path, spec: BundleSpec) -> Path:
    rootfs = directory / "rootfs"
    rootfs.mkdir(parents=True)
    for name, target in USRMERGE_LINKS.items():
        (rootfs / name).symlink_to(target)
    (directory / "config.json").write_text(json.dumps(config_for(spec), indent=2))
    return directory


@dataclass(frozen=True)
class Runsc:
    """One ``runsc`` state root (``--root``) and debug-log directory, ptrace platform."""

    root: Path
    log_dir: Path

    @staticmethod
    def available() -> str | None:
        return shutil.which(RUNSC)

    def _global(self) -> list[str]:
        return [
            RUNSC,
            "--root",
            str(self.root),
            "--platform=ptrace",
            "--network=none",
            "--debug",
            f"--debug-log={self.log_dir}/",
        ]

    def run(self, container_id: str, bundle: Path) -> subprocess.Popen[bytes]:
        """Start the container; its standard streams are this process's pipes."""
        return subprocess.Popen(
            [*self._global(), "run", "--bundle", str(bundle), container_id],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )

    def create(self, container_id: str, bundle: Path) -> None:
        subprocess.run(
            [*self._global(), "create", "--bundle", str(bundle), container_id],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
            check=True,
        )

    def start(self, container_id: str) -> subprocess.Popen[bytes]:
        """Start a created container. A container of a pod takes these pipes as its standard
        streams: they stay open after ``start`` returns, as long as the container runs."""
        return subprocess.Popen(
            [*self._global(), "start", container_id],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )

    def exec(
        self, container_id: str, *argv: str, user: str = "0:0"
    ) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [*self._global(), "exec", "--user", user, container_id, *argv],
            capture_output=True,
            timeout=30,
            check=False,
        )

    def state(self, container_id: str) -> dict[str, Any]:
        done = subprocess.run(
            [RUNSC, "--root", str(self.root), "state", container_id],
            capture_output=True,
            timeout=30,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"runsc state {container_id}: {done.stderr.decode().strip()}")
        state: dict[str, Any] = json.loads(done.stdout)
        return state

    def destroy(self, container_id: str) -> None:
        for command in (["kill", container_id, "KILL"], ["delete", "--force", container_id]):
            subprocess.run(
                [RUNSC, "--root", str(self.root), *command],
                capture_output=True,
                timeout=30,
                check=False,
            )
