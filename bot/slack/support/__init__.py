"""Aldense support in Slack: the live status card per clinic, its thread, staff commands, buttons and App Home."""
