"""Pasted text is trimmed and checked for a Dentally token's shape; messages never quote the text."""

from __future__ import annotations

import pytest

from dentally.token import MAX_LENGTH, TokenFormatError, parse_token

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
