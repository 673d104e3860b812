"""The Slack sandbox as a process of its own for benchmarks, with a world of clinics sized on the command line.

``python -m benchmarks.slack_server --clinics 10 --people 10`` serves on a free loopback port and prints
``listening on http://127.0.0.1:PORT`` once it is ready. The benchmark builds the same world with
:func:`bench_workspace` to address its users.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from bot.fakes.slack import SlackApiSandbox
from bot.fakes.slack.workspace import Team, User, Workspace


def clinic_channel(clinic: int) -> str:
    """The shared channel of clinic ``clinic``."""
    return f"C0BC{clinic:03d}"


def person(clinic: int, index: int) -> str:
    """The user id of person ``index`` of clinic ``clinic``."""
    return f"U0BC{clinic:03d}P{index:03d}"


def bench_workspace(clinics: int, people: int) -> Workspace:
    """The default world plus ``clinics`` clinics of ``people`` people, each clinic in its own shared channel."""
    workspace = Workspace()
    for clinic in range(clinics):
        team = Team(f"T0BC{clinic:03d}", f"Bench clinic {clinic}", f"bench-{clinic}")
        users = [
            User(person(clinic, index), team.id, f"bench{clinic}-{index}", f"Bench {clinic}-{index}")
            for index in range(people)
        ]
        workspace.add_clinic(team, clinic_channel(clinic), f"bench-clinic-{clinic}", users)
    return workspace


async def _serve(clinics: int, people: int) -> None:
    sandbox = SlackApiSandbox(bench_workspace(clinics, people), max_changes=200_000)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with sandbox.serve() as url:
        print(f"listening on {url}", flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    """Serve until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clinics", type=int, default=0)
    parser.add_argument("--people", type=int, default=0, help="people per clinic")
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.clinics, args.people))


if __name__ == "__main__":
    main()
