"""Opening a clinic's stored key: one that no configured encryption key opens becomes a visible state.

The keep-alive, the staff re-check and the hand-off all open the stored key here. The first time it cannot be
decrypted the credential is marked (``undecryptable_at``, so the status card says so) and support gets one note;
the mark is a compare-and-set, so however many rounds or replicas find it, only the one that set it writes the note.
A key that opens again (the old encryption key was put back) loses the mark.
"""

from __future__ import annotations

import logging

from pydantic import SecretStr

from bot.core.support import SupportReports
from conversations.clinic import Clinic, StoredCredential
from conversations.service import OnboardingService
from conversations.vault import KeyVault, VaultError

logger = logging.getLogger(__name__)


def undecryptable_note(fingerprint: str) -> str:
    """Support's one note about a stored key that cannot be decrypted, and what to do."""
    return (
        f":warning: The stored key `…{fingerprint}` can't be decrypted with the configured KEY_ENCRYPTION_KEYS, so "
        "it can't be kept alive, re-checked or handed off (Dentally expires a key unused for two weeks). Put back "
        "the encryption key it was stored under (after the newest) and run `aldense-guide keys rotate`, or ask the "
        "clinic for a new key."
    )


async def open_stored_key(
    service: OnboardingService,
    vault: KeyVault,
    reports: SupportReports,
    platform: str,
    channel: str,
    credential: StoredCredential,
) -> SecretStr | None:
    """The stored key of the clinic, or None when no configured encryption key opens it (then marked, once)."""
    try:
        token = vault.decrypt(credential.ciphertext)
    except VaultError:
        await _mark(service, reports, platform, channel, credential, service.clock())
        return None
    if credential.undecryptable_at is not None:
        await _mark(service, reports, platform, channel, credential, None)
    return token


async def _mark(
    service: OnboardingService,
    reports: SupportReports,
    platform: str,
    channel: str,
    credential: StoredCredential,
    at: float | None,
) -> None:
    def change(clinic: Clinic) -> Clinic:
        current = clinic.credential
        # Only the credential that was tried, and only a change of state (set once, cleared once).
        if current is None or current.ciphertext != credential.ciphertext:
            return clinic
        if (current.undecryptable_at is None) == (at is None):
            return clinic
        return clinic.model_copy(update={"credential": current.model_copy(update={"undecryptable_at": at})})

    changed = await service.change_existing_clinic(platform, channel, change)
    if changed is None:
        return
    after, before = changed
    if after == before:
        return
    if at is not None:
        logger.error("a stored key cannot be decrypted: check KEY_ENCRYPTION_KEYS (support was told)")
        await reports.clinic_note(platform, channel, undecryptable_note(credential.fingerprint), broadcast=True)
    else:
        logger.info("a stored key that could not be decrypted opens again")
    await reports.refresh_card(platform, channel)
