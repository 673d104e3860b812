"""The ``aldense-guide`` command: run the bot, validate a guide, manage encryption keys and other tools."""

from __future__ import annotations

import argparse
import asyncio
import gc
import getpass
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import aiohttp
import httpx
import redis.exceptions
import uvicorn
from slack_sdk.errors import SlackApiError

from bot.dentally_wiring import dentally_clients, scope_checker
from bot.logs import configure_logging
from bot.playground import command as playground_command
from bot.runtime import http_limits, key_vault, load_checked_guide, open_runtime
from bot.serving import serve, server_config
from bot.settings import Mode, Settings, SettingsError, load_settings
from bot.slack.calls import slack_error
from bot.usage import QuietParser
from conversations.guide import DEFAULT_GUIDE, GuideError
from conversations.vault import new_secret
from dentally.calibrate import calibrate, format_profile
from dentally.regions import parse_region
from dentally.report import exit_code, format_check
from dentally.sandbox import MODES, Sandbox, format_sample_keys, switches_for
from dentally.token import TokenFormatError, parse_token

logger = logging.getLogger("aldense_guide")


def _parser() -> argparse.ArgumentParser:
    parser = QuietParser(prog="aldense-guide", description="Aldense Guide: the Dentally set-up bot.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the bot (HTTP mode, or --socket for Socket Mode)")
    run.add_argument("--socket", action="store_true", help="use Socket Mode (development) instead of HTTP")
    run.add_argument("--port", type=int, help="HTTP port (default: PORT, 3000)")
    run.add_argument("--host", default="0.0.0.0", help="interface to bind (default: all)")  # noqa: S104
    run.add_argument(
        "--teams-only", action="store_true", help="serve Microsoft Teams alone (POST /api/messages), no Slack endpoint"
    )

    guide = commands.add_parser("guide", help="guide tools")
    guide_commands = guide.add_subparsers(dest="guide_command", required=True, metavar="SUBCOMMAND")
    validate = guide_commands.add_parser("validate", help="check a guide file and its pictures")
    validate.add_argument("path", nargs="?", default=str(DEFAULT_GUIDE), help="guide YAML (default: built-in)")

    check = commands.add_parser(
        "check-key",
        help="check a Dentally key's permissions (key read from stdin); exit 0 verified, 1 missing or invalid, "
        "2 could not check or could not prove",
    )
    check.add_argument("--region", choices=["uk", "au", "ca", "sandbox", "detect"], default="detect")
    check.add_argument("--verbose", action="store_true", help="show how each permission was proven, and the evidence")

    calibrate = commands.add_parser(
        "dentally-calibrate",
        help="profile a real Dentally with two keys read from stdin (User Read only, then the five scopes)",
    )
    calibrate.add_argument("--region", choices=["uk", "au", "ca", "sandbox"], default="uk")

    sandbox = commands.add_parser("dentally-sandbox", help="serve a local Dentally look-alike with sample keys")
    sandbox.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (default 8765)")
    add_mode_argument(sandbox)

    playground = commands.add_parser("playground", help="the whole product in your browser, no accounts needed")
    playground_command.add_arguments(playground)

    keys = commands.add_parser("keys", help="encryption keys for stored Dentally keys")
    keys_commands = keys.add_subparsers(dest="keys_command", required=True, metavar="SUBCOMMAND")
    keys_commands.add_parser("new-secret", help="print a fresh key for KEY_ENCRYPTION_KEYS")
    keys_commands.add_parser(
        "rotate",
        help="re-encrypt every stored Dentally key under the newest KEY_ENCRYPTION_KEYS key (safe to re-run, and "
        "while the bot runs); exit 0 done, 1 some keys could not be decrypted",
    )

    store = commands.add_parser("store", help="state store tools")
    store_commands = store.add_subparsers(dest="store_command", required=True, metavar="SUBCOMMAND")
    store_commands.add_parser(
        "migrate", help="move Redis data written by an older release to this release's key layout (safe to re-run)"
    )

    teams = commands.add_parser("teams", help="Microsoft Teams tools")
    teams_commands = teams.add_subparsers(dest="teams_command", required=True, metavar="SUBCOMMAND")
    package = teams_commands.add_parser("package", help="build the Teams app package (zip) to upload")
    package.add_argument("--source", help="folder with manifest.json and icons (default: teams/appPackage)")
    package.add_argument("--out", default="aldense-guide-teams.zip", help="zip to write")
    _add_clinic_data_commands(commands)
    return parser


