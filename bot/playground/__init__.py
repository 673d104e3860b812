"""The whole product in a browser on loopback: the real bot, a Slack look-alike page, and the Dentally sandbox."""

from bot.playground.page import PlaygroundPage
from bot.playground.server import DEFAULT_PORT, Playground, open_playground, playground_settings

__all__ = ["DEFAULT_PORT", "Playground", "PlaygroundPage", "open_playground", "playground_settings"]
