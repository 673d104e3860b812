"""Pasted text is trimmed and checked for a Dentally token's shape; messages never quote the text."""

from __future__ import annotations

import pytest

from dentally.token import MAX_LENGTH, TokenFormatError, exposed_tokens, parse_token

GOOD = "Zx9_-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789ab"


@pytest.mark.parametrize(
    "pasted", [GOOD, f"  {GOOD}\n", f'"{GOOD}"', f"Bearer {GOOD}", f"`{GOOD}`", "a" * 20 + "==", "a.b~c+d/" * 4]
)
def test_accepts_token_shapes(pasted: str) -> None:
    assert parse_token(pasted).get_secret_value() in pasted


@pytest.mark.parametrize(
    ("pasted", "message"),
    [
        ("", "Paste the key"),
        ("   \n ", "Paste the key"),
        ("short-key", "too short"),
        ("a" * (MAX_LENGTH + 1), "too long"),
        ("abc def ghi jkl mno pqr stu", "no spaces"),
        ("abcdefghijklmnopqrstu!@#$", "letters, digits"),
        ("ключключключключключключ", "letters, digits"),
    ],
)
def test_rejects_junk_with_a_plain_message(pasted: str, message: str) -> None:
    with pytest.raises(TokenFormatError, match=message) as caught:
        parse_token(pasted)
    if pasted.strip():
        assert pasted.strip()[:8] not in str(caught.value)


def test_the_token_does_not_print() -> None:
    token = parse_token(GOOD)
    assert GOOD not in repr(token)
    assert GOOD not in str(token)


_URLSAFE = "q3Jx-7Lm_0PzR8sT2vW4yA6bC9dE1fG5hJ0kN3mQ5sX"  # 43 characters, Doorkeeper's current shape
_HEX = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"  # 64 hex, the 2017-era shape


@pytest.mark.parametrize(
    "text",
    [
        _URLSAFE,
        f"here is our key: {_URLSAFE} thanks",
        f"`{_URLSAFE}`",
        f"Bearer {_URLSAFE}",
        f"key={_HEX}.",
        f"> {_URLSAFE}\nIs that right?",
    ],
)
def test_finds_a_key_pasted_into_chat(text: str) -> None:
    found = exposed_tokens(text)
    assert len(found) == 1
    assert found[0].get_secret_value() in (_URLSAFE, _HEX)
    assert _URLSAFE not in repr(found)
    assert _HEX not in repr(found)


@pytest.mark.parametrize(
    "text",
    [
        "I don't have a Developer tab, what do I do?",
        "pneumonoultramicroscopicsilicovolcanoconiosis is a long word",
        "internationalisation_and_localisation_stuff",  # 43 characters of one kind: an identifier, not a key
        "https://app.dentally.co/settings/developer/personal_access_tokens/new",
        _URLSAFE + "x",  # 44 characters: not a Doorkeeper key
        _URLSAFE[:-1],  # 42 characters
        _HEX[:-1],
        "<@U0123ABCD> start",
    ],
)
def test_ordinary_text_is_not_a_key(text: str) -> None:
    assert exposed_tokens(text) == []


def test_two_keys_are_both_found_once() -> None:
    found = exposed_tokens(f"{_URLSAFE} and {_HEX} and {_URLSAFE} again")
    assert [token.get_secret_value() for token in found] == [_URLSAFE, _HEX]
