"""Ed25519 signatures on the offline allow-list (``cryptography``).

The key is ``DUES_ACCESS_SIGNING_KEY`` (32 bytes, base64) when set, otherwise derived from
``SECRET_KEY`` with HKDF, so a fresh install signs without set-up. A door is given the
public key when it is installed (``dues access_device_add`` prints it; it is also
``public_key`` in every allow-list response) and refuses a list whose signature does not
verify or whose ``expires_at`` has passed.
"""

from __future__ import annotations

import base64
import os

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


def _private_key() -> Ed25519PrivateKey:
    configured = os.environ.get("DUES_ACCESS_SIGNING_KEY") or getattr(
        settings, "DUES_ACCESS_SIGNING_KEY", ""
    )
    if configured:
        seed = base64.b64decode(configured)
        if len(seed) != 32:
            raise ValueError("DUES_ACCESS_SIGNING_KEY must be 32 bytes, base64-encoded")
    else:
        seed = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"dues access allow-list"
        ).derive(settings.SECRET_KEY.encode())
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key() -> str:
    """The raw 32-byte public key, base64."""
    raw = (
        _private_key()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    return base64.b64encode(raw).decode()


def sign(data: bytes) -> str:
    return base64.b64encode(_private_key().sign(data)).decode()


def verify(data: bytes, signature: str, key: str) -> bool:
    """What a door does: check ``signature`` over ``data`` with the base64 public ``key``."""
    try:
        Ed25519PublicKey.from_public_bytes(base64.b64decode(key)).verify(
            base64.b64decode(signature), data
        )
    except Exception:
        return False
    return True
