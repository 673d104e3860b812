"""Key rotation over real stores: every stored key ends under the newest key, re-runs change nothing, and writes
made while it runs (another replica saving the same clinic) are never lost."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from conversations.clinic import Clinic, StoredCredential
from conversations.guide import load_guide
from conversations.rotation import rotate_keys
from conversations.service import OnboardingService
from conversations.stores import open_store
from conversations.vault import KeyVault, new_secret

OLD, NEW, LOST = new_secret(), new_secret(), new_secret()
KEY = SecretStr("RotationKey_4f8Hq2Lm9Xc-Tz6Vb1Nw3Ks7Pd5Jr0A")


@pytest.fixture(params=["sqlite", "redis"])
async def service(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[OnboardingService]:
    url = f"sqlite:///{tmp_path}/state.sqlite3" if request.param == "sqlite" else request.getfixturevalue("redis_url")
    store = open_store(url)
    try:
        yield OnboardingService(store, load_guide())
    finally:
        await store.aclose()


def stored(vault: KeyVault, undecryptable_at: float | None = None) -> StoredCredential:
    return StoredCredential(
        ciphertext=vault.encrypt(KEY),
        fingerprint="7P0A",
        region="uk",
        scopes=("user:read",),
        verified_at=1.0,
        verified_by="U1",
        undecryptable_at=undecryptable_at,
    )


async def seed(service: OnboardingService, channel: str, change: dict[str, object]) -> None:
    await service.update_clinic("slack", channel, lambda clinic: clinic.model_copy(update=change))


async def test_rotation_moves_every_key_to_the_newest_and_a_rerun_changes_nothing(
    service: OnboardingService,
) -> None:
    old, lost = KeyVault([OLD]), KeyVault([LOST])
    await seed(service, "C1", {"credential": stored(old), "unverified_keys": {"U2": old.encrypt(KEY)}})
    await seed(service, "C2", {"credential": stored(KeyVault([NEW]), undecryptable_at=5.0)})
    await seed(service, "C3", {"credential": stored(lost)})
    await seed(service, "C4", {"name": "No key yet"})
    rotating = KeyVault([NEW, OLD])

    report = await rotate_keys(service, rotating)

    assert (report.clinics, report.rotated, report.current) == (4, 2, 1)
    assert report.undecryptable == ["slack C3 credential …7P0A"]
    newest = KeyVault([NEW])  # OLD can now be removed: everything opens with NEW alone
    first = await service.clinic("slack", "C1")
    assert first is not None
    assert first.credential is not None
    assert newest.decrypt(first.credential.ciphertext).get_secret_value() == KEY.get_secret_value()
    assert newest.decrypt(first.unverified_keys["U2"]).get_secret_value() == KEY.get_secret_value()
    second = await service.clinic("slack", "C2")
    assert second is not None
    assert second.credential is not None
    assert second.credential.undecryptable_at is None  # it opens: no longer shown as undecryptable
    versions = {address: record.version for address, record in await service.store.scan("aldense:v1:clinic:")}

    again = await rotate_keys(service, rotating)

    assert (again.rotated, again.current, len(again.undecryptable)) == (0, 3, 1)
    assert {address: record.version for address, record in await service.store.scan("aldense:v1:clinic:")} == versions


async def test_rotation_while_a_replica_saves_the_same_clinics_loses_no_write(service: OnboardingService) -> None:
    old = KeyVault([OLD])
    channels = [f"C{index}" for index in range(8)]
    for channel in channels:
        await seed(service, channel, {"credential": stored(old), "unverified_keys": {"U2": old.encrypt(KEY)}})

    async def replica(channel: str, round_: int) -> None:
        def note(clinic: Clinic) -> Clinic:
            return clinic.model_copy(update={"name": f"{clinic.name or ''}{round_}"})

        await service.update_clinic("slack", channel, note)

    report, *_ = await asyncio.gather(
        rotate_keys(service, KeyVault([NEW, OLD])),
        *(replica(channel, round_) for round_ in range(5) for channel in channels),
    )

    assert report.rotated == 16
    newest = KeyVault([NEW])
    for channel in channels:
        clinic = await service.clinic("slack", channel)
        assert clinic is not None
        assert clinic.credential is not None
        assert sorted(clinic.name or "") == list("01234")  # every replica's write kept
        assert newest.is_current(clinic.credential.ciphertext)
        assert newest.is_current(clinic.unverified_keys["U2"])
