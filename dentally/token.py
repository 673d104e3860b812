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


# A key pasted into a chat message: a whole "word" with one of the two shapes Dentally's Doorkeeper issues (43
# url-safe base64 characters, or 64 hex characters in keys from 2017-era installs). The broad alphabet that
# ``parse_token`` accepts from the private form would flag paths and long identifiers, so chat text needs the exact
# shape, and a mix of character kinds that ordinary words and identifiers do not have.
_URLSAFE_KEY = re.compile(r"(?<![A-Za-z0-9_\-])[A-Za-z0-9_\-]{43}(?![A-Za-z0-9_\-])")
_HEX_KEY = re.compile(r"(?<![A-Za-z0-9_\-])[0-9a-fA-F]{64}(?![A-Za-z0-9_\-])")


def _mixed(word: str) -> bool:
    """Whether ``word`` mixes at least two of upper case, lower case and digits (random keys always do)."""
    kinds = (any(c.isupper() for c in word), any(c.islower() for c in word), any(c.isdigit() for c in word))
    return sum(kinds) >= 2


def exposed_tokens(text: str) -> list[SecretStr]:
    """Every Dentally-key-shaped word in chat ``text`` (each wrapped so it never prints), in order, without repeats.

    Args:
        text: A message someone typed where others can read it.

    Returns:
        The keys found; empty for ordinary text.
    """
    found: list[str] = []
    for pattern in (_URLSAFE_KEY, _HEX_KEY):
        for match in pattern.finditer(text):
            word = match.group(0)
            if (pattern is _HEX_KEY or _mixed(word)) and word not in found:
                found.append(word)
    return [SecretStr(word) for word in found]
