"""Key rotation: re-encrypt every stored Dentally key under the newest encryption key, record by record.

Each clinic record is changed with compare-and-set (``OnboardingService.change_existing_clinic``), so a rotation
may run while replicas serve: a record someone else saved meanwhile is read again and rotated again, and nothing
they wrote is lost. A key already under the newest encryption key is left as it is, so running again changes
nothing. What is rotated: each clinic's connected key, a replacement key held for staff, and the keys kept encrypted
for "Check again".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from conversations.addresses import every_clinic_prefix, parse_clinic_key
from conversations.clinic import Clinic
from conversations.service import OnboardingService
from conversations.vault import KeyVault, VaultError


@dataclass
class RotationReport:
    """What a rotation did, in counts of stored keys; ``undecryptable`` names the clinics (ids and fingerprints)."""

    clinics: int = 0
    rotated: int = 0
    current: int = 0
    undecryptable: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The report for people: counts, then each key no configured encryption key opens (never a key)."""
        lines = [
            f"clinics: {self.clinics}",
            f"rotated: {self.rotated}",
            f"already current: {self.current}",
            f"undecryptable: {len(self.undecryptable)}",
        ]
        lines += [f"  cannot be decrypted: {where}" for where in self.undecryptable]
        return lines


@dataclass
class _Tally:
    rotated: int = 0
    current: int = 0
    undecryptable: list[str] = field(default_factory=list)


def _rotated(vault: KeyVault, ciphertext: str, tally: _Tally, where: str) -> str:
    if vault.is_current(ciphertext):
        tally.current += 1
        return ciphertext
    try:
        rotated = vault.rotate(ciphertext)
    except VaultError:
        tally.undecryptable.append(where)
        return ciphertext
    tally.rotated += 1
    return rotated


async def rotate_keys(service: OnboardingService, vault: KeyVault) -> RotationReport:
    """Re-encrypt every stored key of every clinic under ``vault``'s newest key.

    Returns:
        Counts of keys rotated, already current and undecryptable (those are left untouched).
    """
    report = RotationReport()
    for address, _ in await service.store.scan(every_clinic_prefix()):
        try:
            platform, channel = parse_clinic_key(address)
        except ValueError:
            continue  # not a clinic record of ours
        tally = _Tally()

        def change(clinic: Clinic) -> Clinic:
            # Runs again after a lost race: count only the attempt that is saved.
            nonlocal tally
            tally = _Tally()
            where = f"{clinic.platform} {clinic.channel}"
            update: dict[str, object] = {}
            credential = clinic.credential
            if credential is not None:
                sealed = _rotated(vault, credential.ciphertext, tally, f"{where} credential …{credential.fingerprint}")
                opened = sealed != credential.ciphertext or vault.is_current(sealed)
                if sealed != credential.ciphertext or (opened and credential.undecryptable_at is not None):
                    # A key that opens again is no longer shown as undecryptable.
                    marks = {"undecryptable_at": None} if opened else {}
                    update["credential"] = credential.model_copy(update={"ciphertext": sealed, **marks})
            kept = {
                user: _rotated(vault, sealed, tally, f"{where} kept key of {user}")
                for user, sealed in clinic.unverified_keys.items()
            }
            if kept != clinic.unverified_keys:
                update["unverified_keys"] = kept
            changed = clinic.model_copy(update=update) if update else clinic
            connection = changed.connection
            if connection is not None and "credential" in update:
                # The connection's key is the credential (mirrored): keep them one.
                connection = connection.with_key(update["credential"])  # type: ignore[arg-type]
                changed = changed.with_connection(connection)
            held = connection.pending if connection is not None else None
            if connection is not None and held is not None:
                key = held.key
                sealed = _rotated(vault, key.ciphertext, tally, f"{where} key held for staff …{key.fingerprint}")
                if sealed != key.ciphertext:
                    pending = held.model_copy(update={"key": key.model_copy(update={"ciphertext": sealed})})
                    changed = changed.with_connection(connection.model_copy(update={"pending": pending}))
            return changed

        if await service.change_existing_clinic(platform, channel, change) is None:
            continue  # erased since the scan
        report.clinics += 1
        report.rotated += tally.rotated
        report.current += tally.current
        report.undecryptable += tally.undecryptable
    return report