def _add_clinic_data_commands(commands: argparse._SubParsersAction[QuietParser]) -> None:
    """``forget`` and ``export``: a clinic's stored data erased, or printed for an access request."""
    forget = commands.add_parser("forget", help="erase everything stored about a clinic (exit 1: nothing stored)")
    export = commands.add_parser("export", help="print what is stored about a clinic as JSON (never its key)")
    for command in (forget, export):
        command.add_argument("--channel", required=True, help="the clinic's shared channel id")
        command.add_argument("--platform", choices=("slack", "teams"), default="slack", help="default: slack")
    forget.add_argument("--tell-clinic", action="store_true", help="also tell the clinic's channel politely")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "guide":
            return _validate_guide(args.path)
        if args.command == "run":
            return _run(args)
        if args.command == "check-key":
            return asyncio.run(_check_key(args.region, args.verbose))
        if args.command == "dentally-calibrate":
            return asyncio.run(_calibrate(args.region))
        if args.command == "dentally-sandbox":
            asyncio.run(_dentally_sandbox(args.port, args.mode))
            return 0
        if args.command == "playground":
            return playground_command.run(args)
        if args.command == "keys" and args.keys_command == "rotate":
            return asyncio.run(_keys_rotate())
        if args.command == "keys":
            print(new_secret())
            return 0
        if args.command == "teams":
            return _teams_package(args.source, args.out)
        if args.command == "store":
            return asyncio.run(_store_migrate())
        if args.command in ("forget", "export"):
            return _clinic_data(args)
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
    guide = load_checked_guide(path)
    print(
        f"guide {guide.id} v{guide.version}: {guide.step_count} steps, "
        f"{sum(len(step.troubles) for step in guide.steps)} troubles (ids and jumps sound), "
        "every picture and alt text present, every rendered Slack and Teams message within that platform's limits — OK"
    )
    return 0


def _read_key(prompt: str) -> str:
    return getpass.getpass(prompt) if sys.stdin.isatty() else sys.stdin.readline()


async def _check_key(region: str, verbose: bool = False) -> int:
    settings = load_settings("check-key")
    configure_logging("WARNING")
    try:
        token = parse_token(_read_key("Dentally key (not shown): "))
    except TokenFormatError as exc:
        print(f"aldense-guide: {exc}", file=sys.stderr)
        return 1
    async with httpx.AsyncClient() as http:
        result = await scope_checker(settings.dentally, http).check(token, region)  # type: ignore[arg-type]
    print(format_check(result, verbose=verbose))
    return exit_code(result)


async def _calibrate(region: str) -> int:
    settings = load_settings("check-key")
    configure_logging("WARNING")
    tokens = []
    for which in ("User Read only", "the five scopes"):
        try:
            tokens.append(parse_token(_read_key(f"Dentally key with {which} (not shown): ")))
        except TokenFormatError as exc:
            print(f"aldense-guide: the key with {which}: {exc}", file=sys.stderr)
            return 1
    narrow, full = tokens
    async with httpx.AsyncClient() as http:
        clients = dentally_clients(settings.dentally, http)
        profile = await calibrate(clients, parse_region(region), narrow, full)
    print(format_profile(profile))
    return 0 if profile.as_expected else 2


