"""The chat side of Aldense Guide: composition root, the platform-neutral core, Slack and Teams, and their stand-ins."""
