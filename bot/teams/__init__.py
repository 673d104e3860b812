"""The Microsoft Teams adapter: the same guide as on Slack, as Adaptive Cards and a dialog, on the Teams SDK."""

# Before any other module of this package imports the SDK: ``sdk`` imports it without letting it load ``.env``.
from bot.teams import sdk as _sdk  # noqa: F401
