"""Which stored records this release can read: the rule that lets replicas of two releases share one store.

A record's ``schema_version`` is ``MAJOR`` (an integer, as every release so far writes it) or ``"MAJOR.MINOR"``.

- A reader accepts any record whose major is from 1 up to the highest major it knows, whatever its minor, and
  ignores fields it does not know (nested ones too). So during a rolling deploy an older replica reads what a newer
  one wrote.
- A writer writes only the fields it knows, under its own version. A newer release must therefore read every field
  it adds as optional, with a default that is right for records older replicas keep writing: that is a *minor*
  change.
- A change that older readers would misread (a renamed field, a field whose meaning changed) raises the *major*.
  Older replicas then refuse such records with ``IncompatibleRecord`` instead of mangling them, so that release
  needs every replica stopped, or a release in between that reads both.
- An outbox effect keeps every field it was written with until it is carried out, so whichever replica runs it sees
  what it knows. A new *kind* of effect is unknown to older replicas (``load_effect`` refuses it), so a release that
  adds one must not save it until no older replica runs (say, one release later).
"""

from __future__ import annotations

import re
from typing import Any

_VERSION = re.compile(r"([1-9][0-9]*)(?:\.([0-9]+))?")


class IncompatibleRecord(Exception):
    """A stored record was written by a release whose records this one cannot read.

    Deliberately not a ``ValueError``: validation wraps those, and this must reach the caller as itself.
    """


def parse_version(value: object) -> tuple[int, int]:
    """The (major, minor) of a ``schema_version``; raises ``IncompatibleRecord`` for anything that is not one."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value, 0
    match = _VERSION.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise IncompatibleRecord(f"schema_version {str(value)[:20]!r} is not MAJOR or 'MAJOR.MINOR'")
    return int(match.group(1)), int(match.group(2) or 0)


def readable(kind: str, data: Any, *, major: int, writes: object) -> Any:
    """Check a raw record before it is read, and label it with the version this release writes.

    Args:
        kind: What the record is, for the error message (``conversation``, ``clinic``).
        data: The raw record as decoded from JSON (anything else is left to validation to refuse).
        major: The highest major this release reads.
        writes: The ``schema_version`` this release writes; what is read is saved again under it, without the
            fields this release does not know.

    Raises:
        IncompatibleRecord: The record's major is newer than ``major``, or its version is malformed.
    """
    if not isinstance(data, dict) or "schema_version" not in data:
        return data
    found_major, found_minor = parse_version(data["schema_version"])
    if found_major > major:
        reads = "1.x" if major == 1 else f"1.x to {major}.x"
        raise IncompatibleRecord(
            f"this {kind} record has schema {found_major}.{found_minor}, written by a newer release this one cannot "
            f"read (it reads schema {reads}): finish the deploy of the newer release, or roll it back"
        )
    return {**data, "schema_version": writes}
