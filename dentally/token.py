"""The shape of a Dentally API token, checked before any request so obvious junk gets a clear message."""

from __future__ import annotations

import re

from pydantic import SecretStr

# Dentally issues Doorkeeper tokens (43 url-safe base64 characters by default); RFC 6750's b64token
# alphabet is accepted so a differently configured deployment still passes.
MIN_LENGTH = 20
MAX_LENGTH = 256
_TOKEN = re.compile(r"^[A-Za-z0-9\-._~+/]+=*$")


class TokenFormatError(ValueError):
    """Text that cannot be a Dentally token; the message is written for the person who pasted it."""


def parse_token(raw: str) -> SecretStr:
    """Trim pasted text and check it looks like a Dentally token.

    Args:
        raw: What was pasted (may carry surrounding spaces, quotes or a ``Bearer`` prefix).

    Returns:
        The token, wrapped so it never prints.

    Raises:
        TokenFormatError: Empty, too short, too long, or containing characters a token never has.
    """
    text = raw.strip().strip("\"'`").strip()
    if text.lower().startswith("bearer "):
        text = text[len("bearer ") :].strip()
    if not text:
        raise TokenFormatError("Paste the key you copied from Dentally.")
    if any(char.isspace() for char in text):
        raise TokenFormatError("A key has no spaces or line breaks — paste just the key, exactly as copied.")
    if len(text) < MIN_LENGTH:
        raise TokenFormatError(
            f"That's too short for a Dentally key ({len(text)} characters; keys have at least {MIN_LENGTH})."
        )
    if len(text) > MAX_LENGTH:
        raise TokenFormatError(f"That's too long for a Dentally key (keys have at most {MAX_LENGTH} characters).")
    if not _TOKEN.match(text):
        raise TokenFormatError(
            "That doesn't look like a Dentally key: keys use only letters, digits and - _ . ~ + / =."
        )
    return SecretStr(text)
