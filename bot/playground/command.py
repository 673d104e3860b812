"""``aldense-guide playground``: its arguments, and serving until Ctrl+C with the URL and sample keys printed."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.logs import configure_logging
from bot.playground.server import DEFAULT_PORT, LOOPBACK, open_playground
from dentally.sandbox import MODES, format_sample_keys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the playground's options to its subcommand parser.

    Args:
        parser: The ``playground`` subparser.
    """
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"page port on 127.0.0.1 (default {DEFAULT_PORT})"
    )
    parser.add_argument("--guide", type=Path, help="preview this guide file instead of the built-in Dentally guide")
    parser.add_argument("--state", type=Path, help="keep state in this SQLite file (default: a temporary file)")
    parser.add_argument(
        "--dentally-mode",
        action="append",
        default=[],
        choices=sorted(MODES),
        help="switch on a Dentally sandbox behaviour, e.g. lookup-first (repeat for several)",
    )
    parser.add_argument(
        "--no-rate-limits",
        action="store_true",
        help="let the Slack stand-in answer every call (by default it enforces Slack's rate limits, answering 429)",
    )


def run(args: argparse.Namespace) -> int:
    """Serve the playground until Ctrl+C (or SIGTERM); returns the exit code.

    Args:
        args: Parsed ``playground`` arguments.
    """
    if args.port and not _port_free(args.port):
        print(f"aldense-guide: port {args.port} on {LOOPBACK} is in use; choose another with --port", file=sys.stderr)
        return 2
    configure_logging("INFO")
    asyncio.run(_serve(args.port, args.guide, args.state, args.dentally_mode, rate_limits=not args.no_rate_limits))
    return 0


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


async def _serve(
    port: int, guide: Path | None, state: Path | None, modes: Sequence[str] = (), *, rate_limits: bool = True
) -> None:
    async with open_playground(
        port=port, guide=guide, state=state, dentally_modes=modes, rate_limits=rate_limits
    ) as playground:
        print(playground.describe(), flush=True)
        print(f"\n{format_sample_keys(playground.sample_keys)}", flush=True)
        print(
            f"\nOpen {playground.url} — you act as the clinic admin; switch person at the top of the page.\n"
            "Copy a sample key from the page's 'Sample Dentally keys' menu into the key form ('over_granted' shows\n"
            '"couldn\'t prove"; --dentally-mode lookup-first makes every full key show it). Ctrl+C stops.',
            flush=True,
        )
        stopped = asyncio.Event()
        with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows' default loop
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopped.set)
        await stopped.wait()
