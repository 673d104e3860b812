"""The Teams app package: the manifest has every required field, the icons their sizes, and the CLI zips them."""

from __future__ import annotations

import json
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import httpx
import jsonschema
import pytest

from bot.cli import main
from bot.fakes.slack import SlackApiSandbox
from bot.fakes.teams.driver import TeamsWorld
from bot.teams.package import (
    DEFAULT_SOURCE,
    PackageError,
    build,
    fill,
    manifest_problems,
    png_opaque,
    png_size,
    values_for,
)
from tests.bot.teams.harness import CLIENT_ID
from tests.quick_stop import QUICK_STOP

SCHEMA = Path(__file__).with_name("schemas") / "teams-manifest.schema.1.25.json"
VALUES = values_for(CLIENT_ID, "2b7e9a40-5b1d-4f5e-9a31-7f6c1d2e3a4b", "https://guide.aldense.example/")


def test_the_template_fills_into_a_complete_manifest() -> None:
    manifest = fill((DEFAULT_SOURCE / "manifest.json").read_text(encoding="utf-8"), VALUES)
    assert manifest_problems(manifest) == []
    bot = manifest["bots"][0]
    assert bot["botId"] == CLIENT_ID
    assert set(bot["scopes"]) == {"team", "groupChat", "personal"}
    menus = {tuple(menu["scopes"]): [c["title"] for c in menu["commands"]] for menu in bot["commandLists"]}
    assert menus == {("team", "groupChat"): ["start", "resume", "help"], ("personal",): ["help", "status"]}
    assert "sharedChannels" in manifest["supportedChannelTypes"]
    assert manifest["validDomains"] == ["guide.aldense.example", "*.botframework.com"]
    assert manifest["webApplicationInfo"]["resource"] == f"api://botid-{CLIENT_ID}"


def manifest_schema_errors(manifest: dict[str, object]) -> list[str]:
    """What Microsoft's official v1.25 manifest schema refuses (draft-04, no references to other files)."""
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.validators.validator_for(schema)(schema, format_checker=jsonschema.FormatChecker())
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(manifest)]


def test_the_built_package_passes_the_official_v1_25_manifest_schema(tmp_path: Path) -> None:
    manifest = build(DEFAULT_SOURCE, tmp_path / "package.zip", VALUES)
    assert manifest_schema_errors(manifest) == []
    with zipfile.ZipFile(tmp_path / "package.zip") as package:
        assert manifest_schema_errors(json.loads(package.read("manifest.json"))) == []
    assert manifest["manifestVersion"] == "1.25"
    assert manifest["$schema"].endswith("/v1.25/MicrosoftTeams.schema.json")
    assert manifest["supportsChannelFeatures"] == "tier1"
    granted = manifest["authorization"]["permissions"]["resourceSpecific"]
    assert {"name": "ChannelMember.Read.Group", "type": "Application"} in granted
    # Channel messages without a mention: a pasted key, a question typed in a guide's thread.
    assert {"name": "ChannelMessage.Read.Group", "type": "Application"} in granted


def test_the_schema_check_and_ours_refuse_a_manifest_without_shared_channel_support() -> None:
    manifest = fill((DEFAULT_SOURCE / "manifest.json").read_text(encoding="utf-8"), VALUES)
    manifest["supportsChannelFeatures"] = "tier2"
    assert any("supportsChannelFeatures" in error for error in manifest_schema_errors(manifest))
    del manifest["supportsChannelFeatures"]
    del manifest["authorization"]
    manifest["manifestVersion"] = "1.20"
    manifest["bots"][0]["commandLists"][0]["commands"].append({"title": "status", "description": "staff only"})
    problems = manifest_problems(manifest)
    assert any("supportsChannelFeatures" in p for p in problems)
    assert any("ChannelMember.Read.Group" in p for p in problems)
    assert any("ChannelMessage.Read.Group" in p for p in problems)
    assert any("manifestVersion" in p for p in problems)
    assert any("staff commands ['status']" in p for p in problems)


def test_the_icons_have_teams_sizes() -> None:
    assert png_size((DEFAULT_SOURCE / "color.png").read_bytes()) == (192, 192)
    assert png_size((DEFAULT_SOURCE / "outline.png").read_bytes()) == (32, 32)
    assert png_size(b"GIF89a") is None


def test_missing_fields_and_values_are_named() -> None:
    manifest = fill((DEFAULT_SOURCE / "manifest.json").read_text(encoding="utf-8"), VALUES)
    del manifest["developer"]["privacyUrl"]
    manifest["bots"][0]["botId"] = "not-a-guid"
    manifest["supportedChannelTypes"] = []
    manifest["validDomains"] = ["https://guide.aldense.example"]
    problems = manifest_problems(manifest)
    assert "developer.privacyUrl is required" in problems
    assert any("botId" in p for p in problems)
    assert any("sharedChannels" in p for p in problems)
    assert any("validDomains" in p for p in problems)
    with pytest.raises(PackageError, match="TEAMS_CLIENT_ID"):
        fill('{"id": "{{TEAMS_CLIENT_ID}}"}', {})


def test_a_package_with_a_wrong_icon_is_refused(tmp_path: Path) -> None:
    for name in ("manifest.json", "color.png"):
        (tmp_path / name).write_bytes((DEFAULT_SOURCE / name).read_bytes())
    (tmp_path / "outline.png").write_bytes((DEFAULT_SOURCE / "color.png").read_bytes())
    with pytest.raises(PackageError, match="outline icon must be a 32×32 PNG"):
        build(tmp_path, tmp_path / "out.zip", VALUES)


