"""The Microsoft Teams adapter: the same guide as on Slack, as Adaptive Cards and a dialog, on the Teams SDK."""
