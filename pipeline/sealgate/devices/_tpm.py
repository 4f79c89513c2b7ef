"""The device's TPM through ``tpm2-pytss``: enrolment keys, ECDH inside the TPM, and quotes.

Keys live under the storage primary key (an ECC P-256 SRK re-derived from the owner seed on
every open, so nothing needs a persistent handle). The device key is an ECC P-256 decrypt
key (fixedTPM | fixedParent, sensitive data made inside the TPM): its private part leaves the
TPM only encrypted by the SRK, so the saved blob loads in this TPM and nowhere else. The
attestation key (AK) is a restricted ECDSA P-256 signing key that can only sign structures
the TPM made itself, such as quotes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sealgate.devices._tcti import check_tcti
from sealgate.errors import InputError, VerificationError

PCR_BANK = "sha256"
_EK_CERT_INDEX = 0x01C00002  # the RSA 2048 EK certificate (TCG EK credential profile)


def tpm_module() -> Any:
    # tpm2-tss logs every TPM error code to stderr, expected ones too (probing NV indexes);
    # the errors that matter become one-line sealgate errors instead.
    os.environ.setdefault("TSS2_LOG", "all+NONE")
    try:
        import tpm2_pytss
        import tpm2_pytss.utils
    except ImportError as exc:  # the optional `tpm` extra
        raise InputError(
            f"TPM support needs tpm2-pytss (pip install 'sealgate[tpm]'): {exc}"
        ) from None
    return tpm2_pytss


@dataclass(frozen=True)
class KeyBlob:
    """A key created in the TPM: its public area and its SRK-encrypted private area."""

    public: bytes
    private: bytes


@dataclass(frozen=True)
class DeviceKeys:
    device_key: KeyBlob
    attestation_key: KeyBlob
    pcr_policy: tuple[int, ...]  # PCRs the device key's use is bound to; empty for none


@dataclass(frozen=True)
class Quote:
    attest: bytes  # the TPMS_ATTEST structure the TPM signed
    signature_r: bytes
    signature_s: bytes
    pcr_values: dict[int, bytes]  # read right after the quote, checked against its digest


def _pcr_selection(pcrs: Sequence[int]) -> Any:
    t = tpm_module()
    return t.types.TPML_PCR_SELECTION.parse(f"{PCR_BANK}:{','.join(str(p) for p in pcrs)}")


class TpmDevice:
    """An open connection to one TPM, given as a TCTI string (tpm2-tss syntax)."""

    def __init__(self, esapi: Any, tcti: str) -> None:
        self._esapi = esapi
        self.tcti = tcti
        self._srk: Any = None

    def close(self) -> None:
        # Without a resource manager (swtpm, /dev/tpm0) transient objects outlive the
        # connection, so flush what this connection loaded.
        try:
            if self._srk is not None:
                self._esapi.flush_context(self._srk)
        finally:
            self._esapi.close()

    # ---------------------------------------------------------------- keys

    def _storage_key(self) -> Any:
        if self._srk is None:
            t = tpm_module()
            template = t.types.TPM2B_PUBLIC.parse(
                "ecc256:aes128cfb",
                objectAttributes=t.constants.TPMA_OBJECT.DEFAULT_TPM2_TOOLS_CREATEPRIMARY_ATTRS,
            )
            self._srk = self._esapi.create_primary(
                t.types.TPM2B_SENSITIVE_CREATE(), template, t.constants.ESYS_TR.OWNER
            )[0]
        return self._srk

    def _pcr_policy_digest(self, pcrs: Sequence[int]) -> bytes:
        t = tpm_module()
        session = self._start_policy_session(t.constants.TPM2_SE.TRIAL)
        try:
            self._esapi.policy_pcr(session, t.types.TPM2B_DIGEST(), _pcr_selection(pcrs))
            return bytes(self._esapi.policy_get_digest(session))
        finally:
            self._esapi.flush_context(session)

    def _start_policy_session(self, kind: Any) -> Any:
        t = tpm_module()
        return self._esapi.start_auth_session(
            tpm_key=t.constants.ESYS_TR.NONE,
            bind=t.constants.ESYS_TR.NONE,
            session_type=kind,
            symmetric=t.types.TPMT_SYM_DEF(algorithm=t.constants.TPM2_ALG.NULL),
            auth_hash=t.constants.TPM2_ALG.SHA256,
        )

    def create_keys(self, pcr_policy: Sequence[int] = ()) -> DeviceKeys:
        t = tpm_module()
        attrs = t.constants.TPMA_OBJECT
        fixed = attrs.FIXEDTPM | attrs.FIXEDPARENT | attrs.SENSITIVEDATAORIGIN
        device_template = t.types.TPM2B_PUBLIC.parse("ecc256:ecdh-sha256", objectAttributes=fixed)
        if pcr_policy:
            # Use of the key needs a policy session that proves these PCRs still hold the
            # values they had at enrolment; no password works instead.
            device_template.publicArea.authPolicy = self._pcr_policy_digest(pcr_policy)
            device_template.publicArea.objectAttributes = fixed | attrs.DECRYPT
        else:
            device_template.publicArea.objectAttributes = fixed | attrs.USERWITHAUTH | attrs.DECRYPT
        ak_template = t.types.TPM2B_PUBLIC.parse(
            "ecc256:ecdsa-sha256:null",
            objectAttributes=fixed | attrs.USERWITHAUTH | attrs.RESTRICTED | attrs.SIGN_ENCRYPT,
        )
        created = []
        for template in (device_template, ak_template):
            private, public, *_ = self._esapi.create(
                self._storage_key(), t.types.TPM2B_SENSITIVE_CREATE(), template
            )
            created.append(KeyBlob(public.marshal(), private.marshal()))
        return DeviceKeys(created[0], created[1], tuple(pcr_policy))

    @contextmanager
    def _loaded(self, blob: KeyBlob, what: str) -> Iterator[Any]:
        t = tpm_module()
        try:
            public, _ = t.types.TPM2B_PUBLIC.unmarshal(blob.public)
            private, _ = t.types.TPM2B_PRIVATE.unmarshal(blob.private)
            handle = self._esapi.load(self._storage_key(), private, public)
        except t.TSS2_Exception as exc:
            raise VerificationError(
                f"TPM at {self.tcti}: the {what} does not load in this TPM ({exc}); "
                "it was enrolled on another device"
            ) from None
        try:
            yield handle
        finally:
            self._esapi.flush_context(handle)

    def check_loads(self, keys: DeviceKeys) -> None:
        with self._loaded(keys.device_key, "device key"), self._loaded(keys.attestation_key, "AK"):
            pass

    @staticmethod
    def public_pem(blob: KeyBlob) -> bytes:
        t = tpm_module()
        public, _ = t.types.TPM2B_PUBLIC.unmarshal(blob.public)
        return bytes(public.to_pem())

    def endorsement(self) -> tuple[bytes, bytes | None]:
        """The ECC EK's public area (TPM2B_PUBLIC, as DPS takes it) and its certificate if any."""
        t = tpm_module()
        _, template = t.utils.create_ek_template("EK-RSA2048", t.utils.NVReadEK(self._esapi))
        handle, public, *_ = self._esapi.create_primary(
            t.types.TPM2B_SENSITIVE_CREATE(), template, t.constants.ESYS_TR.ENDORSEMENT
        )
        self._esapi.flush_context(handle)
        try:
            certificate: bytes | None = self._nv_read(_EK_CERT_INDEX)
        except t.TSS2_Exception:
            certificate = None
        return public.marshal(), certificate

    @contextmanager
    def _endorsement_key(self) -> Iterator[tuple[Any, Any]]:
        t = tpm_module()
        _, template = t.utils.create_ek_template("EK-RSA2048", t.utils.NVReadEK(self._esapi))
        handle, public, *_ = self._esapi.create_primary(
            t.types.TPM2B_SENSITIVE_CREATE(), template, t.constants.ESYS_TR.ENDORSEMENT
        )
        try:
            yield handle, public
        finally:
            self._esapi.flush_context(handle)

    def certify_device_key(self, keys: DeviceKeys, qualifying_data: bytes = b"") -> Quote:
        """TPM2_Certify of the device key by the AK: proof that both are loaded in this TPM
        with the attributes their names bind (``pcr_values`` is empty)."""
        t = tpm_module()
        scheme = t.types.TPMT_SIG_SCHEME(scheme=t.constants.TPM2_ALG.ECDSA)
        scheme.details.any.hashAlg = t.constants.TPM2_ALG.SHA256
        with (
            self._loaded(keys.attestation_key, "attestation key") as ak,
            self._loaded(keys.device_key, "device key") as device_key,
        ):
            try:
                attest, signature = self._esapi.certify(device_key, ak, qualifying_data, scheme)
            except t.TSS2_Exception as exc:
                raise VerificationError(f"TPM at {self.tcti}: certify failed: {exc}") from None
        return Quote(
            attest=bytes(attest),
            signature_r=bytes(signature.signature.ecdsa.signatureR),
            signature_s=bytes(signature.signature.ecdsa.signatureS),
            pcr_values={},
        )

    def activate_credential(
        self, keys: DeviceKeys, credential_blob: bytes, encrypted_secret: bytes
    ) -> bytes:
        """TPM2_ActivateCredential with the EK (its policy: PolicySecret on the endorsement
        hierarchy) for the AK: succeeds only if the credential was made for this TPM's EK
        and this AK's name."""
        t = tpm_module()
        try:
            blob, _ = t.types.TPM2B_ID_OBJECT.unmarshal(credential_blob)
            secret, _ = t.types.TPM2B_ENCRYPTED_SECRET.unmarshal(encrypted_secret)
        except Exception as exc:
            raise InputError(
                f"the credential from the key release service is malformed: {exc}"
            ) from None
        with (
            self._loaded(keys.attestation_key, "attestation key") as ak,
            self._endorsement_key() as (ek, _),
        ):
            session = self._start_policy_session(t.constants.TPM2_SE.POLICY)
            try:
                self._esapi.policy_secret(t.constants.ESYS_TR.ENDORSEMENT, session)
                activated = self._esapi.activate_credential(
                    ak, ek, blob, secret, session1=t.constants.ESYS_TR.PASSWORD, session2=session
                )
            except t.TSS2_Exception as exc:
                raise VerificationError(
                    f"TPM at {self.tcti}: the credential does not activate for this TPM's EK "
                    f"and AK: {exc}"
                ) from None
            finally:
                self._esapi.flush_context(session)
        return bytes(activated)

    def _nv_read(self, index: int) -> bytes:
        handle = self._esapi.tr_from_tpmpublic(index)
        size = self._esapi.nv_read_public(handle)[0].nvPublic.dataSize
        data = b""
        while len(data) < size:
            chunk = min(size - len(data), 512)
            data += bytes(self._esapi.nv_read(handle, chunk, len(data)))
        return data

    # ---------------------------------------------------------------- operations

    def ecdh(self, keys: DeviceKeys, x: bytes, y: bytes) -> bytes:
        """TPM2_ECDH_ZGen: the shared secret's x coordinate, computed inside the TPM."""
        t = tpm_module()
        point = t.types.TPM2B_ECC_POINT(t.types.TPMS_ECC_POINT(x=x, y=y))
        with self._loaded(keys.device_key, "device key") as handle:
            session = t.constants.ESYS_TR.PASSWORD
            if keys.pcr_policy:
                session = self._start_policy_session(t.constants.TPM2_SE.POLICY)
                try:
                    self._esapi.policy_pcr(
                        session, t.types.TPM2B_DIGEST(), _pcr_selection(keys.pcr_policy)
                    )
                except t.TSS2_Exception as exc:
                    self._esapi.flush_context(session)
                    raise VerificationError(f"TPM at {self.tcti}: PCR policy: {exc}") from None
            try:
                result = self._esapi.ecdh_zgen(handle, point, session1=session)
            except t.TSS2_Exception as exc:
                raise VerificationError(
                    f"TPM at {self.tcti}: the device key refused ECDH "
                    f"(PCRs {list(keys.pcr_policy)} changed since enrolment?): {exc}"
                ) from None
            finally:
                if keys.pcr_policy:
                    self._esapi.flush_context(session)
        return bytes(result.point.x)

    def quote(self, keys: DeviceKeys, pcrs: Sequence[int], nonce: bytes) -> Quote:
        t = tpm_module()
        scheme = t.types.TPMT_SIG_SCHEME(scheme=t.constants.TPM2_ALG.ECDSA)
        scheme.details.any.hashAlg = t.constants.TPM2_ALG.SHA256
        with self._loaded(keys.attestation_key, "attestation key") as handle:
            attest, signature = self._esapi.quote(handle, _pcr_selection(pcrs), nonce, scheme)
        return Quote(
            attest=bytes(attest),
            signature_r=bytes(signature.signature.ecdsa.signatureR),
            signature_s=bytes(signature.signature.ecdsa.signatureS),
            pcr_values=self.read_pcrs(pcrs),
        )

    def read_pcrs(self, pcrs: Sequence[int]) -> dict[int, bytes]:
        values: dict[int, bytes] = {}
        remaining = sorted(set(pcrs))
        while remaining:  # the TPM returns at most 8 values per read
            _, selection, digests = self._esapi.pcr_read(_pcr_selection(remaining))
            got = [p for p in remaining if _selected(selection, p)]
            if not got:
                raise VerificationError(f"TPM at {self.tcti}: PCR read returned nothing")
            for pcr, digest in zip(got, digests, strict=False):
                values[pcr] = bytes(digest)
            remaining = [p for p in remaining if p not in values]
        return values

    def extend_pcr(self, pcr: int, digest: bytes) -> None:
        t = tpm_module()
        value = t.types.TPMT_HA(hashAlg=t.constants.TPM2_ALG.SHA256)
        value.digest.sha256 = digest
        values = t.types.TPML_DIGEST_VALUES([value])
        self._esapi.pcr_extend(getattr(t.constants.ESYS_TR, f"PCR{pcr}"), values)


def _selected(selection: Any, pcr: int) -> bool:
    for entry in selection:
        select = bytes(entry.pcrSelect)[: entry.sizeofSelect]
        if pcr // 8 < len(select) and select[pcr // 8] & (1 << (pcr % 8)):
            return True
    return False


@contextmanager
def open_tpm(tcti: str) -> Iterator[TpmDevice]:
    check_tcti(tcti, "TPM connection")
    t = tpm_module()
    try:
        esapi = t.ESAPI(tcti)
    except Exception as exc:  # tpm2-tss reports an unreachable TPM in several ways
        raise InputError(f"cannot open the TPM at {tcti!r}: {exc}") from None
    device = TpmDevice(esapi, tcti)
    try:
        yield device
    finally:
        device.close()
