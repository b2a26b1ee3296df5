"""Secrets we hand out once and keep only as hashes (API keys, invitation tokens)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

API_KEY_PREFIX = "al"


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_api_key() -> tuple[str, str]:
    """Return ``(prefix, raw_key)``. The prefix finds the row; the rest is the secret.

    Keys are 256-bit random, so a fast hash is safe here (no dictionary to attack) and keeps
    authentication cheap on every request.
    """
    prefix = secrets.token_hex(6)
    return prefix, f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"


def split_api_key(raw_key: str) -> str | None:
    """The prefix of a well-formed key, else None."""
    parts = raw_key.split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX or len(parts[1]) != 12:
        return None
    return parts[1]


def hashes_match(raw: str, stored_hash: str) -> bool:
    return hmac.compare_digest(sha256_hex(raw), stored_hash)


def new_invitation_token() -> str:
    return secrets.token_urlsafe(32)
