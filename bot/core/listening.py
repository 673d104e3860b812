"""What the bot does with messages people type in the channels where it runs guides (Slack and Teams alike).

A message that shows a Dentally key gets a warning in its thread at once (revoke it, make a new one privately),
support is told the key's fingerprint, and when it is the clinic's stored key the connection is marked compromised.
Anything else typed in a guide's thread goes to the clinic's support thread, and the person is told a human will
answer; Aldense staff typing there answer the guide's open request for help (it closes, and support is told).
Nothing anyone typed is logged, stored or echoed here: only fingerprints leave this module.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass

from pydantic import SecretStr

from bot.core.messages import KeyExposed, QuestionForwarded
from bot.core.platform import ChatPlatform, Platforms
from bot.core.sos import HelpDesk
from bot.core.support import SupportReports
from conversations.clinic import Clinic, StoredCredential
from conversations.conversation import Conversation
from conversations.service import OnboardingService
from conversations.vault import KeyVault, VaultError, fingerprint
from dentally.token import exposed_tokens

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Heard:
    """A message a person typed in a channel the bot is in, as the platform adapter read it.

    Attributes:
        platform: The platform's name (``slack``, ``teams``).
        team: The installing team (conversation keys are built with it).
        channel: Where it was typed.
        user: Who typed it.
        text: What they typed (never logged; ``repr`` leaves it out).
        ref: The message's own reference (its ``ts`` on Slack, its id on Teams).
        thread: The thread it was typed in, or None at the top level.
        from_staff: Whether the person is on the Aldense team (their words are not forwarded to support).
        to_bot: Whether the words are addressed to the bot (a mention: the platform answers them as a command).
    """

    platform: str
    team: str
    channel: str
    user: str
    text: str
    ref: str
    thread: str | None
    from_staff: bool = False
    to_bot: bool = False

    def __repr__(self) -> str:
        return f"Heard({self.platform}, {self.channel}, {self.user}, ref={self.ref}, thread={self.thread})"


class ThreadListener:
    """Flags pasted keys and forwards questions typed in guide threads."""

    def __init__(
        self,
        service: OnboardingService,
        platforms: Platforms,
        reports: SupportReports,
        vault: KeyVault | None,
        help_desk: HelpDesk | None = None,
    ) -> None:
        self._help_desk = help_desk
        self._service = service
        self._platforms = platforms
        self._reports = reports
        self._vault = vault

    async def heard(self, said: Heard) -> None:
        """Act on one typed message: a key is flagged, a word in a guide's thread goes to support."""
        platform = self._platforms.get(said.platform)
        if platform is None:
            return
        tokens = exposed_tokens(said.text)
        if tokens:
            await self._exposed(platform, said, tokens)
            return
        if said.thread is not None and said.from_staff and not said.to_bot:
            await self._staff_answered(platform, said)
            return
        if said.thread is None or said.from_staff or said.to_bot:
            return
        conversation = await self._guide_of(said)
        if conversation is None:
            return
        await self._reports.clinic_said(conversation, said.user, said.text)
        await platform.tell(said.channel, said.user, QuestionForwarded(), said.thread)

    async def _staff_answered(self, platform: ChatPlatform, said: Heard) -> None:
        """Aldense staff replied in a guide's thread: that answers its open request for help (if any)."""
        conversation = await self._guide_of(said)
        if self._help_desk is None or conversation is None or conversation.stuck_at is None:
            return
        by = await platform.person(said.user)
        await self._help_desk.answered(conversation.key, conversation.stuck_at, by, "answered in their thread")

    async def _guide_of(self, said: Heard) -> Conversation | None:
        """The guide whose thread ``said`` was typed in, or None; after a hand-over, the run that is in progress."""
        runs = [
            conversation
            for conversation in await self._service.conversations(said.platform, said.team, said.channel)
            if conversation.thread_ref == said.thread
        ]
        return next((run for run in runs if run.in_progress), runs[0] if runs else None)

    async def _exposed(self, platform: ChatPlatform, said: Heard, tokens: list[SecretStr]) -> None:
        clinic = await self._service.clinic(said.platform, said.channel)
        credential = clinic.credential if clinic is not None else None
        stored = credential is not None and any(self._is_stored(credential, token) for token in tokens)
        shown = fingerprint(tokens[0])
        # The warning goes where the key is, for everyone who can read it; support is told even if it can't be.
        try:
            await platform.post(said.channel, KeyExposed(shown, stored), thread=said.thread or said.ref)
        except Exception as exc:
            failed = platform.failure(exc)
            if failed is None:
                raise
            logger.warning("could not warn a %s channel about a pasted key: %s", platform.label, failed[1])
        if stored:
            now = self._service.clock()
            await self._service.update_clinic(said.platform, said.channel, lambda record: _mark_exposed(record, now))
        person = await platform.person(said.user)
        listed = ", ".join(f"`…{fingerprint(token)}`" for token in tokens)
        what = (
            "It is the clinic's stored key: the connection is marked compromised and the clinic was asked to revoke "
            "it and set up a new one."
            if stored
            else "It is not the clinic's stored key; the clinic was asked to revoke it."
        )
        await self._reports.clinic_note(
            said.platform,
            said.channel,
            f":rotating_light: {person} pasted a Dentally key ending {listed} into the clinic's channel. {what}",
            broadcast=True,
        )
        logger.warning("a Dentally key was pasted into a %s channel; the clinic was warned", platform.label)

    def _is_stored(self, credential: StoredCredential, token: SecretStr) -> bool:
        """Whether ``token`` is the stored key (compared in constant time; by fingerprint if it can't be decrypted)."""
        if self._vault is not None:
            try:
                kept = self._vault.decrypt(credential.ciphertext).get_secret_value()
            except VaultError:
                logger.error("stored key cannot be decrypted: check KEY_ENCRYPTION_KEYS (compared by fingerprint)")
            else:
                return hmac.compare_digest(kept.encode(), token.get_secret_value().encode())
        return credential.fingerprint == fingerprint(token)


def _mark_exposed(clinic: Clinic, now: float) -> Clinic:
    """The clinic with its connected key marked as pasted in a channel: compromised, a new key is needed."""
    connection = clinic.connection
    if connection is None or connection.key.exposed_at is not None:
        return clinic
    return clinic.with_connection(connection.with_key(connection.key.model_copy(update={"exposed_at": now})))
