"""Tokens (stored as SHA-256 digests) and encryption of secrets at rest."""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

ENROLL_PREFIX = "vf_enroll_"
NODE_PREFIX = "vf_node_"
API_PREFIX = "vf_api_"


def generate_token(prefix: str) -> str:
    """Return a new 256-bit random token with a recognisable prefix."""
    return prefix + secrets.token_hex(32)


def token_digest(token: str) -> str:
    """Return the SHA-256 hex digest under which a token is stored and looked up."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_hint(token: str) -> str:
    """Return the displayable hint of a token, e.g. ``****a1b2``."""
    return "****" + token[-4:]


def digests_match(stored: str | None, presented_token: str) -> bool:
    """Compare a stored digest with a presented token in constant time."""
    if not stored:
        return False
    return hmac.compare_digest(stored, token_digest(presented_token))


def bearer_token(header_value: str | None) -> str | None:
    """Return the token of an ``Authorization: Bearer`` header, or None if absent or malformed."""
    if not header_value:
        return None
    scheme, _, value = header_value.partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value or len(value) > 512 or " " in value:
        return None
    return value


def _fernet() -> Fernet:
    app = current_app
    cached = app.extensions.get("vectorflow.fernet")
    if cached is not None:
        return cached
    explicit = app.config.get("VECTORFLOW_ENCRYPTION_KEY")
    if explicit:
        key = explicit.encode()
    else:
        # Derive a dedicated key so the signing key is never used directly for encryption.
        raw = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"vectorflow-secrets-v1"
        ).derive(app.config["SECRET_KEY"].encode("utf-8"))
        key = base64.urlsafe_b64encode(raw)
    fernet = Fernet(key)
    app.extensions["vectorflow.fernet"] = fernet
    return fernet


def encrypt(plaintext: str) -> str:
    """Encrypt a secret value for storage."""
    return _fernet().encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt(ciphertext: str) -> str:
    """Decrypt a stored secret value; raises ValueError when the key does not match."""
    try:
        return _fernet().decrypt(ciphertext.encode("ascii")).decode("utf-8")
    except InvalidToken:
        raise ValueError("secret cannot be decrypted with the configured key") from None
