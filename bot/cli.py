"""The ``aldense-guide`` command: run the bot, validate a guide, manage encryption keys and other tools."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

import uvicorn

from bot.logs import configure_logging
from bot.runtime import open_runtime
from bot.settings import Settings, SettingsError, load_settings
from conversations.guide import DEFAULT_GUIDE, GuideError, load_guide

logger = logging.getLogger("aldense_guide")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aldense-guide", description="Aldense Guide: the Dentally set-up bot.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the bot (HTTP mode, or --socket for Socket Mode)")
    run.add_argument("--socket", action="store_true", help="use Socket Mode (development) instead of HTTP")
    run.add_argument("--port", type=int, help="HTTP port (default: PORT, 3000)")
    run.add_argument("--host", default="0.0.0.0", help="interface to bind (default: all)")  # noqa: S104

    guide = commands.add_parser("guide", help="guide tools")
    guide_commands = guide.add_subparsers(dest="guide_command", required=True, metavar="SUBCOMMAND")
    validate = guide_commands.add_parser("validate", help="check a guide file and its pictures")
    validate.add_argument("path", nargs="?", default=str(DEFAULT_GUIDE), help="guide YAML (default: built-in)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "guide":
            return _validate_guide(args.path)
        if args.command == "run":
            return _run(args)
    except SettingsError as exc:
        print(f"aldense-guide: configuration error: {exc}", file=sys.stderr)
        return 2
    except GuideError as exc:
        print(f"aldense-guide: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 2  # pragma: no cover - argparse rejects unknown commands first


def _validate_guide(path: str) -> int:
    guide = load_guide(path)
    print(f"guide {guide.id} v{guide.version}: {guide.step_count} steps, every picture and alt text present — OK")
    return 0


def _run(args: argparse.Namespace) -> int:
    settings = load_settings("socket" if args.socket else "http")
    configure_logging(settings.server.log_level)
    if not settings.server.public_base_url:
        logger.warning("PUBLIC_BASE_URL is not set: steps are posted without pictures")
    port = args.port or settings.server.port
    asyncio.run(_serve(settings, args.host, port, args.socket))
    return 0


async def _serve(settings: Settings, host: str, port: int, socket_mode: bool) -> None:
    async with open_runtime(settings, socket_mode=socket_mode) as runtime:
        await runtime.context.workspace.ensure()
        logger.info("connected to Slack team %s; state in %s", runtime.context.workspace.team_id, runtime.store)
        server = uvicorn.Server(uvicorn.Config(runtime.http_app, host=host, port=port, log_level="warning"))
        if socket_mode:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            assert settings.slack.app_token is not None
            socket = AsyncSocketModeHandler(runtime.bolt, settings.slack.app_token.get_secret_value())
            await socket.connect_async()  # type: ignore[no-untyped-call]
            logger.info("Socket Mode connected; health and pictures on http://%s:%d", host, port)
            try:
                await server.serve()
            finally:
                await socket.close_async()  # type: ignore[no-untyped-call]
        else:
            logger.info("listening on http://%s:%d/slack/events", host, port)
            await server.serve()


if __name__ == "__main__":
    sys.exit(main())