def test_the_cli_builds_the_zip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "package.zip"
    monkeypatch.setenv("TEAMS_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://guide.aldense.example")
    assert main(["teams", "package", "--out", str(out)]) == 0
    with zipfile.ZipFile(out) as package:
        assert sorted(package.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(package.read("manifest.json"))
    assert manifest_problems(manifest) == []
    assert manifest["bots"][0]["botId"] == CLIENT_ID
    assert "wrote" in capsys.readouterr().out
    monkeypatch.delenv("PUBLIC_BASE_URL")
    assert main(["teams", "package", "--out", str(out)]) == 2
    assert "PUBLIC_BASE_URL" in capsys.readouterr().err


def test_run_teams_only_needs_the_teams_credentials(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("TEAMS_CLIENT_ID", "TEAMS_CLIENT_SECRET", "TEAMS_TENANT_ID"):
        monkeypatch.delenv(name, raising=False)
    assert main(["run", "--teams-only", "--port", "1"]) == 2
    assert "TEAMS_CLIENT_ID is required" in capsys.readouterr().err
    monkeypatch.setenv("TEAMS_CLIENT_ID", CLIENT_ID)
    assert main(["run", "--teams-only", "--port", "1"]) == 2
    assert "TEAMS_CLIENT_SECRET is required" in capsys.readouterr().err


def test_run_refuses_a_public_base_url_teams_cannot_fetch_pictures_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TEAMS_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("TEAMS_CLIENT_SECRET", "teams-client-secret-not-real")
    monkeypatch.setenv("TEAMS_TENANT_ID", "5d0b7c1e-0000-4000-8000-a1de05e00000")
    monkeypatch.setenv("STATE_URL", f"sqlite:///{tmp_path / 'state.sqlite3'}")
    # Support reports in Slack; the token is never used, as the check refuses before anything connects.
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-not-a-real-token")
    for url in ("http://guide.aldense.example", "http://127.0.0.1:8080"):
        monkeypatch.setenv("PUBLIC_BASE_URL", url)
        assert main(["run", "--teams-only", "--port", "1"]) == 2
        errors = [line for line in capsys.readouterr().err.splitlines() if "configuration error" in line]
        assert len(errors) == 1, errors
        assert "PUBLIC_BASE_URL must be an https:// address when Teams is on" in errors[0]


async def test_plain_http_on_loopback_is_only_for_local_auth(
    api: SlackApiSandbox, state_url: str, dentally_url: str
) -> None:
    from bot.settings import SettingsError
    from tests.bot.teams.harness import running_teams_bot, teams_settings

    world = TeamsWorld()
    local = teams_settings(api, state_url, dentally_url, world, server__public_base_url="http://127.0.0.1:9")
    async with running_teams_bot(local) as bot:
        assert bot.runtime.teams is not None
    remote = teams_settings(api, state_url, dentally_url, world, server__public_base_url="http://guide.example")
    with pytest.raises(SettingsError, match="PUBLIC_BASE_URL"):
        async with running_teams_bot(remote):
            pass
    with pytest.raises(SettingsError, match="PUBLIC_BASE_URL"):
        async with running_teams_bot(local, local_auth=None):
            pass


def test_the_color_icon_is_a_full_square(tmp_path: Path) -> None:
    assert png_opaque((DEFAULT_SOURCE / "color.png").read_bytes())
    # The outline icon is a white shape on transparency: the check tells the two apart.
    assert not png_opaque((DEFAULT_SOURCE / "outline.png").read_bytes())
    for name in ("manifest.json", "outline.png"):
        (tmp_path / name).write_bytes((DEFAULT_SOURCE / name).read_bytes())
    see_through = _rgba_png(192, 192, alpha_at=lambda x, y: 0 if x + y < 20 else 255)  # a clipped corner
    (tmp_path / "color.png").write_bytes(see_through)
    with pytest.raises(PackageError, match="color icon must be a full square"):
        build(tmp_path, tmp_path / "out.zip", VALUES)


def _rgba_png(width: int, height: int, alpha_at: Callable[[int, int], int]) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    rows = b"".join(
        b"\x00" + bytes(value for x in range(width) for value in (31, 111, 139, alpha_at(x, y))) for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


async def test_teams_alone_runs_without_any_slack_setting(state_url: str, dentally_url: str) -> None:
    """The README's Teams-only deployment: no SLACK_* at all, so no Slack endpoint and no support reporting."""
    from bot.runtime import open_runtime
    from bot.serving import serve
    from bot.settings import load_settings
    from tests.bot.teams.harness import LOCAL_AUTH

    world = TeamsWorld()
    settings = load_settings(
        "teams-only",
        teams__client_id=CLIENT_ID,
        teams__client_secret="teams-client-secret-not-real",
        teams__tenant_id=world.aldense_tenant,
        server__state_url=state_url,
        dentally__api_url=f"{dentally_url}/{{region}}",
    )
    async with (
        open_runtime(settings, teams_only=True, teams_local_auth=LOCAL_AUTH) as runtime,
        serve(runtime.http_app, poll_seconds=QUICK_STOP) as url,
    ):
        assert runtime.bolt is None
        assert runtime.core.platforms.names == ("teams",)
        async with httpx.AsyncClient() as http:
            assert (await http.post(f"{url}/slack/events", content=b"{}")).status_code == 404
            assert (await http.get(f"{url}/healthz")).status_code == 200
