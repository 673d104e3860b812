"""Import rules of the architecture: the core knows no platform SDK, and platforms never import each other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLATFORM_SDKS = ("slack_bolt", "slack_sdk", "microsoft_teams")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _modules(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def _offending(folder: str, forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    found = {}
    for path in _modules(folder):
        bad = sorted(name for name in _imports(path) if name.startswith(forbidden))
        if bad:
            found[str(path.relative_to(ROOT))] = bad
    return found


@pytest.mark.parametrize("folder", ["bot/core", "conversations", "dentally"])
def test_platform_neutral_code_imports_no_platform_sdk(folder: str) -> None:
    assert _modules(folder), f"{folder} has no modules"
    assert _offending(folder, (*PLATFORM_SDKS, "bot.slack", "bot.teams", "bot.fakes")) == {}


@pytest.mark.parametrize("folder", ["conversations", "dentally"])
def test_the_domain_never_imports_the_chat_side(folder: str) -> None:
    assert _offending(folder, ("bot",)) == {}


def test_slack_and_teams_never_import_each_other() -> None:
    assert _offending("bot/slack", ("bot.teams", "microsoft_teams")) == {}
    assert _offending("bot/teams", ("bot.slack", "slack_bolt", "slack_sdk")) == {}


def test_the_rule_sees_a_violation(tmp_path: Path) -> None:
    module = tmp_path / "bad.py"
    module.write_text("import slack_sdk\nfrom bot.teams.cards import card\n")
    assert _imports(module) == {"slack_sdk", "bot.teams.cards"}