def add_mode_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--mode`` (repeatable) for the Dentally sandbox's behaviours.

    Args:
        parser: The subcommand's parser.
    """
    parser.add_argument(
        "--mode",
        action="append",
        default=[],
        choices=sorted(MODES),
        help="switch on a Dentally behaviour the sources leave open (repeat for several)",
    )


async def _dentally_sandbox(port: int, modes: Sequence[str] = ()) -> None:
    configure_logging("INFO")
    sandbox = Sandbox(switches=switches_for(modes))
    async with serve(sandbox, port=port) as url:
        print(format_sample_keys())
        if modes:
            print(f"\nModes on: {', '.join(modes)}")
        print(f"\nDentally sandbox on {url} — point the bot at it with DENTALLY_API_URL={url}/{{region}}")
        print("Press Ctrl+C to stop.")
        await asyncio.Event().wait()


async def _store_migrate() -> int:
    from conversations.stores.redis_migration import migrate_v1
    from conversations.stores.redis_urls import connect

    url = load_settings("check-key").server.state_url
    configure_logging("WARNING")
    if url.startswith("sqlite:"):
        print("SQLite keeps every record at its address, which this release did not change: nothing to migrate.")
        return 0
    try:
        client, close = connect(url)
    except ValueError as exc:
        raise SettingsError(f"STATE_URL: {exc}") from None
    try:
        report = await migrate_v1(client)
    except redis.exceptions.RedisError as exc:
        # Never the URL: it may hold the password.
        print(
            f"aldense-guide: the store stopped answering ({type(exc).__name__}); what moved stays moved: run again",
            file=sys.stderr,
        )
        return 1
    finally:
        await close()
    if report.nothing_to_do:
        print("Redis holds no data of the older key layout (aldense:v1): nothing to migrate.")
    print("\n".join(report.lines()))
    if report.conflicts:
        print(
            "aldense-guide: records were left in v1: compare each with its v2 copy, remove the wrong one, run again",
            file=sys.stderr,
        )
        return 1
    return 0


def _clinic_data(args: argparse.Namespace) -> int:
    from bot import clinic_data

    if args.command == "forget":
        return asyncio.run(clinic_data.forget(args.channel, args.platform, args.tell_clinic))
    return asyncio.run(clinic_data.export(args.channel, args.platform))


async def _keys_rotate() -> int:
    from conversations.guide import load_guide
    from conversations.rotation import rotate_keys
    from conversations.service import OnboardingService
    from conversations.store import StoreUnavailable
    from conversations.stores import open_store

    settings = load_settings("check-key")
    configure_logging("WARNING")
    vault = key_vault(settings)
    if vault is None:
        raise SettingsError("KEY_ENCRYPTION_KEYS is required to rotate (the newest key first, then the older ones)")
    try:
        store = open_store(settings.server.state_url)
    except ValueError as exc:
        raise SettingsError(f"STATE_URL: {exc}") from None
    try:
        service = OnboardingService(store, load_guide(settings.server.guide_path or DEFAULT_GUIDE))
        report = await rotate_keys(service, vault)
    except StoreUnavailable:
        # Never the URL: it may hold the password.
        print("aldense-guide: the store stopped answering; what was rotated stays rotated: run again", file=sys.stderr)
        return 1
    finally:
        await store.aclose()
    print("\n".join(report.lines()))
    if report.undecryptable:
        print(
            "aldense-guide: some stored keys cannot be decrypted with KEY_ENCRYPTION_KEYS: put back the encryption "
            "key they were stored under (after the newest) and run again, or ask those clinics for a new key",
            file=sys.stderr,
        )
        return 1
    return 0


def _teams_package(source: str | None, out: str) -> int:
    from bot.teams.package import DEFAULT_SOURCE, PackageError, build, values_for

    settings = load_settings("check-key")
    teams = settings.teams
    if teams.client_id is None or teams.manifest_id is None:
        raise SettingsError("TEAMS_CLIENT_ID is required to build the Teams app package")
    if settings.server.public_base_url is None:
        raise SettingsError("PUBLIC_BASE_URL (the bot's public https address) is required for the Teams package")
    values = values_for(teams.client_id, teams.manifest_id, str(settings.server.public_base_url))
    try:
        manifest = build(Path(source) if source else DEFAULT_SOURCE, Path(out), values)
    except PackageError as exc:
        print(f"aldense-guide: the Teams package was not built:\n{exc}", file=sys.stderr)
        return 1
    print(f"wrote {out}: Teams app {manifest['id']} v{manifest['version']} for bot {teams.client_id}")
    return 0


def _run(args: argparse.Namespace) -> int:
    mode: Mode = "teams-only" if args.teams_only else ("socket" if args.socket else "http")
    settings = load_settings(mode)
    configure_logging(settings.server.log_level, settings.server.log_format)
    if not settings.server.public_base_url:
        logger.warning("PUBLIC_BASE_URL is not set: steps are posted without pictures")
    port = args.port if args.port is not None else settings.server.port
    asyncio.run(_serve(settings, args.host, port, args.socket, args.teams_only))
    return 0


async def _serve(settings: Settings, host: str, port: int, socket_mode: bool, teams_only: bool = False) -> None:
    async with open_runtime(settings, socket_mode=socket_mode, teams_only=teams_only) as runtime:
        if settings.slack.bot_token is not None:
            try:
                await runtime.slack.workspace.ensure()
            except SlackApiError as exc:
                raise SettingsError(f"SLACK_BOT_TOKEN was refused by Slack ({slack_error(exc)})") from None
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise SettingsError(f"SLACK_API_URL cannot be reached ({type(exc).__name__})") from None
            logger.info("connected to Slack team %s; state in %s", runtime.slack.workspace.team_id, runtime.store)
        if runtime.teams is not None:
            logger.info(
                "Microsoft Teams on http://%s:%d/api/messages (tenant %s)", host, port, settings.teams.tenant_id
            )
        server = uvicorn.Server(server_config(runtime.http_app, host, port, http_limits(settings)))
        # Everything built so far lives as long as the process: keep it out of the collector's full passes, which
        # otherwise stop the event loop for ~60 ms every so often (benchmarks/step_turnaround's p99 tail).
        gc.collect()
        gc.freeze()
        interval = settings.follow_up.due_work_interval_seconds
        due_work = asyncio.create_task(runtime.scheduler.run_forever(interval), name="due work")
        if socket_mode:
            from bot.slack.socket import socket_mode as connected

            assert settings.slack.app_token is not None
            assert runtime.bolt is not None, "Socket Mode needs SLACK_BOT_TOKEN (checked by the settings)"
            async with connected(runtime.bolt, settings.slack.app_token.get_secret_value()):
                logger.info("Socket Mode connected; health and pictures on http://%s:%d", host, port)
                await server.serve()
        else:
            if not teams_only:
                logger.info("listening on http://%s:%d/slack/events", host, port)
            await server.serve()
        due_work.cancel()


if __name__ == "__main__":
    sys.exit(main())
