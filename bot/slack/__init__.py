"""Slack: the Bolt app, thin listeners, payload readers, Block Kit renderers, and support's desk in Slack."""
