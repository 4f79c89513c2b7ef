"""A ``ReleaseService`` from ``keyserver.yaml``: every file read and every key loaded at
startup, so a bad configuration stops the service before it answers anyone."""

from __future__ import annotations

import concurrent.futures
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sealgate.errors import InputError
from sealgate.keyserver._config import KeyserverConfig
from sealgate.keyserver._devices import load_device_attestation
from sealgate.keyserver._pointers import HighWaterMarks
from sealgate.keyserver._release import ReleaseService
from sealgate.keyserver._state import StateStore
from sealgate.keyserver._stores import open_state_store
from sealgate.keyserver._tokens import TokenVerifier
from sealgate.runtime._authorization import Decision, UnsealData, UnsealPolicy
from sealgate.sealing.recipients import Identity


class SerialPolicy:
    """The unseal policy, decided on one thread per process: the embedded engine (a Rust
    object) may be used only on the thread that built it, from its own policy set.

    ``load`` builds an ``UnsealPolicy`` from the policy files; it runs once at startup (so a
    policy that does not load stops the service) and once on each process's decision thread
    (gunicorn forks workers after startup; threads do not survive a fork).
    """

    def __init__(self, load: Callable[[], UnsealPolicy]) -> None:
        self._load = load
        self._pid = -1
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._local = threading.local()
        # Loaded on the decision thread now, so a policy that does not load stops startup;
        # only its data (stages, PCRs: plain Python) is used on other threads.
        self._data = self._decision_thread().submit(self._data_here).result()

    def _data_here(self) -> UnsealData:
        return UnsealData(self._policy_here().config)

    def _policy_here(self) -> UnsealPolicy:
        policy: UnsealPolicy | None = getattr(self._local, "policy", None)
        if policy is None:
            policy = self._local.policy = self._load()
        return policy

    def _decision_thread(self) -> concurrent.futures.ThreadPoolExecutor:
        with self._lock:
            if self._executor is None or self._pid != os.getpid():
                self._executor = concurrent.futures.ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix="unseal-policy"
                )
                self._pid = os.getpid()
            return self._executor

    def stage_for(self, environment: str) -> str | None:
        return self._data.stage_for(environment)

    def attested_pcrs(self) -> list[int]:
        return self._data.attested_pcrs()

    def pcr_bank(self) -> str:
        return self._data.pcr_bank()

    def decide(self, document: dict[str, Any]) -> Decision:
        work = self._decision_thread().submit(lambda: self._policy_here().decide(document))
        return work.result()

    def close(self) -> None:
        """Drop the engine on its own thread (dropping it elsewhere is an error), then stop."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None and self._pid == os.getpid():
            executor.submit(lambda: self._local.__dict__.clear()).result()
            executor.shutdown()


def kek_identity(spec: str, keyvault_access: Any = None) -> Identity:
    kind, _, value = spec.partition(":")
    if kind == "keyvault":
        from sealgate.sealing.recipients._keyvault import KeyVaultIdentity

        return KeyVaultIdentity(value, keyvault_access)
    if kind == "local":
        from sealgate.sealing.recipients._local import LocalIdentity

        return LocalIdentity(Path(value))
    raise InputError(f"KEK {spec!r}: expected keyvault:URL or local:PATH")


def _keyvault_access(config: KeyserverConfig) -> Any:
    """How the service reaches Key Vault: its own identity (DefaultAzureCredential), short
    timeouts (a request must finish well inside the worker timeout), an optional private CA."""
    from sealgate.sealing.recipients._keyvault import KeyVaultAccess

    unknown = set(config.keyvault) - {"ca_bundle"}
    if unknown:
        raise InputError(f"{config.source}: keyvault may set ca_bundle only")
    options: dict[str, Any] = {"connection_timeout": 5, "read_timeout": 10, "retry_total": 2}
    if "ca_bundle" in config.keyvault:
        options["connection_verify"] = str(config.source.parent / str(config.keyvault["ca_bundle"]))
    return KeyVaultAccess(client_options=options)


def _tee_verifier(config: KeyserverConfig) -> Callable[[str], dict[str, Any]] | None:
    """Attestation tokens verified against the configured providers; None without any."""
    if not config.attestation_providers:
        return None
    import ssl
    import time

    from sealgate.keyserver._tee import AttestationProviders, verify_attestation_token

    for entry in config.attestation_providers:
        unknown = set(entry) - {"issuer", "ca_bundle"}
        if unknown:
            raise InputError(
                f"{config.source}: attestation_providers entries take issuer and ca_bundle only"
            )
    context = ssl.create_default_context()
    for entry in config.attestation_providers:
        if "ca_bundle" in entry:
            # A private provider (tests, a sovereign cloud): its CA in addition to the system's.
            context.load_verify_locations(
                cafile=str(config.source.parent / str(entry["ca_bundle"]))
            )
    providers = AttestationProviders.from_config(config.attestation_providers, ssl_context=context)
    return lambda token: verify_attestation_token(token, providers, now=time.time())


def build_service(
    config: KeyserverConfig,
    *,
    keyvault_access: Any = None,
    state: StateStore | None = None,
    devices: Any = None,
) -> ReleaseService:
    from sealgate.policy import builtin_policy_root
    from sealgate.policy._engine import create_engine
    from sealgate.policy._loader import load_policy_set
    from sealgate.policy._opa_limits import OpaLimits
    from sealgate.promotion import open_registry
    from sealgate.sealing import load_signing_private_key, load_trust
    from sealgate.sealing._signing_keys import parse_signing_public_key

    if not config.gate_keys:
        # Without one, no stage pointer verifies and no record can name the registry.
        raise InputError(f"{config.source}: gate_keys: at least one gate public key is required")

    def load_policy() -> UnsealPolicy:
        policy_set = load_policy_set([builtin_policy_root(), *config.policies])
        return UnsealPolicy(
            policy_set,
            # A service runs for weeks: each decision has its timeout, the run no deadline.
            create_engine(
                config.engine,
                policy_set,
                opa_url=config.opa_url,
                opa_limits=OpaLimits(run_deadline=None),
            ),
        )

    policy = SerialPolicy(load_policy)
    access = keyvault_access or _keyvault_access(config)
    keks = {env: kek_identity(spec, access) for env, spec in config.environments.items()}
    store = state or open_state_store(config.state or config.registry)
    gate_keys = [parse_signing_public_key(p.read_bytes(), str(p)) for p in config.gate_keys]
    return ReleaseService(
        service_id=config.service_id,
        trust=load_trust(config.trust),
        policy=policy,
        registry=open_registry(config.registry),
        keks=keks,
        signing_key=load_signing_private_key(config.signing_key),
        gate_keys=gate_keys,
        marks=HighWaterMarks(store),
        tokens=TokenVerifier(
            config.issuers,
            leeway=config.limits.token_leeway_seconds,
            cache_seconds=config.limits.jwks_cache_seconds,
        ),
        devices=devices
        if devices is not None
        else load_device_attestation(store, config.enrolment, config.source.parent),
        tee=_tee_verifier(config),
    )
