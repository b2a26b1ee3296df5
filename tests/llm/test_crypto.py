"""Secrets at rest: Fernet with rotation, keys from the environment or derived from SECRET_KEY."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from builder.core.crypto import KEYS_ENV, SecretUnreadable, decrypt_secret, encrypt_secret, mask_secret, rotate_secret


@pytest.fixture(autouse=True)
def _no_configured_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEYS_ENV, raising=False)


def test_round_trip_without_configuration_uses_a_key_derived_from_secret_key() -> None:
    token = encrypt_secret("sk-live-123")

    assert "sk-live-123" not in token
    assert token != encrypt_secret("sk-live-123")  # a fresh IV every time
    assert decrypt_secret(token) == "sk-live-123"
    assert encrypt_secret("") == decrypt_secret("") == ""


def test_another_secret_key_cannot_read_it() -> None:
    token = encrypt_secret("sk-live-123")

    with override_settings(SECRET_KEY="a-different-secret-key-for-this-test"), pytest.raises(SecretUnreadable):
        decrypt_secret(token)


def test_configured_keys_rotate(monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv(KEYS_ENV, old)
    token = encrypt_secret("xoxb-slack-token")

    monkeypatch.setenv(KEYS_ENV, f"{new}, {old}")
    assert decrypt_secret(token) == "xoxb-slack-token"
    rotated = rotate_secret(token)

    monkeypatch.setenv(KEYS_ENV, new)
    assert decrypt_secret(rotated) == "xoxb-slack-token"
    with pytest.raises(SecretUnreadable):
        decrypt_secret(token)


def test_a_malformed_key_setting_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEYS_ENV, "not-a-fernet-key")

    with pytest.raises(ImproperlyConfigured, match=KEYS_ENV):
        encrypt_secret("x")


@pytest.mark.parametrize(
    ("secret", "masked"),
    [
        ("sk-abcdef123456", "sk-…3456"),
        ("sk-proj-abcdefghijklmnop", "sk-…mnop"),
        ("ollama", "…"),
        ("abcdefghijkl", "…ijkl"),
        ("sk-short", "sk-…"),
        ("", ""),
    ],
)
def test_mask_shows_a_prefix_and_the_last_four_only_of_long_secrets(secret: str, masked: str) -> None:
    assert mask_secret(secret) == masked
