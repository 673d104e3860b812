"""The Teams app package: ``teams/appPackage/manifest.json`` filled in from settings, checked, zipped with its icons.

The manifest is a template with ``{{TEAMS_CLIENT_ID}}``, ``{{TEAMS_APP_ID}}``, ``{{PUBLIC_BASE_URL}}`` and
``{{BOT_DOMAIN}}``; ``aldense-guide teams package`` fills them, refuses a package Teams would reject, and writes the
zip that an admin uploads (manifest and the two icons at the zip's root).
"""

from __future__ import annotations

import json
import re
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DEFAULT_SOURCE = Path(__file__).resolve().parents[2] / "teams" / "appPackage"
ICON_SIZES = {"color": (192, 192), "outline": (32, 32)}
_PLACEHOLDER = re.compile(r"\{\{([A-Z_]+)\}\}")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_REQUIRED_TEXT = (
    ("manifestVersion",),
    ("version",),
    ("id",),
    ("developer", "name"),
    ("developer", "websiteUrl"),
    ("developer", "privacyUrl"),
    ("developer", "termsOfUseUrl"),
    ("name", "short"),
    ("description", "short"),
    ("description", "full"),
    ("icons", "color"),
    ("icons", "outline"),
    ("accentColor",),
)
# Shared channels need the v1.25 channel-features declaration and this resource-specific permission to receive
# member-added events there (Microsoft's "build apps for shared and private channels").
MIN_MANIFEST_VERSION = (1, 25)
CHANNEL_MEMBER_PERMISSION = "ChannelMember.Read.Group"
# Without it a channel message reaches the bot only when it is @-mentioned: a key pasted into the channel, or a
# question typed in a guide's thread, would go unseen.
CHANNEL_MESSAGE_PERMISSION = "ChannelMessage.Read.Group"
# Typed by Aldense staff only: never offered in the command menu of channels and group chats, where clinics are.
STAFF_COMMANDS = frozenset({"status", "onboard"})
_LIMITS = {("name", "short"): 30, ("name", "full"): 100, ("description", "short"): 80, ("description", "full"): 4000}


class PackageError(ValueError):
    """The package cannot be built; the message lists every problem."""


def fill(template: str, values: dict[str, str]) -> dict[str, Any]:
    """The manifest with every ``{{NAME}}`` replaced from ``values``.

    Raises:
        PackageError: A placeholder has no value.
    """
    missing = sorted({name for name in _PLACEHOLDER.findall(template) if not values.get(name)})
    if missing:
        raise PackageError(f"the manifest needs {', '.join(missing)}")
    manifest = json.loads(_PLACEHOLDER.sub(lambda match: values[match.group(1)], template))
    if not isinstance(manifest, dict):
        raise PackageError("manifest.json is not a JSON object")
    return manifest


def manifest_problems(manifest: dict[str, Any]) -> list[str]:
    """Everything the Teams manifest schema requires that ``manifest`` lacks (empty when it is complete)."""
    problems = []
    for path in _REQUIRED_TEXT:
        value = _get(manifest, path)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{'.'.join(path)} is required")
    for path, limit in _LIMITS.items():
        value = _get(manifest, path)
        if isinstance(value, str) and len(value) > limit:
            problems.append(f"{'.'.join(path)} is longer than {limit} characters")
    if isinstance(manifest.get("id"), str) and not _GUID.match(manifest["id"]):
        problems.append("id must be a GUID")
    for path in (("developer", "websiteUrl"), ("developer", "privacyUrl"), ("developer", "termsOfUseUrl")):
        value = _get(manifest, path)
        if isinstance(value, str) and not value.startswith("https://"):
            problems.append(f"{'.'.join(path)} must be an https URL")
    problems += _bot_problems(manifest)
    problems += _shared_channel_problems(manifest)
    domains = manifest.get("validDomains") or []
    if not domains or any(not isinstance(d, str) or "/" in d or ":" in d for d in domains):
        problems.append("validDomains must list host names (no scheme, path or port)")
    return problems


def _shared_channel_problems(manifest: dict[str, Any]) -> list[str]:
    problems = []
    if "sharedChannels" not in (manifest.get("supportedChannelTypes") or []):
        problems.append("supportedChannelTypes must include sharedChannels (clinics join from another tenant)")
    version = str(manifest.get("manifestVersion") or "")
    numbers = tuple(int(part) for part in version.split(".") if part.isdigit())
    if len(numbers) != 2 or numbers < MIN_MANIFEST_VERSION:
        problems.append("manifestVersion must be 1.25 or later (shared channels need supportsChannelFeatures)")
    if manifest.get("supportsChannelFeatures") != "tier1":
        problems.append('supportsChannelFeatures must be "tier1", or the app may not appear in shared channels')
    permissions = ((manifest.get("authorization") or {}).get("permissions") or {}).get("resourceSpecific") or []
    for name, why in (
        (CHANNEL_MEMBER_PERMISSION, "or the bot hears of no one joining a shared channel"),
        (CHANNEL_MESSAGE_PERMISSION, "or the bot sees no key pasted and no question typed without a mention"),
    ):
        if not any(
            isinstance(p, dict) and p.get("name") == name and p.get("type") == "Application" for p in permissions
        ):
            problems.append(f"authorization.permissions.resourceSpecific must grant {name} (Application), {why}")
    return problems


