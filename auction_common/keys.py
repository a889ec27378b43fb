"""RSA key pairs for signing access tokens, and their JWKS form."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def generate_private_key_pem() -> str:
    """A new 2048-bit RSA private key, PEM-encoded."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def public_key_pem(private_pem: str) -> str:
    """The PEM public key of a PEM private key."""
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def key_id(public_pem: str) -> str:
    """A stable key id (``kid``): a digest of the public key."""
    return hashlib.sha256(public_pem.encode()).hexdigest()[:16]


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def jwk(public_pem: str) -> dict:
    """The JWK of a PEM public key, for the JWKS endpoint."""
    key = serialization.load_pem_public_key(public_pem.encode())
    numbers = key.public_numbers()
    return {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": key_id(public_pem),
            "n": _b64(numbers.n), "e": _b64(numbers.e)}


def ensure_dev_keypair(directory: Path) -> tuple[Path, Path]:
    """Create ``jwt_private.pem``/``jwt_public.pem`` in ``directory`` once (local runs only)."""
    directory.mkdir(parents=True, exist_ok=True)
    private_path, public_path = directory / "jwt_private.pem", directory / "jwt_public.pem"
    if not private_path.exists():
        private = generate_private_key_pem()
        private_path.write_text(private)
        private_path.chmod(0o600)
        public_path.write_text(public_key_pem(private))
    return private_path, public_path
