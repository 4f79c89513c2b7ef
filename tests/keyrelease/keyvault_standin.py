"""A local HTTPS stand-in for the Key Vault keys REST API (api-version 7.x).

It speaks the documented contract the SDK uses: a 401 bearer challenge for a request
without a token, ``GET /keys/{name}/{version}``, ``POST .../wrapkey``, ``POST .../unwrapkey``
(RSA-OAEP-256) and ``POST .../release`` (Secure Key Release: the key's release policy is
checked against a verified attestation token, and the key material is wrapped to the token's
runtime key with the requested ``enc``); a token whose principal has no access gets 403 with
Key Vault's error body.
"""

from __future__ import annotations

import base64
import datetime
import functools
import ipaddress
import json
import os
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding
from cryptography.x509.oid import NameOID

OAEP_256 = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_token(claims: dict[str, str]) -> str:
    """An Entra-shaped JWT (unsigned here: the stand-in decides by its claims)."""
    header = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{b64url(json.dumps(claims).encode())}."


RELEASE_OAEP: dict[str, type[hashes.HashAlgorithm]] = {
    "CKM_RSA_AES_KEY_WRAP": hashes.SHA1,
    "RSA_AES_KEY_WRAP_256": hashes.SHA256,
    "RSA_AES_KEY_WRAP_384": hashes.SHA384,
}


@functools.cache
def _release_signer() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(65537, 2048)


def _verified_claims(vault: StandInVault, token: str) -> dict | None:
    try:
        issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
        key = vault.authorities.get(str(issuer).rstrip("/"))
        if key is None:
            return None
        return jwt.decode(token, key, algorithms=["RS256"])
    except jwt.PyJWTError:
        return None


def _claim(claims: dict, path: str) -> object:
    value: object = claims
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _condition(claims: dict, condition: dict) -> bool:
    if "allOf" in condition:
        return all(_condition(claims, c) for c in condition["allOf"])
    if "anyOf" in condition:
        return any(_condition(claims, c) for c in condition["anyOf"])
    expected = condition.get("equals", condition.get("value"))
    actual = _claim(claims, condition["claim"])
    if isinstance(actual, bool) or isinstance(expected, bool):
        return str(actual).lower() == str(expected).lower()
    return actual == expected


