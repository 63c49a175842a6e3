"""The ``bussola`` command: serve the app, migrate, and the admin subcommands of each package."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import sys
from collections.abc import Sequence

from bot.settings import Settings

# Packages that add their own subcommands through ``add_subcommands(subparsers)``.
SUBCOMMAND_MODULES = ("catalog_client.cli", "handoff.cli", "handoff.volunteers_cli", "bot.retention")


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from bot.app import create_app
    from bot.logs import configure_logging

    settings = Settings()
    configure_logging(settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=args.host or settings.host,
        port=args.port or settings.port,
        log_config=None,
        proxy_headers=True,
    )
    return 0


def _migrate(_args: argparse.Namespace) -> int:
    from bot.db import make_engine
    from bot.migrate import migrate

    async def run() -> None:
        engine = make_engine(Settings().database_url)
        await migrate(engine)
        await engine.dispose()

    asyncio.run(run())
    print("Database aggiornato.")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bussola", description="Bussola: front door to social services")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the web app (web chat, console, APIs, Telegram)")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.set_defaults(func=_serve)
    sub.add_parser("migrate", help="upgrade the database schema").set_defaults(func=_migrate)
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).add_subcommands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING)
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
