"""Edge devices: TPM keys, enrolment and attestation.

The key release service's device side: ``enrolment_request`` (EK, AK, device key and its
certification by the AK), ``activate_credential`` (TPM2_ActivateCredential of the service's
credential), ``answer_challenge`` (a quote over the service's nonce) and
``unwrap_released_key`` (TPM2_ECDH_ZGen with the device key); ``register_with_keyserver``
runs the enrolment over a ``KeyserverConnection``; ``open_release_device(PREFIX)`` is what
``sealgate unseal --keyserver URL --device PREFIX`` quotes and unwraps with.
"""

from sealgate.devices._client import (
    ReleaseDevice,
    activate_credential,
    answer_challenge,
    enrolment_request,
    open_release_device,
    register_with_keyserver,
    unwrap_released_key,
)
from sealgate.devices._enrollment import Enrollment, enroll_device, load_enrollment
from sealgate.devices._http import KeyserverConnection, ServiceError
from sealgate.devices._release import RELEASE_ALGORITHM, release_context

__all__ = [
    "RELEASE_ALGORITHM",
    "Enrollment",
    "KeyserverConnection",
    "ReleaseDevice",
    "ServiceError",
    "activate_credential",
    "answer_challenge",
    "enroll_device",
    "enrolment_request",
    "load_enrollment",
    "open_release_device",
    "register_with_keyserver",
    "release_context",
    "unwrap_released_key",
]