def _satisfies(policy: dict, claims: dict) -> bool:
    """A Key Vault release policy (version 1.0.0): anyOf authorities, each with conditions."""
    issuer = str(claims.get("iss", "")).rstrip("/")
    return any(
        str(rule.get("authority", "")).rstrip("/") == issuer and _condition(claims, rule)
        for rule in policy.get("anyOf", [])
    )


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "standin.crt", directory / "standin.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class StandInVault:
    name: str = "model-kek"
    version: str = "0123456789abcdef0123456789abcdef"
    allowed_object_ids: set[str] = field(default_factory=set)
    key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(65537, 3072))
    requests: list[tuple[str, str]] = field(default_factory=list)
    url: str = ""
    # Secure Key Release: exportable only with a release policy; attestation tokens verify
    # against their authority's public key (issuer -> key), as Key Vault checks MAA's.
    release_policy: dict | None = None
    authorities: dict[str, rsa.RSAPublicKey] = field(default_factory=dict)
    released: list[dict] = field(default_factory=list)
    release_answer: Callable[[dict], str] | None = None  # replaces the signed answer

    def sign_release(self, payload: dict) -> str:
        if self.release_answer is not None:
            return self.release_answer(payload)
        return jwt.encode(payload, _release_signer(), "RS256", headers={"kid": "standin-release"})

    @property
    def key_id(self) -> str:
        return f"{self.url}/keys/{self.name}/{self.version}"

    def public_pem(self) -> bytes:
        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def _handler(vault: StandInVault) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def _send(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def _authorized(self) -> bool:
            auth = self.headers.get("Authorization", "")
            if not auth.startswith("Bearer "):
                self._send(
                    401,
                    {
                        "error": {
                            "code": "Unauthorized",
                            "message": "AKV10000: Request is missing a Bearer or PoP token.",
                        }
                    },
                    {
                        "WWW-Authenticate": 'Bearer authorization="https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47", resource="https://vault.azure.net"'
                    },
                )
                return False
            claims = json.loads(unb64url(auth.split()[1].split(".")[1]))
            if claims.get("oid") not in vault.allowed_object_ids:
                self._send(
                    403,
                    {
                        "error": {
                            "code": "Forbidden",
                            "message": f"Caller is not authorized to perform action on resource. Caller: oid={claims.get('oid')}",
                            "innererror": {"code": "ForbiddenByRbac"},
                        }
                    },
                )
                return False
            return True

        def _key_path(self) -> tuple[str, str, str] | None:
            path = self.path.split("?")[0].strip("/").split("/")
            if (
                len(path) >= 3
                and path[0] == "keys"
                and path[1] == vault.name
                and path[2] == vault.version
            ):
                return path[1], path[2], path[3] if len(path) > 3 else ""
            return None

        def _body(self) -> dict:
            length = int(self.headers.get("Content-Length", "0"))
            return json.loads(self.rfile.read(length) or b"{}")

        def _jwk(self) -> dict:
            numbers = vault.key.public_key().public_numbers()
            return {
                "kid": vault.key_id,
                "kty": "RSA-HSM",
                "key_ops": ["wrapKey", "unwrapKey"],
                "n": b64url(numbers.n.to_bytes(384, "big")),
                "e": b64url(numbers.e.to_bytes(3, "big")),
            }

        def _release(self, body: dict) -> None:
            """Secure Key Release as Key Vault does it (KeyReleaseParameters -> KeyReleaseResult)."""
            target, enc = body.get("target"), body.get("enc") or "CKM_RSA_AES_KEY_WRAP"
            if not isinstance(target, str) or not target:
                self._send(
                    400, {"error": {"code": "BadParameter", "message": "target is required"}}
                )
                return
            if enc not in RELEASE_OAEP:
                self._send(400, {"error": {"code": "BadParameter", "message": f"enc {enc}"}})
                return
            if vault.release_policy is None:
                self._send(
                    400,
                    {"error": {"code": "BadParameter", "message": "The key is not exportable: it has no release policy."}},
                )  # fmt: skip
                return
            claims = _verified_claims(vault, target)
            if claims is None or not _satisfies(vault.release_policy, claims):
                self._send(
                    403,
                    {"error": {"code": "Forbidden", "message": "Target environment attestation statement does not satisfy the key release policy."}},
                )  # fmt: skip
                return
            runtime = [
                k for k in (claims.get("x-ms-runtime") or {}).get("keys", [])
                if k.get("kty") == "RSA" and "encrypt" in k.get("key_ops", ["encrypt"])
            ]  # fmt: skip
            if not runtime:
                self._send(400, {"error": {"code": "BadParameter", "message": "no runtime key"}})
                return
            target_key = rsa.RSAPublicNumbers(
                int.from_bytes(unb64url(runtime[0]["e"]), "big"),
                int.from_bytes(unb64url(runtime[0]["n"]), "big"),
            ).public_key()
            material = vault.key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            transport = os.urandom(32)
            hash_type = RELEASE_OAEP[enc]
            oaep = padding.OAEP(mgf=padding.MGF1(hash_type()), algorithm=hash_type(), label=None)
            ciphertext = target_key.encrypt(transport, oaep) + aes_key_wrap_with_padding(
                transport, material
            )
            key_hsm = {
                "schema_version": "1.0",
                "header": {"kid": runtime[0]["kid"], "alg": "dir", "enc": enc},
                "ciphertext": b64url(ciphertext),
            }
            payload = {
                "request": {"api-version": "7.5", "enc": enc, "kid": vault.key_id, "nonce": body.get("nonce")},
                "response": {
                    "key": {
                        "attributes": {"enabled": True, "exportable": True, "recoveryLevel": "Recoverable+Purgeable"},
                        "key": {**self._jwk(), "key_hsm": b64url(json.dumps(key_hsm).encode())},
                        "release_policy": {
                            "contentType": "application/json; charset=utf-8",
                            "data": b64url(json.dumps(vault.release_policy).encode()),
                        },
                    }
                },
            }  # fmt: skip
            vault.released.append(payload)
            self._send(200, {"value": vault.sign_release(payload)})

        def do_GET(self) -> None:
            vault.requests.append(("GET", self.path))
            body = self._body() if self.headers.get("Content-Length") else {}
            del body
            if not self._authorized():
                return
            if self._key_path() is None:
                self._send(404, {"error": {"code": "KeyNotFound", "message": "no such key"}})
                return
            self._send(200, {"key": self._jwk(), "attributes": {"enabled": True}})

        def do_POST(self) -> None:
            vault.requests.append(("POST", self.path))
            body = self._body()
            if not self._authorized():
                return
            found = self._key_path()
            if found is None:
                self._send(404, {"error": {"code": "KeyNotFound", "message": "no such key"}})
                return
            operation = found[2]
            if operation in {"wrapkey", "unwrapkey"} and body.get("alg") != "RSA-OAEP-256":
                self._send(400, {"error": {"code": "BadParameter", "message": "alg"}})
                return
            if operation == "wrapkey":
                value = vault.key.public_key().encrypt(unb64url(body["value"]), OAEP_256)
                self._send(200, {"kid": vault.key_id, "value": b64url(value)})
            elif operation == "unwrapkey":
                try:
                    value = vault.key.decrypt(unb64url(body["value"]), OAEP_256)
                except ValueError:
                    self._send(
                        400, {"error": {"code": "BadParameter", "message": "decryption failed"}}
                    )
                    return
                self._send(200, {"kid": vault.key_id, "value": b64url(value)})
            elif operation == "release":
                self._release(body)
            else:
                self._send(404, {"error": {"code": "NotFound", "message": operation}})

    return Handler


class StandInServer:
    def __init__(self, vault: StandInVault, cert: Path, key: Path) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(vault))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        vault.url = f"https://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> StandInServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
