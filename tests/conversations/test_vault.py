"""The key vault encrypts at rest, rotates keys, and never shows a secret in its repr or errors."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from conversations.vault import KeyVault, VaultError, fingerprint, new_secret

SECRET = SecretStr("dentally-secret-key-AbCdEfGhIjKlMnOp_1234")


def test_round_trip_and_ciphertext_hides_the_key() -> None:
    vault = KeyVault([new_secret()])
    sealed = vault.encrypt(SECRET)
    assert SECRET.get_secret_value() not in sealed
    assert SECRET.get_secret_value()[:8] not in sealed
    assert vault.decrypt(sealed).get_secret_value() == SECRET.get_secret_value()


def test_rotation_reads_old_ciphertext_and_rewrites_it_under_the_newest_key() -> None:
    old, new = new_secret(), new_secret()
    sealed_with_old = KeyVault([old]).encrypt(SECRET)
    rotated_vault = KeyVault([new, old])
    assert rotated_vault.decrypt(sealed_with_old).get_secret_value() == SECRET.get_secret_value()
    rewritten = rotated_vault.rotate(sealed_with_old)
    assert KeyVault([new]).decrypt(rewritten).get_secret_value() == SECRET.get_secret_value()
    with pytest.raises(VaultError):
        KeyVault([old]).decrypt(rewritten)


def test_from_setting_splits_comma_separated_keys_and_none_when_unset() -> None:
    first, second = new_secret(), new_secret()
    vault = KeyVault.from_setting(SecretStr(f" {first} , {second} "))
    assert vault is not None
    assert vault.decrypt(vault.encrypt(SECRET)).get_secret_value() == SECRET.get_secret_value()
    assert KeyVault([first]).decrypt(vault.encrypt(SECRET)).get_secret_value() == SECRET.get_secret_value()
    assert KeyVault.from_setting(None) is None
    assert KeyVault.from_setting(SecretStr("  ")) is None


@pytest.mark.parametrize("bad", ["not-a-key", "", "x" * 44])
def test_malformed_keys_are_refused_without_echoing_them(bad: str) -> None:
    with pytest.raises(VaultError) as caught:
        KeyVault([bad])
    assert bad.strip() == "" or bad not in str(caught.value)


def test_wrong_key_fails_clearly() -> None:
    sealed = KeyVault([new_secret()]).encrypt(SECRET)
    with pytest.raises(VaultError, match="cannot be decrypted"):
        KeyVault([new_secret()]).decrypt(sealed)


def test_repr_and_fingerprint_show_no_secret() -> None:
    vault = KeyVault([new_secret()])
    assert "keys hidden" in repr(vault)
    assert fingerprint(SECRET) == "1234"
    assert fingerprint(SecretStr("short")) == "????"
