"""Builds the Dentally scope checker from settings, so the bot, the CLI and the playground configure it alike."""

from __future__ import annotations

import httpx

from bot.settings import DentallySettings, SettingsError
from dentally.client import ClientFactory
from dentally.regions import Endpoints, parse_region
from dentally.scopes import ScopeChecker


def dentally_clients(settings: DentallySettings, http: httpx.AsyncClient) -> ClientFactory:
    """Region clients for the configured hosts (``DENTALLY_API_URL``) and detect order (``DENTALLY_REGIONS``).

    Raises:
        SettingsError: One line naming the malformed setting.
    """
    try:
        regions = [parse_region(name) for name in settings.regions.split(",") if name.strip()]
    except ValueError as exc:
        raise SettingsError(f"DENTALLY_REGIONS: {exc}") from None
    try:
        endpoints = Endpoints(settings.api_url or None, regions or None)
    except ValueError as exc:
        raise SettingsError(f"DENTALLY_API_URL / DENTALLY_REGIONS: {exc}") from None
    return ClientFactory(http, endpoints)


def scope_checker(settings: DentallySettings, http: httpx.AsyncClient) -> ScopeChecker:
    """The scope checker of a deployment."""
    return ScopeChecker(dentally_clients(settings, http))
