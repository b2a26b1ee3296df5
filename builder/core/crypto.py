"""Secrets at rest (model keys, plugin credentials, channel tokens): Fernet, with key rotation.

Keys come from ``AGENTLOOM_ENCRYPTION_KEYS``: comma-separated Fernet keys, the first encrypts and
all of them decrypt, so a new key is rolled out by putting it first and re-encrypting
(``rotate_secret``) before the old one is removed. Without it, one key is derived from
``SECRET_KEY`` with HKDF, so the embedded default works with no configuration; changing
``SECRET_KEY`` then makes stored secrets unreadable, which is why production should set the
variable explicitly. Generate a key with ``python -c "from cryptography.fernet import Fernet;
print(Fernet.generate_key().decode())"``.
"""

from __future__ import annotations

import base64
import functools
import os
import re

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from builder.core.exceptions import ApplicationError

KEYS_ENV = "AGENTLOOM_ENCRYPTION_KEYS"
# Changing these would make every secret derived from SECRET_KEY unreadable.
_HKDF_SALT = b"agentloom-secrets-at-rest"
_HKDF_INFO = b"fernet-key-v1"
_MASK = "…"
_PREFIX = re.compile(r"^[A-Za-z]{2,4}[-_]")


class SecretUnreadable(ApplicationError):
    """A stored secret no key can decrypt: the keys changed, or the value was tampered with."""

    status_code = 500
    default_code = "secret_unreadable"
    default_message = _("A stored secret cannot be decrypted. Ask an administrator to enter it again.")


def derive_key(secret_key: str) -> bytes:
    """A Fernet key derived from Django's SECRET_KEY (the embedded default)."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT, info=_HKDF_INFO)
    return base64.urlsafe_b64encode(hkdf.derive(secret_key.encode()))


@functools.lru_cache(maxsize=8)
def _fernet(keys_setting: str, secret_key: str) -> MultiFernet:
    raw_keys = [key.strip() for key in keys_setting.split(",") if key.strip()]
    if not raw_keys:
        return MultiFernet([Fernet(derive_key(secret_key))])
    try:
        return MultiFernet([Fernet(key.encode()) for key in raw_keys])
    except ValueError as exc:
        raise ImproperlyConfigured(f"{KEYS_ENV} must be comma-separated Fernet keys.") from exc


def fernet() -> MultiFernet:
    # Read on every call (cached per value) so tests and key rotation see the current setting.
    return _fernet(os.environ.get(KEYS_ENV, ""), settings.SECRET_KEY)


def encrypt_secret(plaintext: str) -> str:
    """Ciphertext to store; the empty string stays empty (no secret set)."""
    if not plaintext:
        return ""
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt_secret(token: str) -> str:
    """The plaintext of a stored secret; raises ``SecretUnreadable`` when no key fits."""
    if not token:
        return ""
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable() from exc


def rotate_secret(token: str) -> str:
    """Re-encrypt a stored secret with the first (newest) key."""
    if not token:
        return ""
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable() from exc


def mask_secret(value: str) -> str:
    """What a UI or a log may show of a secret: ``"sk-abcdef123456"`` → ``"sk-…3456"``.

    The last four characters only when at least eight others stay hidden; a short conventional
    prefix (``sk-``, ``pk_``) is kept because it tells keys apart without weakening them.
    """
    if not value:
        return ""
    prefix_match = _PREFIX.match(value)
    prefix = prefix_match.group(0) if prefix_match else ""
    rest = value[len(prefix) :]
    tail = rest[-4:] if len(rest) >= 12 else ""
    return f"{prefix}{_MASK}{tail}"
