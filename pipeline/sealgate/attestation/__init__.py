"""Device attestation on the key release service's side (no TPM needed).

``DeviceRegistry`` enrols devices by credential activation (the AK is proven to live in the
TPM that holds the EK, the device key is certified by the AK), issues single-use challenge
nonces, verifies quotes with the enrolled AK, and wraps released data keys to the device key.
"""

from sealgate.attestation._config import registry_from_config
from sealgate.attestation._ekcert import EkCertificateFacts, load_certificates
from sealgate.attestation._registry import DeviceRegistry
from sealgate.devices._release import RELEASE_ALGORITHM, release_context

__all__ = [
    "RELEASE_ALGORITHM",
    "DeviceRegistry",
    "EkCertificateFacts",
    "load_certificates",
    "registry_from_config",
    "release_context",
]
