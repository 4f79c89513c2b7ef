"""Unsealing at the workload: verify, authorize, decrypt into memory, publish atomically."""

from sealgate.runtime._unseal import Authorize, UnsealRequest, UnsealSummary, unseal_model

__all__ = ["Authorize", "UnsealRequest", "UnsealSummary", "unseal_model"]
