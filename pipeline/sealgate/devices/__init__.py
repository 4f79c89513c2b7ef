"""Edge devices: TPM keys, enrolment and attestation."""
