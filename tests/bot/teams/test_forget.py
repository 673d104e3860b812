"""Aldense staff forget a Teams clinic in their 1:1 chat with the bot; nothing about the clinic is left in the store."""

from __future__ import annotations

from bot.fakes.teams.driver import TeamsDriver
from bot.teams.desk import FORGET_IN_CHAT, NOT_STAFF
from tests.bot.harness import RunningBot
from tests.bot.teams.harness import settle
from tests.bot.teams.test_walkthrough import kickoff, start
from tests.bot.test_erasure import everything_stored


async def test_staff_forget_a_teams_clinic_in_their_1_1_chat(
    teams: TeamsDriver, teams_bot: RunningBot, state_url: str
) -> None:
    world = teams.world
    admin = world.member("admin")
    await start(teams, "admin", await kickoff(teams))
    await settle(teams_bot)
    found = (world.shared.id, admin.account_id, admin.aad_object_id, admin.name)

    def about_the_clinic() -> list[str]:
        return [line for line in everything_stored(state_url) if any(text in line for text in found)]

    assert about_the_clinic()  # the scan sees the clinic's guide, record and remembered names before
    # In the shared channel: refused to the clinic, and not done there even for staff.
    await teams.say("admin", world.shared, "forget maple yes")
    await teams.say("staff", world.shared, "forget maple yes")
    await settle(teams_bot)
    notes = {m.targeted_to: m.text for m in teams.in_conversation(world.shared) if m.targeted_to}
    assert notes[admin.account_id] == NOT_STAFF
    assert notes[world.member("staff").account_id] == FORGET_IN_CHAT
    assert about_the_clinic()

    chat = world.chat_with("staff")
    await teams.say("staff", chat, "forget maple", mention=False)
    preview = await teams.wait_for(lambda: next((m for m in teams.in_conversation(chat) if "erases" in m.text), None))
    assert "maple-leaf-dental" in preview.text
    assert "forget maple yes" in preview.text
    assert about_the_clinic()  # a preview changes nothing

    await teams.say("staff", chat, "forget maple yes tell", mention=False)
    done = await teams.wait_for(lambda: next((m for m in teams.in_conversation(chat) if "Done" in m.text), None))
    assert "erased 1 conversation(s), the clinic record (no key was stored)" in done.text
    assert "The clinic was told." in done.text
    await settle(teams_bot)
    assert any("erased what I kept" in m.text for m in teams.in_conversation(world.shared))
    assert about_the_clinic() == []
    # The replica that erased also forgets its cached copy (others keep theirs in memory until they restart).
    assert teams_bot.runtime.teams is not None
    assert await teams_bot.runtime.teams.directory.place(world.shared.id) is None

    await teams.say("staff", chat, "forget maple yes", mention=False)
    await teams.wait_for(lambda: any("No single clinic matches" in m.text for m in teams.in_conversation(chat)))
