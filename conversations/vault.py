"""Encryption at rest for verified keys: Fernet with rotatable keys (newest first), and key fingerprints."""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr


class VaultError(Exception):
    """The vault's keys are malformed, or a ciphertext cannot be opened with any of them."""


def fingerprint(secret: SecretStr) -> str:
    """What people may see of a key: its last four characters."""
    value = secret.get_secret_value()
    return value[-4:] if len(value) >= 12 else "????"


def new_secret() -> str:
    """A fresh Fernet key for ``KEY_ENCRYPTION_KEYS``."""
    return Fernet.generate_key().decode("ascii")


class KeyVault:
    """Encrypts with the newest key and decrypts with any, so keys can be rotated without losing data."""

    def __init__(self, keys: Sequence[str]) -> None:
        cleaned = [key.strip() for key in keys if key.strip()]
        if not cleaned:
            raise VaultError("no encryption keys given")
        try:
            fernets = [Fernet(key.encode("ascii")) for key in cleaned]
        except (ValueError, UnicodeEncodeError):
            raise VaultError("an encryption key is not a valid Fernet key (32 url-safe base64 bytes)") from None
        self._newest = fernets[0]
        self._fernet = MultiFernet(fernets)

    @classmethod
    def from_setting(cls, setting: SecretStr | None) -> KeyVault | None:
        """Build from the comma-separated ``KEY_ENCRYPTION_KEYS`` value; None when it is unset."""
        if setting is None or not setting.get_secret_value().strip():
            return None
        return cls(setting.get_secret_value().split(","))

    def __repr__(self) -> str:
        return "KeyVault(<keys hidden>)"

    def encrypt(self, secret: SecretStr) -> str:
        """Ciphertext of ``secret`` under the newest key."""
        return self._fernet.encrypt(secret.get_secret_value().encode("utf-8")).decode("ascii")

    def decrypt(self, ciphertext: str) -> SecretStr:
        """The secret inside ``ciphertext``."""
        try:
            return SecretStr(self._fernet.decrypt(ciphertext.encode("ascii")).decode("utf-8"))
        except (InvalidToken, UnicodeError):
            raise VaultError("stored key cannot be decrypted with any configured encryption key") from None

    def is_current(self, ciphertext: str) -> bool:
        """Whether ``ciphertext`` is already encrypted under the newest key (rotating it would change nothing)."""
        try:
            self._newest.decrypt(ciphertext.encode("ascii"))
        except (InvalidToken, UnicodeError):
            return False
        return True

    def rotate(self, ciphertext: str) -> str:
        """Re-encrypt ``ciphertext`` under the newest key.

        Raises:
            VaultError: No configured key opens it.
        """
        try:
            return self._fernet.rotate(ciphertext.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError):
            raise VaultError("stored key cannot be decrypted with any configured encryption key") from None
