"""Stand-ins for the chat platforms on loopback (Slack Web API and users, Teams Bot Connector), for tests and demos."""
