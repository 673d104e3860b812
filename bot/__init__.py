"""Slack adapter and composition root: settings, CLI, listeners, Block Kit renderers, HTTP server."""