def _bot_problems(manifest: dict[str, Any]) -> list[str]:
    bots = manifest.get("bots")
    if not isinstance(bots, list) or len(bots) != 1:
        return ["bots must hold exactly one bot"]
    bot = bots[0]
    problems = []
    if not isinstance(bot.get("botId"), str) or not _GUID.match(bot["botId"]):
        problems.append("bots[0].botId must be the Entra app (client) id")
    scopes = set(bot.get("scopes") or [])
    if not scopes or not scopes <= {"team", "groupChat", "personal"}:
        problems.append("bots[0].scopes must be some of team, groupChat, personal")
    if "team" not in scopes:
        problems.append("bots[0].scopes must include team (shared channels)")
    for commands in bot.get("commandLists") or []:
        listed = commands.get("commands") or []
        if len(listed) > 10:
            problems.append("a command list holds at most 10 commands")
        shown_to_clinics = set(commands.get("scopes") or []) & {"team", "groupChat"}
        staff = sorted(STAFF_COMMANDS & {str(command.get("title")) for command in listed})
        if shown_to_clinics and staff:
            problems.append(f"staff commands {staff} must not be in the command menu of channels and group chats")
        for command in listed:
            if not command.get("title") or len(command["title"]) > 32 or len(command.get("description", "")) > 128:
                problems.append(f"command {command.get('title')!r} needs a title ≤ 32 and a description ≤ 128")
    return problems


def png_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG, or None when ``data`` is not one."""
    if len(data) < 24 or not data.startswith(b"\x89PNG\r\n\x1a\n") or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def png_opaque(data: bytes) -> bool:
    """Whether every pixel of an 8-bit, non-interlaced PNG is fully opaque (Teams wants a full-square color icon).

    RGB and greyscale without a ``tRNS`` chunk are opaque by definition; RGBA and grey+alpha are decoded (the
    color icon is small). Any other kind of PNG, or a damaged one, counts as not proven opaque.
    """
    try:
        return _opaque(data)
    except (struct.error, zlib.error, IndexError):
        return False


def _opaque(data: bytes) -> bool:
    chunks: dict[bytes, bytes] = {}
    pos = 8
    while pos + 8 <= len(data):
        (length,), kind = struct.unpack(">I", data[pos : pos + 4]), data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        chunks[kind] = chunks.get(kind, b"") + body if kind == b"IDAT" else body
        pos += 12 + length
    header = chunks.get(b"IHDR", b"")
    if len(header) != 13:
        return False
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", header)
    if depth != 8 or interlace != 0:
        return False
    if color in (0, 2):
        return b"tRNS" not in chunks
    channels = {4: 2, 6: 4}.get(color)
    if channels is None:
        return False
    raw = zlib.decompress(chunks.get(b"IDAT", b""))
    stride = width * channels
    previous = bytearray(stride)
    for row in range(height):
        start = row * (stride + 1)
        line = _unfilter(raw[start], bytearray(raw[start + 1 : start + 1 + stride]), previous, channels)
        if any(alpha != 255 for alpha in line[channels - 1 :: channels]):
            return False
        previous = line
    return True


def _unfilter(kind: int, line: bytearray, previous: bytearray, step: int) -> bytearray:
    for i in range(len(line)):
        left = line[i - step] if i >= step else 0
        up, corner = previous[i], (previous[i - step] if i >= step else 0)
        if kind == 1:
            line[i] = (line[i] + left) & 255
        elif kind == 2:
            line[i] = (line[i] + up) & 255
        elif kind == 3:
            line[i] = (line[i] + (left + up) // 2) & 255
        elif kind == 4:
            guess = left + up - corner
            near = min((abs(guess - left), 0, left), (abs(guess - up), 1, up), (abs(guess - corner), 2, corner))
            line[i] = (line[i] + near[2]) & 255
    return line


def build(source: Path, out: Path, values: dict[str, str]) -> dict[str, Any]:
    """Fill, check and zip the package in ``source`` into ``out``; returns the manifest written.

    Raises:
        PackageError: Every problem found, one per line.
    """
    try:
        template = (source / "manifest.json").read_text(encoding="utf-8")
    except OSError as exc:
        raise PackageError(f"cannot read {source / 'manifest.json'} ({exc.strerror})") from None
    manifest = fill(template, values)
    problems = manifest_problems(manifest)
    icons: dict[str, bytes] = {}
    for kind, size in ICON_SIZES.items():
        name = str(_get(manifest, ("icons", kind)) or "")
        try:
            icons[name] = (source / name).read_bytes()
        except OSError:
            problems.append(f"icon {name!r} is missing")
            continue
        if png_size(icons[name]) != size:
            problems.append(f"the {kind} icon must be a {size[0]}×{size[1]} PNG")
        elif kind == "color" and not png_opaque(icons[name]):
            problems.append("the color icon must be a full square: no transparent or see-through pixels")
    if problems:
        raise PackageError("\n".join(problems))
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))
        for name, data in icons.items():
            package.writestr(name, data)
    return manifest


def values_for(client_id: str, app_id: str, public_base_url: str) -> dict[str, str]:
    """Placeholder values from settings: ids, the public https base and its host name."""
    base = public_base_url.rstrip("/")
    return {
        "TEAMS_CLIENT_ID": client_id,
        "TEAMS_APP_ID": app_id,
        "PUBLIC_BASE_URL": base,
        "BOT_DOMAIN": urlsplit(base).hostname or "",
    }


def _get(manifest: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = manifest
    for name in path:
        node = node.get(name) if isinstance(node, dict) else None
    return node
