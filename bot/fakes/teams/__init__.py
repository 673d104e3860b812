"""A Teams stand-in on loopback: a Bot Framework-compatible connector and a driver that plays Teams users."""
