"""Secrets at rest: gateway keys and webhook secrets an organization stores are encrypted
with Fernet (AES-128-CBC + HMAC-SHA256) under ``DUES_ENCRYPTION_KEYS``.

The first key encrypts, every key decrypts, so a key is rotated by putting the new one
first and running ``secrets_rotate`` before dropping the old one.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class SecretError(ValueError):
    pass


def _fernet() -> MultiFernet:
    keys = settings.DUES_ENCRYPTION_KEYS
    if not keys:
        # Development only: a key derived from SECRET_KEY, so a fresh checkout works.
        digest = hashlib.sha256(b"dues-secrets:" + settings.SECRET_KEY.encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    try:
        return MultiFernet([Fernet(k) for k in keys])
    except ValueError as exc:
        raise SecretError("DUES_ENCRYPTION_KEYS holds a key that is not a Fernet key") from exc


def secret_seal(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode() if plain else ""


def secret_open(sealed: str) -> str:
    if not sealed:
        return ""
    try:
        return _fernet().decrypt(sealed.encode()).decode()
    except InvalidToken as exc:
        raise SecretError("a stored secret cannot be decrypted with DUES_ENCRYPTION_KEYS") from exc


def secret_rotate(sealed: str) -> str:
    """The same secret under the first key."""
    return _fernet().rotate(sealed.encode()).decode() if sealed else ""
