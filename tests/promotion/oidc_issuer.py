"""A local OIDC issuer for the tests: discovery document and JWKS on 127.0.0.1, keys made here."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm


@dataclass
class LocalIssuer:
    url: str
    key: rsa.RSAPrivateKey
    kid: str = "test-key-1"

    def token(self, audience: str = "sealgate-promotion", **claims: Any) -> str:
        now = int(time.time())
        body = {
            "iss": self.url,
            "sub": "repo:example/models:ref:refs/heads/main",
            "aud": audience,
            "iat": now,
            "nbf": now,
            "exp": now + 300,
            **claims,
        }
        return jwt.encode(body, self.key, algorithm="RS256", headers={"kid": self.kid})

    def forged_token(self, **claims: Any) -> str:
        """Same claims and key id, signed by a key the issuer never published."""
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return LocalIssuer(self.url, other, self.kid).token(**claims)


@contextmanager
def local_issuer() -> Iterator[LocalIssuer]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    documents: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = documents.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body or b"{}")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    issuer = LocalIssuer(url, key)
    jwk = {**RSAAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": issuer.kid, "use": "sig"}
    documents["/.well-known/openid-configuration"] = json.dumps(
        {"issuer": url, "jwks_uri": f"{url}/jwks"}
    ).encode()
    documents["/jwks"] = json.dumps({"keys": [jwk]}).encode()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield issuer
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
