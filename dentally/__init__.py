"""Dentally API: regions, async client, scope checker and a local sandbox server."""
