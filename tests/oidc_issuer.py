"""A local OIDC issuer on 127.0.0.1 (TLS with the test CA): discovery document, JWKS, and
tokens minted by the test, for the key release service's workloads and the promotion gate's
CI requesters.

Entra ID and the AKS OIDC issuer publish exactly this: ``/.well-known/openid-configuration``
naming the issuer and its ``jwks_uri``; tokens are RS256 (Entra) or ES256 JWTs with a
``kid`` header. Keys are generated per issuer; ``rotate()`` adds a key the cached JWKS does
not yet have.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from tests.keyserver.pki import Pki


class OidcIssuer:
    def __init__(self, pki: Pki) -> None:
        self.keys: dict[str, tuple[str, Any]] = {}
        self.jwks_requests = 0
        # path -> (status, headers, body): a misbehaving issuer, served before the real one.
        self.responses: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.rotate("RS256")
        self.rotate("ES256")
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(pki.certificate, pki.key)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self._server.server_address[1]}"
        self.issuer = self.url + "/tenant-0/v2.0"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def rotate(self, alg: str) -> str:
        kid = uuid.uuid4().hex
        key: Any = (
            rsa.generate_private_key(65537, 2048)
            if alg == "RS256"
            else ec.generate_private_key(ec.SECP256R1())
        )
        self.keys[kid] = (alg, key)
        return kid

    def jwks(self) -> dict[str, Any]:
        keys = []
        for kid, (alg, key) in self.keys.items():
            algorithm = RSAAlgorithm if alg == "RS256" else ECAlgorithm
            jwk = json.loads(algorithm.to_jwk(key.public_key()))
            keys.append({**jwk, "kid": kid, "use": "sig", "alg": alg})
        return {"keys": keys}

    def mint(
        self, claims: dict[str, Any], *, kid: str | None = None, lifetime: int = 600, **header: Any
    ) -> str:
        kid = kid or next(iter(self.keys))
        alg, key = self.keys[kid]
        now = int(time.time())
        body = {"iss": self.issuer, "iat": now, "nbf": now, "exp": now + lifetime, **claims}
        return jwt.encode(body, key, algorithm=alg, headers={"kid": kid, **header})

    def forge(self, claims: dict[str, Any], *, lifetime: int = 600) -> str:
        """The claims and key id of ``mint``, signed by a key the issuer never published."""
        kid = next(iter(self.keys))
        now = int(time.time())
        body = {"iss": self.issuer, "iat": now, "nbf": now, "exp": now + lifetime, **claims}
        other = rsa.generate_private_key(65537, 2048)
        return jwt.encode(body, other, algorithm="RS256", headers={"kid": kid})

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                if self.path in issuer.responses:
                    status, headers, raw = issuer.responses[self.path]
                    self.send_response(status)
                    for name, value in {**headers, "Content-Length": str(len(raw))}.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(raw)
                    return
                if self.path == "/tenant-0/v2.0/.well-known/openid-configuration":
                    body: dict[str, Any] = {
                        "issuer": issuer.issuer,
                        "jwks_uri": issuer.url + "/tenant-0/discovery/v2.0/keys",
                        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
                    }
                elif self.path == "/tenant-0/discovery/v2.0/keys":
                    issuer.jwks_requests += 1
                    body = issuer.jwks()
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
