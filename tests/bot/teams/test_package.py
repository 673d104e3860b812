"""The Teams app package: the manifest has every required field, the icons their sizes, and the CLI zips them."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from bot.cli import main
from bot.teams.package import DEFAULT_SOURCE, PackageError, build, fill, manifest_problems, png_size, values_for
from tests.bot.teams.harness import CLIENT_ID

VALUES = values_for(CLIENT_ID, "2b7e9a40-5b1d-4f5e-9a31-7f6c1d2e3a4b", "https://guide.aldense.example/")


def test_the_template_fills_into_a_complete_manifest() -> None:
    manifest = fill((DEFAULT_SOURCE / "manifest.json").read_text(encoding="utf-8"), VALUES)
    assert manifest_problems(manifest) == []
    bot = manifest["bots"][0]
    assert bot["botId"] == CLIENT_ID
    assert set(bot["scopes"]) == {"team", "groupChat", "personal"}
    assert [c["title"] for c in bot["commandLists"][0]["commands"]] == ["start", "resume", "help", "status", "onboard"]
    assert "sharedChannels" in manifest["supportedChannelTypes"]
    assert manifest["validDomains"] == ["guide.aldense.example", "*.botframework.com"]
    assert manifest["webApplicationInfo"]["resource"] == f"api://botid-{CLIENT_ID}"


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
